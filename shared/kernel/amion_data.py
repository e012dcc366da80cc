"""What a scrape batch stores for each month (`scrape_batches.months`), read by the scraper that writes it and
by coverage, which decides from it which schedule dates have Amion data. Pure.

Stored form: `{"2026-03": {"outcome": "OK"}, "2026-04": {"outcome": "EMPTY", "reason": "Amion answered \\"No
file\\""}}`. Rows written before reasons were kept hold the bare outcome (`{"2026-04": "EMPTY"}`); they read
with the outcome's general reason. A reason never holds the Amion password (it is written from findings,
whose texts never do).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast

MonthOutcome = Literal["OK", "EMPTY", "ERROR"]

NO_FILE = 'Amion answered "No file"'
NO_ASSIGNMENTS = "Amion listed no assignments"
_GENERAL_REASON: dict[MonthOutcome, str] = {"EMPTY": "Amion had no assignments", "ERROR": "Amion could not be read"}


def month_key(day: date) -> str:
    """`date(2026, 3, 9)` -> `"2026-03"`: how months are keyed in stored outcomes and coverage summaries."""
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class MonthResult:
    outcome: MonthOutcome
    reason: str | None = None  # why a month that is not OK has no data

    @property
    def has_data(self) -> bool:
        return self.outcome == "OK"

    def to_json(self) -> dict[str, str]:
        return {"outcome": self.outcome} | ({"reason": self.reason} if self.reason else {})

    @classmethod
    def from_json(cls, stored: str | Mapping[str, Any]) -> "MonthResult":
        if isinstance(stored, str):
            outcome = cast(MonthOutcome, stored)
            return cls(outcome, _GENERAL_REASON.get(outcome))
        outcome = cast(MonthOutcome, stored["outcome"])
        return cls(outcome, stored.get("reason") or _GENERAL_REASON.get(outcome))
