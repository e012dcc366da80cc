"""Kinds of schedule day: weekend means Saturday or Sunday schedule dates plus configured holidays."""

from collections.abc import Collection, Iterator
from datetime import date, timedelta
from enum import StrEnum


class DayType(StrEnum):
    WEEKDAY = "WEEKDAY"
    WEEKEND = "WEEKEND"


def day_type(day: date, holidays: Collection[date] = ()) -> DayType:
    if day.weekday() >= 5 or day in holidays:
        return DayType.WEEKEND
    return DayType.WEEKDAY


def dates_between(start: date, end: date) -> Iterator[date]:
    """Every date from start to end, both included."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
