"""Role names: the canonical spelling of every shift position, and normalisation of the variants."""

import re

ON1 = "ON1"
ON2 = "ON2"
MID_C = "MidC"
MID_L = "MidL"
MID_3 = "Mid3"
MID_BODY = "Mid Body"
MID_NEURO = "Mid Neuro"
ON_BODY = "ON Body"
ON_NEURO = "ON Neuro"
DAY = "DAY"

CANONICAL_ROLES = (ON1, ON2, MID_C, MID_L, MID_3, MID_BODY, MID_NEURO, ON_BODY, ON_NEURO, DAY)

_BY_FOLDED = {re.sub(r"\s+", "", r).lower(): r for r in CANONICAL_ROLES}


def normalize_role(text: str) -> str | None:
    """`Mid 3`, `mid3`, ` MID3 ` -> `Mid3`; None when the text names no known role."""
    return _BY_FOLDED.get(re.sub(r"\s+", "", text).lower())
