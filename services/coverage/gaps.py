"""The gaps of a version's latest coverage calculation with their candidates (`schedcu gaps`).

Reads the latest calculation's gap cells, the version's inputs as a calculation reads them (current
assignments, template or flat shifts) and the whole roster (one query): a fixed number of statements
whatever the period's length. The ranking itself is `services/coverage/candidates.py`."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage.calculation import CalculationOptions
from services.coverage.candidates import (
    GAP_STATUSES,
    GapCandidates,
    flat_role_hours,
    flat_slots,
    rank_candidates,
    template_slots,
)
from services.coverage.flat_rules import FlatShift
from services.coverage.store import VersionInputs, load_inputs
from shared.db.models import CoverageCalculation, Person, calculation_cells
from shared.kernel import coverage_rules
from shared.kernel.coverage_rules import (
    Assignment,
    Cell,
    CellStatus,
    Specialty,
    booked_shifts,
    shifts_of,
    template_role_hours,
    worklist_specialties,
)
from shared.kernel.rest import Interval, Shift


@dataclass(frozen=True)
class GapReport:
    version_id: uuid.UUID
    calculation_id: uuid.UUID
    rest: timedelta
    gaps: list[GapCandidates]

    def to_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        """JSON-able: every gap with all its candidates (best first) and everybody left out, with reasons."""

        def person(p: coverage_rules.Person) -> dict[str, Any]:
            return {"person_id": p.id, "name": p.name, "specialty": str(p.specialty)}

        return {
            "version_id": str(self.version_id),
            "calculation_id": str(self.calculation_id),
            "rest_hours": self.rest.total_seconds() / 3600,
            "gaps": [
                {
                    "date": g.slot.schedule_date.isoformat(),
                    "window": g.slot.window,
                    "worklist": g.slot.worklist,
                    "hospital": g.slot.hospital,
                    "role": g.slot.role,
                    "assign_role": g.assign_role,
                    "status": str(g.slot.status),
                    "hours": [[s.astimezone(tz).isoformat(), e.astimezone(tz).isoformat()] for s, e in g.slot.hours],
                    "candidates": [
                        person(c.person)
                        | {"nights": c.nights, "weekends": c.weekends, "holidays": c.holidays, "reasons": c.reasons}
                        for c in g.candidates
                    ],
                    "left_out": [person(o.person) | {"reasons": o.reasons} for o in g.left_out],
                }
                for g in self.gaps
            ],
        }


def flat_booked_shifts(shifts: Sequence[FlatShift], assignments: Sequence[Assignment]) -> list[Shift]:
    """Every assignment with its hours, as the flat calculation takes them (its role's shifts that date)."""
    role_hours: dict[date, dict[str, list[Interval]]] = defaultdict(lambda: defaultdict(list))
    for s in shifts:
        role_hours[s.schedule_date][s.role].append((s.starts_at, s.ends_at))
    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_date[a.schedule_date].append(a)
    return [shift for day, todays in by_date.items() for shift in shifts_of(todays, role_hours.get(day, {}))]


def gap_report(
    session: Session, version_id: uuid.UUID, options: CalculationOptions, day: date | None = None
) -> GapReport | None:
    """None when the version has no calculation. `day`: only that date's gaps (fairness still counts the
    nights before it)."""
    calculation_id = session.scalar(
        select(CoverageCalculation.id)
        .where(CoverageCalculation.version_id == version_id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    )
    if calculation_id is None:
        return None
    inputs = load_inputs(session, version_id)
    if inputs is None:
        return None
    cell = calculation_cells.c
    query = select(
        cell.schedule_date,
        cell.window,
        cell.worklist,
        cell.hospital,
        cell.role,
        cell.status,
    ).where(
        cell.calculation_id == calculation_id,
        cell.status.in_([str(s) for s in GAP_STATUSES]),
    )
    if day is not None:
        query = query.where(cell.schedule_date == day)
    cells = [
        Cell(d, window, worklist, hospital, role, (), CellStatus(status))
        for d, window, worklist, hospital, role, status in session.execute(query.order_by(cell.schedule_date, cell.id))
    ]
    return GapReport(version_id, calculation_id, options.rest, rank_gaps(session, inputs, cells, options))


def rank_gaps(
    session: Session, inputs: VersionInputs, cells: Sequence[Cell], options: CalculationOptions
) -> list[GapCandidates]:
    """The candidates of each gap among `cells`, in cell order, against the version's `inputs` and the whole
    roster (one query)."""
    people: dict[int, coverage_rules.Person] = {}
    active: list[int] = []
    for pid, name, specialty, is_active in session.execute(
        select(Person.id, Person.name, Person.specialty, Person.active)
    ):
        people[pid] = coverage_rules.Person(pid, name, Specialty(specialty))
        if is_active:
            active.append(pid)
    assignments = [a for a in inputs.assignments if a.person_id in people]
    if inputs.flat:
        slots = flat_slots(cells, inputs.flat_shifts, options.tz)
        shifts = flat_booked_shifts(inputs.flat_shifts, assignments)
        role_hours = flat_role_hours(inputs.flat_shifts)
    else:
        specialties, _ = worklist_specialties(inputs.windows, options.specialty_overrides)
        slots = template_slots(cells, inputs.windows, specialties, options.tz)
        shifts = booked_shifts(inputs.windows, assignments, options.holidays, options.tz)
        role_hours = template_role_hours(inputs.windows, options.holidays, options.tz)
    return rank_candidates(
        slots, assignments, shifts, people, active, role_hours, options.holidays, options.rest, options.tz
    )
