"""Coverage of the flat layout (one required position per row: date, shift type, hospital and study type).

Pure functions, no I/O. A flat shift instance is read by the people assigned to its role (the shift type)
on its schedule date. The choices the domain text leaves open:

- Only people who satisfy the shift's specialty constraint count (`BODY`: `BODY_ONLY` or `BOTH`; `NEURO`:
  `NEURO_ONLY` or `BOTH`; no constraint: anybody). Each person who does not is reported once per shift
  (`SPECIALTY_CONSTRAINT`, WARNING) and still listed among the cell's people.
- Status, by the number of distinct qualifying people against the desired coverage: `FULL` when it is
  reached, else `UNCOVERED` when nobody is assigned, else `SPECIALTY_MISMATCH` when people are assigned
  but none qualifies, else `PARTIAL`.
- Critical gaps as for the template layout: mandatory `UNCOVERED` (ERROR), `SPECIALTY_MISMATCH` (ERROR when
  mandatory, else WARNING). `PARTIAL` is counted, not a critical gap.
- A cell's worklist is "<hospital> <study type>"; its window is the shift type with its local hours,
  e.g. `ON1 22:00-08:00`. A DST night changes the hours' length, never the number of cells.
- `DOUBLE_BOOKED` compares instants: the hours Amion gives an assignment, else the start and end of its
  role's shifts that date (see `rules.day_checks`); `MISSING_MIDC` applies when the version has any Mid shift,
  except on dates without Amion data. `REST_VIOLATION` uses the same hours (`shared/kernel/rest.py`).
- A date without Amion data (`no_data`): a cell that manual assignments make `FULL` stays `FULL`, every
  other cell is `NO_DATA` (as in the template layout).
"""

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.kernel.coverage_rules import (
    FLAT_STATUSES,
    Assignment,
    Cell,
    CellStatus,
    CoverageResult,
    Interval,
    Person,
    Summary,
    WorklistSpecialty,
    assignments_by_date,
    can_read,
    day_checks,
    no_data_status,
    shifts_of,
    written_roles,
)
from shared.kernel.findings import SPECIALTY_CONSTRAINT
from shared.kernel.rest import DEFAULT_REST, Shift, rest_violations
from shared.kernel.roles import MID_3, MID_BODY, MID_C, MID_L, MID_NEURO
from shared.kernel.schedule_days import dates_between, day_type

_MID_ROLES = frozenset({MID_C, MID_L, MID_3, MID_BODY, MID_NEURO})


@dataclass(frozen=True)
class FlatShift:
    schedule_date: date
    role: str
    hospital: str
    study_type: str
    starts_at: datetime  # tz-aware
    ends_at: datetime  # tz-aware
    desired_coverage: int = 1
    mandatory: bool = True
    specialty_constraint: WorklistSpecialty | None = None

    @property
    def worklist(self) -> str:
        return f"{self.hospital} {self.study_type}".strip()

    def label(self, tz: ZoneInfo) -> str:
        return f"{self.role} {self.starts_at.astimezone(tz):%H:%M}-{self.ends_at.astimezone(tz):%H:%M}"


def flat_status(assigned: int, qualifying: int, desired: int) -> CellStatus:
    if qualifying >= desired:
        return CellStatus.FULL
    if not assigned:
        return CellStatus.UNCOVERED
    if not qualifying:
        return CellStatus.SPECIALTY_MISMATCH
    return CellStatus.PARTIAL


def calculate_flat(
    shifts: Sequence[FlatShift],
    start: date,
    end: date,
    assignments: Sequence[Assignment],
    people: Mapping[int, Person],
    tz: ZoneInfo,
    holidays: Collection[date] = (),
    no_data: Mapping[date, str] | None = None,
    rest: timedelta = DEFAULT_REST,
) -> CoverageResult:
    """One cell per flat shift instance from `start` to `end` (both included), by date then in input order.

    `no_data`: the dates without Amion data, with why. `rest`: the rest period after a shift ending in the
    morning."""
    no_data = {day: why for day, why in (no_data or {}).items() if start <= day <= end}
    by_date, findings = assignments_by_date(assignments, people, start, end)
    shifts_by_date: dict[date, list[FlatShift]] = defaultdict(list)
    for shift in shifts:
        if start <= shift.schedule_date <= end:
            shifts_by_date[shift.schedule_date].append(shift)
    check_midc = any(s.role in _MID_ROLES for s in shifts)
    cells: list[Cell] = []
    booked: list[Shift] = []

    for day in dates_between(start, end):
        todays = by_date.get(day, [])
        unknown = day in no_data
        written = written_roles(todays)
        role_hours: dict[str, list[Interval]] = defaultdict(list)
        for shift in shifts_by_date.get(day, ()):
            role_hours[shift.role].append((shift.starts_at, shift.ends_at))
            assigned = written.get(shift.role, ())
            qualifying = 0
            for pid in assigned:
                person = people[pid]
                constraint = shift.specialty_constraint
                if constraint is None or can_read(person.specialty, constraint):
                    qualifying += 1
                    continue
                findings.append(
                    SPECIALTY_CONSTRAINT(
                        f"{person.name} ({person.specialty}) is on {shift.role} on {day.isoformat()} but "
                        f"may not read {shift.worklist} ({constraint}); not counted.",
                        day.isoformat(),
                    )
                )
            status = flat_status(len(assigned), qualifying, shift.desired_coverage)
            cells.append(
                Cell(
                    schedule_date=day,
                    window=shift.label(tz),
                    worklist=shift.worklist,
                    hospital=shift.hospital,
                    role=shift.role,
                    people=assigned,
                    status=status if not unknown else no_data_status(status),
                    mandatory=shift.mandatory,
                )
            )
        findings.extend(
            day_checks(day, todays, people, day_type(day, holidays), role_hours, check_midc and not unknown, tz)
        )
        booked.extend(shifts_of(todays, role_hours))
    findings.extend(rest_violations(booked, {pid: p.name for pid, p in people.items()}, rest, tz))

    summary = Summary.of(cells, FLAT_STATUSES, no_data)
    return CoverageResult(cells=tuple(cells), findings=tuple(findings), summary=summary)
