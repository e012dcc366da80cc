"""The fairness report (`schedcu fairness`): per person, in a period of a version, the nights, weekend
nights, holiday nights and hours they work, from the version's current assignments (Amion's with the
corrections). Counted as candidates count fairness (services/coverage/candidates.py): a night is a schedule
date on which the person holds any role but `DAY`; a weekend night one on a Saturday or Sunday; a holiday
night one on a configured holiday. Hours are the real length of all their assignments (`DAY` included) with
the hours coverage takes (Amion's, else the role's template hours; DST nights are 1 h shorter or longer),
overlapping assignments counted once. Everyone active in the roster is listed, with zeros when they work
nothing, and so is anyone inactive who works in the period."""

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage.calculation import CalculationOptions
from services.coverage.gaps import flat_booked_shifts
from services.coverage.store import load_inputs
from shared.db.models import Person
from shared.kernel.coverage_rules import Assignment, booked_shifts
from shared.kernel.rest import Interval, Shift
from shared.kernel.roles import DAY


@dataclass(frozen=True)
class PersonLoad:
    person_id: int
    name: str
    active: bool
    nights: int
    weekends: int
    holidays: int
    hours: float


def _length(intervals: Sequence[Interval]) -> timedelta:
    """The length of the union of `intervals`, in real time (instants in UTC: the same zone subtracts wall time)."""
    total, end = timedelta(0), None
    for s, e in sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in intervals):
        if end is not None and s < end:
            s = end
        if e > s:
            total += e - s
            end = e if end is None or e > end else end
    return total


def fairness(
    assignments: Sequence[Assignment],
    shifts: Mapping[int, Sequence[Shift]],
    names: Mapping[int, tuple[str, bool]],
    start: date,
    end: date,
    holidays: Collection[date],
) -> list[PersonLoad]:
    """`shifts`: each person's shifts (with hours) of the period; `names`: person -> (name, active).
    Most nights first, then weekends, holidays, hours; ties by name."""
    nights: dict[int, set[date]] = defaultdict(set)
    for a in assignments:
        if a.role != DAY and start <= a.schedule_date <= end:
            nights[a.person_id].add(a.schedule_date)
    loads = []
    for pid, (name, active) in names.items():
        days = nights.get(pid, set())
        hours = _length([h for shift in shifts.get(pid, ()) for h in shift.hours])
        if not active and not days and not hours:
            continue
        loads.append(
            PersonLoad(
                pid,
                name,
                active,
                len(days),
                sum(d.weekday() >= 5 for d in days),
                sum(d in holidays for d in days),
                round(hours.total_seconds() / 3600, 2),
            )
        )
    return sorted(loads, key=lambda p: (-p.nights, -p.weekends, -p.holidays, -p.hours, p.name.casefold(), p.person_id))


@dataclass(frozen=True)
class FairnessReport:
    version_id: uuid.UUID
    start: date
    end: date
    people: list[PersonLoad]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": str(self.version_id),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "people": [asdict(p) for p in self.people],
        }


class OutsidePeriod(ValueError):
    """The dates asked for share no date with the version's period; the text says which are."""


def fairness_report(
    session: Session, version_id: uuid.UUID, options: CalculationOptions, start: date | None, end: date | None
) -> FairnessReport | None:
    """None when the version does not exist; the period defaults to the version's. OutsidePeriod when the dates
    asked for are not within it."""
    inputs = load_inputs(session, version_id)
    if inputs is None:
        return None
    first, last = inputs.version.period_start, inputs.version.period_end
    start = start or first
    end = end or last
    if start > end or end < first or start > last:
        raise OutsidePeriod(
            f"{start.isoformat()} .. {end.isoformat()} is not within the version's period "
            f"{first.isoformat()} .. {last.isoformat()}: give dates within it"
        )
    within = [a for a in inputs.assignments if start <= a.schedule_date <= end]
    booked = (
        flat_booked_shifts(inputs.flat_shifts, within)
        if inputs.flat
        else booked_shifts(inputs.windows, within, options.holidays, options.tz)
    )
    shifts: dict[int, list[Shift]] = defaultdict(list)
    for shift in booked:
        shifts[shift.person_id].append(shift)
    names = {
        pid: (name, active) for pid, name, active in session.execute(select(Person.id, Person.name, Person.active))
    }
    return FairnessReport(version_id, start, end, fairness(within, shifts, names, start, end, options.holidays))
