"""Coverage rules: who reads each worklist of each window on each schedule date, and whether that is right.

Pure functions, no I/O. The rules are those of `docs/domain-rules.md`; the choices the domain text
leaves open are written down next to the code that makes them:

- Several people on one role: the specialty variant is chosen per *role*, not per person. For category ON,
  the Body sheets apply when anybody on `ON1` or `ON2` is `BODY_ONLY`. The role that becomes `ON Body` is
  `ON1` if somebody on `ON1` is `BODY_ONLY`, otherwise `ON2`; the other one becomes `ON Neuro`. Every person
  keeps the effective role of the role they were assigned to (so two people on `ON1` are both `ON Body`,
  and a person assigned to both `ON1` and `ON2` holds both effective roles). Same for Mid with `MidC`/`MidL`.
- A sheet with a variant is matched against effective roles. A sheet without a variant
  (`Mid Weekend 10pm-Midnight`, `Mid  12am-1am`) is written for the roles as Amion names them, so its marks
  match the role as written, and also the effective role (a variant-less sheet naming `Mid Body` still finds
  the body reader). Otherwise such a sheet marking `MidC` would be uncovered on every Body night.
- A worklist's specialty is taken from the Body sheets: marked under `ON Body`/`Mid Body` it is `BODY`,
  under `ON Neuro`/`Mid Neuro` it is `NEURO` (`Mid3` marks say nothing). When the Body sheets disagree the
  majority of their marks decides and the disagreement is reported (`WORKLIST_SPECIALTY_CONFLICT`); a tie,
  or a worklist in no Body sheet, falls back to the label (Neuro or Bone as a word: `NEURO`, else `BODY`).
  The per-worklist table in settings overrides all of this.
- An assignment whose person is not in `people` is ignored and reported once (`UNKNOWN_PERSON`).
- Critical gaps: every mandatory `UNCOVERED` cell (severity ERROR) and every `SPECIALTY_MISMATCH` (ERROR
  when the cell is mandatory, else WARNING). Template cells are always mandatory.
- Coverage is per schedule date: a DST night has one cell per worklist of each applying window like any
  other night; only the real length of its shift instances differs.
- Unknown is not a gap: a date without Amion data (`no_data`, decided by the store from the scrape batches)
  gives `NO_DATA` cells, never `UNCOVERED` or `SPECIALTY_MISMATCH`, and no critical gap. Manual assignments
  still count there: a cell they make `COVERED` (`FULL`) stays so, every other cell of the date is `NO_DATA`.
  `MISSING_MIDC` is not checked on such a date. The coverage ratio is over the known cells (not `NO_DATA`);
  0.0 when no cell is known, 1.0 when there are no cells at all.
- `DOUBLE_BOOKED` is judged per schedule date, on instants: an assignment's hours are the ones Amion gives
  it (`starts_at`/`ends_at`). A manual assignment, or one Amion gives no hours, takes its role's template
  hours that date: every window of that date's day type (or of no day type) naming the role, whatever its
  variant, as instants in the group's zone (a window starting before noon is in the early hours of the next
  day). A person's two roles overlap when any of their hours overlap; touching ends do not. A role without
  Amion hours and named by no window (`DAY`) overlaps nothing.
- `REST_VIOLATION` uses the same hours, across schedule dates (`shared/kernel/rest.py`).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from itertools import combinations
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from shared.kernel.amion_data import month_key
from shared.kernel.findings import (
    DOUBLE_BOOKED,
    DUPLICATE_ASSIGNMENT,
    MISSING_MIDC,
    UNKNOWN_PERSON,
    WORKLIST_SPECIALTY_CONFLICT,
    Finding,
    Severity,
)
from shared.kernel.rest import DEFAULT_REST, Shift, rest_violations
from shared.kernel.roles import MID_BODY, MID_C, MID_L, MID_NEURO, ON1, ON2, ON_BODY, ON_NEURO
from shared.kernel.schedule_days import DayType, dates_between, day_type
from shared.kernel.states import AssignmentSource, CellStatus, Specialty, WorklistSpecialty
from shared.kernel.template_model import Category, Variant, Window

TEMPLATE_STATUSES = (CellStatus.COVERED, CellStatus.UNCOVERED, CellStatus.SPECIALTY_MISMATCH, CellStatus.NO_DATA)
FLAT_STATUSES = (
    CellStatus.FULL,
    CellStatus.PARTIAL,
    CellStatus.UNCOVERED,
    CellStatus.SPECIALTY_MISMATCH,
    CellStatus.NO_DATA,
)
_COVERING = frozenset({CellStatus.COVERED, CellStatus.FULL})
_NO_DATES: Mapping[date, str] = MappingProxyType({})


def gap_severity(status: CellStatus, mandatory: bool) -> Severity | None:
    """The severity of a critical gap, or None when the cell is not one (`NO_DATA` never is)."""
    if status is CellStatus.SPECIALTY_MISMATCH:
        return Severity.ERROR if mandatory else Severity.WARNING
    if status is CellStatus.UNCOVERED and mandatory:
        return Severity.ERROR
    return None


def no_data_status(status: CellStatus) -> CellStatus:
    """A cell's status on a date without Amion data: covered (by manual assignments) stays, else NO_DATA."""
    return status if status in _COVERING else CellStatus.NO_DATA


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    specialty: Specialty


@dataclass(frozen=True)
class Assignment:
    schedule_date: date
    role: str  # canonical role as written (from Amion or by hand), never the effective role
    person_id: int
    source: str = AssignmentSource.AMION
    starts_at: datetime | None = None  # the hours Amion gives it; None: the template window's hours apply
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    schedule_date: date
    window: str  # sheet name
    worklist: str
    hospital: str
    role: str  # the responsible role as marked in the applying sheet
    people: tuple[int, ...]  # responsible people, in assignment order, without repeats
    status: CellStatus
    mandatory: bool = True


class Gap(NamedTuple):
    schedule_date: date
    window: str
    worklist: str
    role: str
    status: CellStatus
    severity: Severity


StatusCounts = dict[CellStatus, int]


class UnknownMonth(NamedTuple):
    """The dates of one month (within the period) without Amion data, why, and how many cells are NO_DATA."""

    month: str  # "2026-11"
    reason: str
    start: date
    end: date
    cells: int


def unknown_months(no_data_cells: Mapping[date, int], no_data: Mapping[date, str]) -> tuple[UnknownMonth, ...]:
    """`no_data` grouped by month and reason, in date order; `no_data_cells`: the NO_DATA cells of each date."""
    groups: dict[tuple[str, str], list[date]] = {}
    for day in sorted(no_data):
        groups.setdefault((month_key(day), no_data[day]), []).append(day)
    return tuple(
        UnknownMonth(month, reason, days[0], days[-1], sum(no_data_cells.get(d, 0) for d in days))
        for (month, reason), days in groups.items()
    )


@dataclass
class Tally:
    """What a summary is made of: the cells counted by (hospital, role, status), the critical gaps in cell
    order, and the NO_DATA cells of each date. Tallies of disjoint cells add up."""

    counts: Counter[tuple[str, str, CellStatus]] = field(default_factory=Counter)
    gaps: list[Gap] = field(default_factory=list)
    no_data_cells: Counter[date] = field(default_factory=Counter)

    @classmethod
    def of(cls, cells: Sequence[Cell]) -> "Tally":
        return cls(
            Counter((c.hospital, c.role, c.status) for c in cells),
            [
                Gap(c.schedule_date, c.window, c.worklist, c.role, c.status, severity)
                for c in cells
                if c.status not in _COVERING and (severity := gap_severity(c.status, c.mandatory)) is not None
            ],
            Counter(c.schedule_date for c in cells if c.status is CellStatus.NO_DATA),
        )

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.counts + other.counts, [*self.gaps, *other.gaps], self.no_data_cells + other.no_data_cells)


@dataclass(frozen=True)
class Summary:
    total: int
    by_status: StatusCounts  # every status of the layout, zeros included
    coverage_ratio: float  # COVERED (or FULL) / known cells; 0.0 when none is known, 1.0 when there are no cells
    by_hospital: dict[str, StatusCounts]
    by_role: dict[str, StatusCounts]
    critical_gaps: tuple[Gap, ...]  # by date, then in cell order
    unknown: tuple[UnknownMonth, ...] = ()  # the months with dates without Amion data

    @property
    def unknown_cells(self) -> int:
        return self.by_status.get(CellStatus.NO_DATA, 0)

    @property
    def known_cells(self) -> int:
        return self.total - self.unknown_cells

    @classmethod
    def of(
        cls,
        cells: Sequence[Cell],
        statuses: Sequence[CellStatus] = TEMPLATE_STATUSES,
        no_data: Mapping[date, str] = _NO_DATES,
    ) -> "Summary":
        return cls.of_tally(Tally.of(cells), statuses, no_data)

    @classmethod
    def of_tally(
        cls, tally: Tally, statuses: Sequence[CellStatus] = TEMPLATE_STATUSES, no_data: Mapping[date, str] = _NO_DATES
    ) -> "Summary":
        def zero() -> StatusCounts:
            return dict.fromkeys(statuses, 0)

        def grouped(counts: Counter[tuple[str, CellStatus]]) -> dict[str, StatusCounts]:
            result: dict[str, StatusCounts] = defaultdict(zero)
            for (name, status), n in counts.items():
                result[name][status] = n
            return dict(result)

        by_status: StatusCounts = zero()
        by_hospital: Counter[tuple[str, CellStatus]] = Counter()
        by_role: Counter[tuple[str, CellStatus]] = Counter()
        for (hospital, role, status), n in tally.counts.items():
            by_status[status] = by_status.get(status, 0) + n
            by_hospital[(hospital, status)] += n
            by_role[(role, status)] += n
        gaps = sorted(tally.gaps, key=lambda gap: gap.schedule_date)
        total = sum(tally.counts.values())
        known = total - by_status.get(CellStatus.NO_DATA, 0)
        covered = sum(n for status, n in by_status.items() if status in _COVERING)
        return cls(
            total=total,
            by_status=by_status,
            coverage_ratio=covered / known if known else 0.0 if total else 1.0,
            by_hospital=grouped(by_hospital),
            by_role=grouped(by_role),
            critical_gaps=tuple(gaps),
            unknown=unknown_months(tally.no_data_cells, no_data),
        )

    def gaps_by_date(self) -> dict[date, list[Gap]]:
        grouped: dict[date, list[Gap]] = {}
        for gap in self.critical_gaps:
            grouped.setdefault(gap.schedule_date, []).append(gap)
        return grouped

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: plain str keys, ISO dates; the critical gaps grouped by date."""

        def counts(c: StatusCounts) -> dict[str, int]:
            return {str(status): n for status, n in c.items()}

        return {
            "total": self.total,
            "by_status": counts(self.by_status),
            "coverage_ratio": self.coverage_ratio,
            "known_cells": self.known_cells,
            "unknown_cells": self.unknown_cells,
            "unknown_months": [
                u._asdict() | {"start": u.start.isoformat(), "end": u.end.isoformat()} for u in self.unknown
            ],
            "by_hospital": {hospital: counts(c) for hospital, c in self.by_hospital.items()},
            "by_role": {role: counts(c) for role, c in self.by_role.items()},
            "critical_gaps_total": len(self.critical_gaps),
            "critical_gaps_by_date": {
                day.isoformat(): [
                    {
                        "window": g.window,
                        "worklist": g.worklist,
                        "role": g.role,
                        "status": str(g.status),
                        "severity": str(g.severity),
                    }
                    for g in gaps
                ]
                for day, gaps in self.gaps_by_date().items()
            },
        }


@dataclass(frozen=True)
class CoverageResult:
    cells: tuple[Cell, ...]
    findings: tuple[Finding, ...]
    summary: Summary


_NO_OVERRIDES: Mapping[str, WorklistSpecialty] = MappingProxyType({})
_NEURO_WORDS = re.compile(r"\b(?:neuro|bone)\b", re.IGNORECASE)


def worklist_specialty(worklist: str, overrides: Mapping[str, WorklistSpecialty] = _NO_OVERRIDES) -> WorklistSpecialty:
    """NEURO when the label names Neuro or Bone as a word (any case), else BODY; `overrides` wins.

    Override keys are matched on the trimmed label.
    """
    label = worklist.strip()
    if label in overrides:
        return overrides[label]
    return WorklistSpecialty.NEURO if _NEURO_WORDS.search(label) else WorklistSpecialty.BODY


_SPECIALTY_OF_ROLE = {
    ON_BODY: WorklistSpecialty.BODY,
    MID_BODY: WorklistSpecialty.BODY,
    ON_NEURO: WorklistSpecialty.NEURO,
    MID_NEURO: WorklistSpecialty.NEURO,
}


def worklist_specialties(
    windows: Sequence[Window], overrides: Mapping[str, WorklistSpecialty] = _NO_OVERRIDES
) -> tuple[dict[str, WorklistSpecialty], list[Finding]]:
    """The specialty of every worklist of `windows`: settings override, else the Body sheets' marks (majority),
    else the label. Body sheets that disagree are reported once per worklist."""
    sheets_of: dict[str, dict[WorklistSpecialty, list[str]]] = defaultdict(lambda: defaultdict(list))
    for window in windows:
        if window.variant is Variant.BODY:
            for resp in window.responsibilities:
                if resp.role in _SPECIALTY_OF_ROLE:
                    sheets_of[resp.worklist][_SPECIALTY_OF_ROLE[resp.role]].append(window.sheet)
    specialties: dict[str, WorklistSpecialty] = {}
    findings: list[Finding] = []
    for worklist in dict.fromkeys(r.worklist for w in windows for r in w.responsibilities):
        marks = sheets_of.get(worklist, {})
        body, neuro = marks.get(WorklistSpecialty.BODY, []), marks.get(WorklistSpecialty.NEURO, [])
        if worklist.strip() in overrides or len(body) == len(neuro):
            specialties[worklist] = worklist_specialty(worklist, overrides)
        else:
            specialties[worklist] = WorklistSpecialty.BODY if len(body) > len(neuro) else WorklistSpecialty.NEURO
        if body and neuro:
            findings.append(
                WORKLIST_SPECIALTY_CONFLICT(
                    f"The Body sheets disagree on {worklist}: a body reader in {', '.join(body)}, a neuro "
                    f"reader in {', '.join(neuro)}; it is treated as {specialties[worklist]}.",
                    worklist,
                )
            )
    return specialties, findings


def can_read(specialty: Specialty, worklist: WorklistSpecialty) -> bool:
    if specialty is Specialty.BODY_ONLY:
        return worklist is WorklistSpecialty.BODY
    if specialty is Specialty.NEURO_ONLY:
        return worklist is WorklistSpecialty.NEURO
    return True


# category -> (first role, second role, body role, neuro role)
_VARIANT_ROLES: dict[Category, tuple[str, str, str, str]] = {
    Category.ON: (ON1, ON2, ON_BODY, ON_NEURO),
    Category.MID: (MID_C, MID_L, MID_BODY, MID_NEURO),
}


def written_roles(assignments: Sequence[Assignment]) -> dict[str, tuple[int, ...]]:
    """Role as written -> its people, in assignment order, each once."""
    roles: dict[str, dict[int, None]] = {}
    for a in assignments:
        roles.setdefault(a.role, {})[a.person_id] = None
    return {role: tuple(ids) for role, ids in roles.items()}


def effective_roles(
    category: Category, assignments_that_day: Sequence[Assignment], people: Mapping[int, Person]
) -> tuple[Variant, dict[str, tuple[int, ...]]]:
    """The specialty variant of `category` for one schedule date, and effective role -> people.

    Neuro (nobody `BODY_ONLY` on the category's two roles): every role as written. Body: the role holding a
    `BODY_ONLY` person (the first role if both do) becomes the body role, the other the neuro role; all
    other roles (`Mid3`, and the other category's roles) stay as written. See the module doc for several
    people on one role.
    """
    first, second, body_role, neuro_role = _VARIANT_ROLES[category]
    written = written_roles(assignments_that_day)

    def has_body_only(role: str) -> bool:
        return any(
            (p := people.get(pid)) is not None and p.specialty is Specialty.BODY_ONLY for pid in written.get(role, ())
        )

    if has_body_only(first):
        renames = {first: body_role, second: neuro_role}
    elif has_body_only(second):
        renames = {second: body_role, first: neuro_role}
    else:
        return Variant.NEURO, written

    effective: dict[str, dict[int, None]] = {}
    for role, ids in written.items():
        target = effective.setdefault(renames.get(role, role), {})
        target.update(dict.fromkeys(ids))
    return Variant.BODY, {role: tuple(ids) for role, ids in effective.items()}


def _status(responsible: Sequence[int], worklist: WorklistSpecialty, people: Mapping[int, Person]) -> CellStatus:
    if not responsible:
        return CellStatus.UNCOVERED
    if any(can_read(people[pid].specialty, worklist) for pid in responsible):
        return CellStatus.COVERED
    return CellStatus.SPECIALTY_MISMATCH


Interval = tuple[datetime, datetime]  # tz-aware start and end; half-open: touching intervals do not overlap

DEFAULT_TZ = ZoneInfo("America/New_York")  # the default of the `time_zone` setting


def window_interval(window: Window, day: date, tz: ZoneInfo) -> Interval:
    """The window's hours on schedule date `day` as instants in `tz`: a window starting before noon is in the
    early hours of the next day; it ends the day after its start when its end is not after its start. Wall
    times that DST skips or repeats are read with `fold=0`: a skipped time with the offset before the change
    (02:30 is 03:30 on the new clock), a repeated one as its first occurrence."""
    start_day = day + timedelta(days=1) if window.starts_next_day else day
    end_day = start_day + timedelta(days=1) if window.end <= window.start else start_day
    return datetime.combine(start_day, window.start, tzinfo=tz), datetime.combine(end_day, window.end, tzinfo=tz)


def _role_windows(windows: Sequence[Window]) -> dict[DayType, dict[str, list[Window]]]:
    """Day type -> role -> the windows naming the role that apply to that day type."""
    found: dict[DayType, dict[str, list[Window]]] = {dt: defaultdict(list) for dt in DayType}
    for window in windows:
        for dt in DayType:
            if window.day_type in (None, dt):
                for role in window.roles:
                    found[dt][role].append(window)
    return found


def _role_hours(role_windows: Mapping[str, Sequence[Window]], day: date, tz: ZoneInfo) -> dict[str, list[Interval]]:
    """Role -> its template hours on `day`, as instants."""
    return {role: [window_interval(w, day, tz) for w in ws] for role, ws in role_windows.items()}


def template_role_hours(
    windows: Sequence[Window], holidays: Collection[date], tz: ZoneInfo
) -> Callable[[date, str], tuple[Interval, ...]]:
    """(schedule date, role as written) -> the role's hours that date as `calculate` gives an assignment
    without Amion's hours: the windows naming it that apply to the date, merged."""
    role_windows = _role_windows(windows)

    @cache
    def hours(day: date, role: str) -> tuple[Interval, ...]:
        named = role_windows[day_type(day, holidays)].get(role, ())
        return tuple(merged_intervals([window_interval(w, day, tz) for w in named]))

    return hours


def merged_intervals(intervals: Sequence[Interval]) -> list[Interval]:
    """The same instants as few intervals: sorted, overlapping or touching ones joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


def _hours(a: Assignment, role_hours: Mapping[str, Sequence[Interval]]) -> tuple[list[Interval], str]:
    """The assignment's hours and where they come from: Amion's, else its role's template hours that day."""
    if a.starts_at is not None and a.ends_at is not None:
        return [(a.starts_at, a.ends_at)], "Amion"
    return merged_intervals(role_hours.get(a.role, ())), "template"


def shift_of(a: Assignment, role_hours: Mapping[str, Sequence[Interval]]) -> Shift | None:
    """The assignment with its hours (as `DOUBLE_BOOKED` takes them); None when it has none."""
    hours, source = _hours(a, role_hours)
    if not hours:
        return None
    return Shift(a.person_id, a.role, a.schedule_date, tuple(hours), source)


def shifts_of(assignments: Sequence[Assignment], role_hours: Mapping[str, Sequence[Interval]]) -> list[Shift]:
    return [shift for a in assignments if (shift := shift_of(a, role_hours)) is not None]


def booked_shifts(
    windows: Sequence[Window], assignments: Sequence[Assignment], holidays: Collection[date], tz: ZoneInfo
) -> list[Shift]:
    """Every assignment with its hours, as `calculate` takes them (template hours by each date's day type)."""
    role_windows = _role_windows(windows)
    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_date[a.schedule_date].append(a)
    return [
        shift
        for day, todays in by_date.items()
        for shift in shifts_of(todays, _role_hours(role_windows[day_type(day, holidays)], day, tz))
    ]


def _hours_text(intervals: Sequence[Interval], tz: ZoneInfo) -> str:
    return ", ".join(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}" for s, e in intervals)


def day_checks(
    day: date,
    assignments: Sequence[Assignment],
    people: Mapping[int, Person],
    kind: DayType,
    role_hours: Mapping[str, Sequence[Interval]],
    check_midc: bool,
    tz: ZoneInfo,
) -> list[Finding]:
    """DUPLICATE_ASSIGNMENT, MISSING_MIDC (weekdays, when `check_midc`) and DOUBLE_BOOKED for one date.

    `role_hours`: role -> its template (or flat shift) hours that day, tz-aware; they stand in for the hours
    of an assignment Amion gives none. `tz` is the zone hours are written in, in the findings.
    """
    where = day.isoformat()
    findings: list[Finding] = []
    for (role, pid), n in Counter((a.role, a.person_id) for a in assignments).items():
        if n > 1:
            findings.append(
                DUPLICATE_ASSIGNMENT(f"{people[pid].name} is assigned {n} times to {role} on {where}.", where)
            )
    if check_midc and kind is DayType.WEEKDAY and not any(a.role == MID_C for a in assignments):
        findings.append(MISSING_MIDC(f"Nobody is assigned to {MID_C} on {where}, a weekday.", where))
    held: dict[int, list[Assignment]] = defaultdict(list)
    for a in assignments:
        held[a.person_id].append(a)
    for pid, theirs in held.items():
        reported: set[tuple[str, str]] = set()
        for a, b in combinations(sorted(theirs, key=lambda x: x.role), 2):
            if a.role == b.role or (a.role, b.role) in reported:
                continue
            (hours_a, from_a), (hours_b, from_b) = _hours(a, role_hours), _hours(b, role_hours)
            if _overlap(hours_a, hours_b):
                reported.add((a.role, b.role))
                findings.append(
                    DOUBLE_BOOKED(
                        f"{people[pid].name} has overlapping roles {a.role} {_hours_text(hours_a, tz)} ({from_a})"
                        f" and {b.role} {_hours_text(hours_b, tz)} ({from_b}) on {where}.",
                        where,
                    )
                )
    return findings


def assignments_by_date(
    assignments: Sequence[Assignment], people: Mapping[int, Person], start: date, end: date
) -> tuple[dict[date, list[Assignment]], list[Finding]]:
    """The assignments of known people from `start` to `end`, by date; unknown people reported once."""
    findings: list[Finding] = []
    unknown = sorted({a.person_id for a in assignments if a.person_id not in people})
    if unknown:
        findings.append(
            UNKNOWN_PERSON(f"Assignments to unknown people are ignored: ids {', '.join(map(str, unknown))}.")
        )
    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in assignments:
        if start <= a.schedule_date <= end and a.person_id in people:
            by_date[a.schedule_date].append(a)
    return by_date, findings


def calculate(
    windows: Sequence[Window],
    start: date,
    end: date,
    assignments: Sequence[Assignment],
    people: Mapping[int, Person],
    holidays: Collection[date] = (),
    specialty_overrides: Mapping[str, WorklistSpecialty] = _NO_OVERRIDES,
    tz: ZoneInfo = DEFAULT_TZ,
    no_data: Mapping[date, str] = _NO_DATES,
    rest: timedelta = DEFAULT_REST,
    only: Collection[date] | None = None,
) -> CoverageResult:
    """Every (date, applying window, worklist) from `start` to `end` (both included) with its status.

    `no_data`: the dates without Amion data, with why. `rest`: the rest period after a shift ending in the
    morning. Cells come by date, then in template window order,
    then in sheet row order. `only`: the cells of those dates alone (the findings are still the period's).
    """
    no_data = {day: why for day, why in no_data.items() if start <= day <= end}
    by_date, findings = assignments_by_date(assignments, people, start, end)
    role_windows = _role_windows(windows)
    check_midc = any(w.category is Category.MID for w in windows)
    specialty_of, specialty_findings = worklist_specialties(windows, specialty_overrides)
    findings.extend(specialty_findings)
    cells: list[Cell] = []
    marks = [
        (window, [(r.worklist, r.hospital, r.role, specialty_of[r.worklist]) for r in window.responsibilities])
        for window in windows
    ]
    status_of: dict[tuple[tuple[int, ...], WorklistSpecialty], CellStatus] = {}
    shifts: list[Shift] = []

    def day_cells(day: date, todays: Sequence[Assignment], kind: DayType, unknown: bool) -> None:
        written = written_roles(todays)
        effective = {category: effective_roles(category, todays, people) for category in Category}
        for window, responsibilities in marks:
            variant, roles = effective[window.category]
            if window.day_type not in (None, kind) or window.variant not in (None, variant):
                continue
            for worklist, hospital, role, specialty in responsibilities:
                responsible = roles.get(role, ())
                if window.variant is None:
                    responsible = tuple(dict.fromkeys(written.get(role, ()) + responsible))
                status = status_of.get((responsible, specialty))
                if status is None:
                    status = status_of[(responsible, specialty)] = _status(responsible, specialty, people)
                if unknown:
                    status = no_data_status(status)
                cells.append(Cell(day, window.sheet, worklist, hospital, role, responsible, status))

    for day in dates_between(start, end):
        todays = by_date.get(day, [])
        kind = day_type(day, holidays)
        unknown = day in no_data
        if only is None or day in only:
            day_cells(day, todays, kind, unknown)
        hours = _role_hours(role_windows[kind], day, tz)
        findings.extend(day_checks(day, todays, people, kind, hours, check_midc and not unknown, tz))
        shifts.extend(shifts_of(todays, hours))
    findings.extend(rest_violations(shifts, {pid: p.name for pid, p in people.items()}, rest, tz))

    summary = Summary.of(cells, no_data=no_data)
    return CoverageResult(cells=tuple(cells), findings=tuple(findings), summary=summary)


__all__ = [
    "FLAT_STATUSES",
    "TEMPLATE_STATUSES",
    "Assignment",
    "Cell",
    "CellStatus",
    "CoverageResult",
    "Gap",
    "Person",
    "Specialty",
    "Summary",
    "UnknownMonth",
    "WorklistSpecialty",
    "assignments_by_date",
    "booked_shifts",
    "calculate",
    "can_read",
    "day_checks",
    "effective_roles",
    "gap_severity",
    "no_data_status",
    "shift_of",
    "shifts_of",
    "window_interval",
    "worklist_specialties",
    "worklist_specialty",
    "written_roles",
]
