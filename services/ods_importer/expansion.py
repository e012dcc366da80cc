"""Expansion of template windows over a period into dated shift instances with real start and end times."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.findings import Finding, Severity
from shared.schedule_days import dates_between, day_type
from shared.template_model import Window


@dataclass(frozen=True)
class ShiftInstance:
    schedule_date: date
    window: str  # sheet name
    role: str
    starts_at: datetime  # tz-aware
    ends_at: datetime  # tz-aware
    desired_coverage: int = 1
    mandatory: bool = True
    specialty_constraint: str | None = None


def expand(
    windows: Iterable[Window],
    start: date,
    end: date,
    tz: ZoneInfo,
    holidays: Collection[date] = (),
) -> list[ShiftInstance]:
    """One instance per (schedule date, applicable window, role); Body and Neuro variants both expanded."""
    windows = tuple(windows)
    instances: list[ShiftInstance] = []
    for schedule_date in dates_between(start, end):
        kind = day_type(schedule_date, holidays)
        for window in windows:
            if window.day_type is not None and window.day_type is not kind:
                continue
            starts_at, ends_at = window_times(window, schedule_date, tz)
            instances.extend(
                ShiftInstance(
                    schedule_date=schedule_date,
                    window=window.sheet,
                    role=role,
                    starts_at=starts_at,
                    ends_at=ends_at,
                )
                for role in window.roles
            )
    return instances


def window_times(window: Window, schedule_date: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local wall-clock start and end; on DST nights the real duration (compare in UTC) is 1 hour off."""
    start_day = schedule_date + timedelta(days=1) if window.starts_next_day else schedule_date
    end_day = start_day + timedelta(days=1) if window.end == time(0) or window.end < window.start else start_day
    return (
        datetime.combine(start_day, window.start, tzinfo=tz),
        datetime.combine(end_day, window.end, tzinfo=tz),
    )


def validate_period(start: date, end: date, max_days: int = 400) -> list[Finding]:
    if end < start:
        text = f"The period ends ({end.isoformat()}) before it starts ({start.isoformat()})."
    elif (end - start).days + 1 > max_days:
        text = f"The period {start.isoformat()} .. {end.isoformat()} is longer than {max_days} days."
    else:
        return []
    return [Finding(severity=Severity.ERROR, code="INVALID_DATE_RANGE", text=text)]
