"""The parsed coverage template: windows, and for every worklist of a window the one role that reads it."""

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from shared.kernel.schedule_days import DayType


class Category(StrEnum):
    MID = "Mid"
    ON = "ON"


class Variant(StrEnum):
    BODY = "Body"
    NEURO = "Neuro"


@dataclass(frozen=True)
class Responsibility:
    worklist: str  # trimmed label, e.g. "CPMC CT Neuro"
    role: str  # canonical role (shared.kernel.roles)

    @property
    def hospital(self) -> str:
        return self.worklist.split()[0]


@dataclass(frozen=True)
class Window:
    """One sheet of the template: a block of local wall-clock hours on a kind of day.

    Hours are relative to the schedule date: a window that starts before noon (`12am-1am`, `1 am - 8 am`)
    belongs to the early hours of the next calendar day; `end == time(0)` means midnight, the end of the day.
    """

    sheet: str
    category: Category
    day_type: DayType | None  # None: applies every day
    variant: Variant | None  # None: applies whoever is on
    start: time
    end: time
    responsibilities: tuple[Responsibility, ...]

    @property
    def starts_next_day(self) -> bool:
        return self.start < time(12)

    @property
    def crosses_midnight(self) -> bool:
        return not self.starts_next_day and (self.end == time(0) or self.end < self.start)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.role for r in self.responsibilities))
