"""Coverage rules: who reads each worklist of each window on each schedule date, and whether that is right.

Pure functions, no I/O. The rules are those of `shared/domain.md` section 4; the choices the domain text
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
- An assignment whose person is not in `people` is ignored and reported once (`UNKNOWN_PERSON`).
- `DOUBLE_BOOKED`: a role's hours on a date are the hours of every template window of that date's day type
  (or of no day type) that names the role, whatever its variant; two roles overlap when any of their hours
  overlap (touching ends do not). Roles named by no window (`DAY`) never overlap anything.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import combinations
from types import MappingProxyType
from typing import Any, NamedTuple

from shared.findings import Finding, Severity
from shared.roles import MID_BODY, MID_C, MID_L, MID_NEURO, ON1, ON2, ON_BODY, ON_NEURO
from shared.schedule_days import DayType, dates_between, day_type
from shared.template_model import Category, Variant, Window


class Specialty(StrEnum):
    """What a person may read."""

    BODY_ONLY = "BODY_ONLY"
    NEURO_ONLY = "NEURO_ONLY"
    BOTH = "BOTH"


class WorklistSpecialty(StrEnum):
    BODY = "BODY"
    NEURO = "NEURO"


class CellStatus(StrEnum):
    COVERED = "COVERED"
    UNCOVERED = "UNCOVERED"
    SPECIALTY_MISMATCH = "SPECIALTY_MISMATCH"


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


@dataclass(frozen=True)
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


StatusCounts = dict[CellStatus, int]


def _zero_counts() -> StatusCounts:
    return dict.fromkeys(CellStatus, 0)


@dataclass(frozen=True)
class Summary:
    total: int
    by_status: StatusCounts  # every status, zeros included
    coverage_ratio: float  # covered / total; 1.0 when there are no cells
    by_hospital: dict[str, StatusCounts]
    by_role: dict[str, StatusCounts]
    critical_gaps: tuple[Gap, ...]  # mandatory UNCOVERED and every SPECIALTY_MISMATCH, by date

    @classmethod
    def of(cls, cells: Sequence[Cell]) -> "Summary":
        by_status = _zero_counts()
        by_hospital: dict[str, StatusCounts] = defaultdict(_zero_counts)
        by_role: dict[str, StatusCounts] = defaultdict(_zero_counts)
        for cell in cells:
            by_status[cell.status] += 1
            by_hospital[cell.hospital][cell.status] += 1
            by_role[cell.role][cell.status] += 1
        gaps = sorted(
            (
                Gap(c.schedule_date, c.window, c.worklist, c.role, c.status)
                for c in cells
                if c.status is CellStatus.SPECIALTY_MISMATCH or (c.status is CellStatus.UNCOVERED and c.mandatory)
            ),
            key=lambda gap: gap.schedule_date,
        )
        total = len(cells)
        return cls(
            total=total,
            by_status=by_status,
            coverage_ratio=by_status[CellStatus.COVERED] / total if total else 1.0,
            by_hospital=dict(by_hospital),
            by_role=dict(by_role),
            critical_gaps=tuple(gaps),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: plain str keys, ISO dates."""

        def counts(c: StatusCounts) -> dict[str, int]:
            return {str(status): n for status, n in c.items()}

        return {
            "total": self.total,
            "by_status": counts(self.by_status),
            "coverage_ratio": self.coverage_ratio,
            "by_hospital": {hospital: counts(c) for hospital, c in self.by_hospital.items()},
            "by_role": {role: counts(c) for role, c in self.by_role.items()},
            "critical_gaps": [
                {
                    "schedule_date": g.schedule_date.isoformat(),
                    "window": g.window,
                    "worklist": g.worklist,
                    "role": g.role,
                    "status": str(g.status),
                }
                for g in self.critical_gaps
            ],
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


def _written_roles(assignments: Sequence[Assignment]) -> dict[str, tuple[int, ...]]:
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
    written = _written_roles(assignments_that_day)

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


def _minutes(window: Window) -> tuple[int, int]:
    """The window's hours as minutes from the schedule date's midnight; the end is after the start."""
    day = 24 * 60
    offset = day if window.starts_next_day else 0
    start = window.start.hour * 60 + window.start.minute + offset
    end = window.end.hour * 60 + window.end.minute + offset
    if end <= start:
        end += day
    return start, end


def _role_hours(windows: Sequence[Window]) -> dict[DayType, dict[str, list[tuple[int, int]]]]:
    hours: dict[DayType, dict[str, list[tuple[int, int]]]] = {dt: defaultdict(list) for dt in DayType}
    for window in windows:
        span = _minutes(window)
        for dt in DayType:
            if window.day_type in (None, dt):
                for role in window.roles:
                    hours[dt][role].append(span)
    return hours


def _overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


def _checks(
    day: date,
    assignments: Sequence[Assignment],
    people: Mapping[int, Person],
    kind: DayType,
    role_hours: Mapping[str, Sequence[tuple[int, int]]],
    check_midc: bool,
) -> list[Finding]:
    where = day.isoformat()
    findings: list[Finding] = []
    for (role, pid), n in Counter((a.role, a.person_id) for a in assignments).items():
        if n > 1:
            findings.append(
                Finding(
                    severity=Severity.WARNING,
                    code="DUPLICATE_ASSIGNMENT",
                    text=f"{people[pid].name} is assigned {n} times to {role} on {where}.",
                    location=where,
                )
            )
    if check_midc and kind is DayType.WEEKDAY and not any(a.role == MID_C for a in assignments):
        findings.append(
            Finding(
                severity=Severity.WARNING,
                code="MISSING_MIDC",
                text=f"Nobody is assigned to {MID_C} on {where}, a weekday.",
                location=where,
            )
        )
    roles_of: dict[int, dict[str, None]] = {}
    for a in assignments:
        roles_of.setdefault(a.person_id, {})[a.role] = None
    for pid, roles in roles_of.items():
        for r1, r2 in combinations(sorted(roles), 2):
            if _overlap(role_hours.get(r1, ()), role_hours.get(r2, ())):
                findings.append(
                    Finding(
                        severity=Severity.WARNING,
                        code="DOUBLE_BOOKED",
                        text=f"{people[pid].name} has overlapping roles {r1} and {r2} on {where}.",
                        location=where,
                    )
                )
    return findings


def calculate(
    windows: Sequence[Window],
    start: date,
    end: date,
    assignments: Sequence[Assignment],
    people: Mapping[int, Person],
    holidays: Collection[date] = (),
    specialty_overrides: Mapping[str, WorklistSpecialty] = _NO_OVERRIDES,
) -> CoverageResult:
    """Every (date, applying window, worklist) from `start` to `end` (both included) with its status.

    Cells come by date, then in template window order, then in sheet row order.
    """
    findings: list[Finding] = []
    unknown = sorted({a.person_id for a in assignments if a.person_id not in people})
    if unknown:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                code="UNKNOWN_PERSON",
                text=f"Assignments to unknown people are ignored: ids {', '.join(map(str, unknown))}.",
            )
        )

    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in assignments:
        if start <= a.schedule_date <= end and a.person_id in people:
            by_date[a.schedule_date].append(a)

    role_hours = _role_hours(windows)
    check_midc = any(w.category is Category.MID for w in windows)
    specialty_of: dict[str, WorklistSpecialty] = {}
    cells: list[Cell] = []

    for day in dates_between(start, end):
        todays = by_date.get(day, [])
        kind = day_type(day, holidays)
        written = _written_roles(todays)
        effective = {category: effective_roles(category, todays, people) for category in Category}
        for window in windows:
            variant, roles = effective[window.category]
            if window.day_type not in (None, kind) or window.variant not in (None, variant):
                continue
            for resp in window.responsibilities:
                responsible = roles.get(resp.role, ())
                if window.variant is None:
                    responsible = tuple(dict.fromkeys(written.get(resp.role, ()) + responsible))
                if resp.worklist not in specialty_of:
                    specialty_of[resp.worklist] = worklist_specialty(resp.worklist, specialty_overrides)
                cells.append(
                    Cell(
                        schedule_date=day,
                        window=window.sheet,
                        worklist=resp.worklist,
                        hospital=resp.hospital,
                        role=resp.role,
                        people=responsible,
                        status=_status(responsible, specialty_of[resp.worklist], people),
                    )
                )
        findings.extend(_checks(day, todays, people, kind, role_hours[kind], check_midc))

    return CoverageResult(cells=tuple(cells), findings=tuple(findings), summary=Summary.of(cells))


__all__ = [
    "Assignment",
    "Cell",
    "CellStatus",
    "CoverageResult",
    "Gap",
    "Person",
    "Specialty",
    "Summary",
    "WorklistSpecialty",
    "calculate",
    "can_read",
    "effective_roles",
    "worklist_specialty",
]
