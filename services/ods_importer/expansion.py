"""Expansion of template windows, or the flat layout's rows, over a period into dated shift instances with
real start and end times."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.ods_importer.flat import FlatRow
from shared.kernel.findings import INVALID_DATE_RANGE, NO_SHIFTS_IN_PERIOD, OUTSIDE_PERIOD, Finding
from shared.kernel.schedule_days import dates_between, day_type
from shared.kernel.template_model import Window


@dataclass(frozen=True)
class ShiftInstance:
    schedule_date: date
    window: str | None  # the template's sheet name; None for the flat layout
    role: str
    starts_at: datetime  # tz-aware
    ends_at: datetime  # tz-aware
    desired_coverage: int = 1
    mandatory: bool = True
    specialty_constraint: str | None = None  # BODY | NEURO | None
    hospital: str | None = None  # flat layout only
    study_type: str | None = None  # flat layout only


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


def expand_flat(
    shifts: Iterable[FlatRow], start: date, end: date, tz: ZoneInfo
) -> tuple[list[ShiftInstance], list[Finding]]:
    """The flat rows dated inside the period, with real start and end; rows outside it are counted in a WARNING."""
    instances: list[ShiftInstance] = []
    outside = 0
    for shift in shifts:
        if not start <= shift.schedule_date <= end:
            outside += 1
            continue
        starts_at = datetime.combine(shift.schedule_date, shift.start, tzinfo=tz)
        end_day = shift.schedule_date + timedelta(days=1) if shift.end <= shift.start else shift.schedule_date
        instances.append(
            ShiftInstance(
                schedule_date=shift.schedule_date,
                window=None,
                role=shift.role,
                starts_at=starts_at,
                ends_at=datetime.combine(end_day, shift.end, tzinfo=tz),
                desired_coverage=shift.desired_coverage,
                mandatory=shift.mandatory,
                specialty_constraint=shift.specialty_constraint,
                hospital=shift.hospital,
                study_type=shift.study_type,
            )
        )
    findings: list[Finding] = []
    period = f"{start.isoformat()} .. {end.isoformat()}"
    if outside:
        text = f"{outside} shift row(s) dated outside the requested period {period} were ignored."
        findings.append(OUTSIDE_PERIOD(text))
    if not instances:
        findings.append(NO_SHIFTS_IN_PERIOD(f"No shift row is dated in {period}."))
    return instances, findings


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
    return [INVALID_DATE_RANGE(text)]
