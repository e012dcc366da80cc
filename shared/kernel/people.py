"""People as more than one service sees them: a roster reference and how names are compared."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonRef:
    """A person of the roster (the `people` table, owned by amion_scraper) as matching needs them."""

    id: int
    name: str
    aliases: tuple[str, ...] = ()


def fold_name(text: str) -> str:
    """Case and spacing folded: `"Smith,  JOHN "` -> `"smith, john"`."""
    return " ".join(text.split()).casefold()
