"""Small drafting problems for the unit tests: roles with plain hours, a night rule written for the test."""

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.drafting.model import RoleDate
from shared.kernel.states import Specialty

TZ = ZoneInfo("America/New_York")
# role -> (start, end): an end not after the start is on the next day
HOURS = {
    "EVE": (time(17), time(22)),
    "ON1": (time(22), time(8)),
    "ON2": (time(22), time(8)),
    "ON": (time(22), time(8)),
}


def hours(day: date, role: str) -> tuple[tuple[datetime, datetime], ...]:
    start, end = HOURS[role]
    first = datetime.combine(day, start, tzinfo=TZ)
    last = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=TZ)
    return ((first, last),)


def role_dates(start: date, days: int, roles: Sequence[str]) -> tuple[RoleDate, ...]:
    return tuple(
        RoleDate(start + timedelta(days=i), role, hours(start + timedelta(days=i), role))
        for i in range(days)
        for role in roles
    )


def anybody(day: date, on: Mapping[str, Specialty | None]) -> bool:
    return True


def not_two_body_only(day: date, on: Mapping[str, Specialty | None]) -> bool:
    """A night where a BODY_ONLY reader may not hold ON2, and NEURO_ONLY may hold EVE only beside a BOTH on ON1."""
    if on.get("ON2") is Specialty.BODY_ONLY:
        return False
    return not (on.get("EVE") is Specialty.NEURO_ONLY and on.get("ON1") is not Specialty.BOTH)
