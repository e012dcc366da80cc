"""What every coverage calculation of a version does to its proposals, in the calculation's transaction
(services/coverage/calculation.py calls `after_calculation` before storing the result):

- an open proposal (`PROPOSED`, `EDITED`) one of whose gaps the calculation no longer finds `UNCOVERED` or
  `SPECIALTY_MISMATCH` becomes `OBSOLETE`: its line changed, and a new proposal starts from the new line. The
  history entry (actor `coverage`) names the cause: the gap's new status in this calculation, or that the cell
  is gone because the night's sheets changed. A gap that became `NO_DATA` leaves its proposal open: unknown is
  not closed;
- every approved proposal whose override assignment still exists is checked against the version's current
  Amion assignments (services/coverage/override_conflicts.py); each conflict is a finding of the result.

Two reads when the version has approved proposals, one otherwise."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from services.coverage.candidates import GAP_STATUSES
from services.coverage.override_conflicts import AmionBooking, Override, override_conflicts
from services.coverage.proposal_states import OPEN, Action, transition
from services.coverage.store import VersionInputs
from shared.db.models import AssignmentCorrection, Proposal, ProposalHistory
from shared.kernel.coverage_rules import Assignment, CoverageResult, booked_shifts, shifts_of
from shared.kernel.rest import Shift
from shared.kernel.states import AssignmentSource, CellStatus, ProposalState

ACTOR = "coverage"


def _booked_shift(inputs: VersionInputs, a: Assignment, holidays: Collection[date], tz: ZoneInfo) -> Shift | None:
    """`a` with its hours as the calculation takes them (Amion's, else its role's hours that date)."""
    if inputs.flat:
        hours = [(s.starts_at, s.ends_at) for s in inputs.flat_shifts
                 if (s.schedule_date, s.role) == (a.schedule_date, a.role)]  # fmt: skip
        found = shifts_of([a], {a.role: hours})
    else:
        found = booked_shifts(inputs.windows, [a], holidays, tz)
    return found[0] if found else None


def _obsolete(session: Session, calculation_id: uuid.UUID, result: CoverageResult, rows: Sequence[Any]) -> None:
    statuses = {(c.schedule_date, c.window, c.worklist): c.status for c in result.cells}
    closed: list[dict[str, Any]] = []
    for row in rows:
        found = None
        for cell in row.cells:
            status = statuses.get((row.schedule_date, cell["window"], cell["worklist"]))
            if status not in GAP_STATUSES and status is not CellStatus.NO_DATA:
                where = f"{cell['worklist']} in {cell['window']}"
                found = (
                    f"finds {where} {status}" if status is not None else f"has no {where} (the night's sheets changed)"
                )
                break
        if found is None:
            continue
        closed.append(
            {"proposal_id": row.id, "actor": ACTOR, "action": str(Action.OBSOLETE), "from_state": row.state,
             "to_state": str(transition(ProposalState(row.state), Action.OBSOLETE)),
             "from_person_id": row.person_id, "to_person_id": row.person_id,
             "reason": f"coverage changed: calculation {calculation_id} {found}"}
        )  # fmt: skip
    if closed:
        session.execute(
            update(Proposal)
            .where(Proposal.id.in_([c["proposal_id"] for c in closed]))
            .values(state=ProposalState.OBSOLETE, updated_at=func.now())
        )
        session.execute(insert(ProposalHistory), closed)


def _conflicts(
    session: Session, inputs: VersionInputs, rows: Sequence[Any], holidays: Collection[date], tz: ZoneInfo
) -> list[Any]:
    approved = [r for r in rows if r.state == ProposalState.APPROVED and r.correction_id is not None]
    if not approved:
        return []
    present = set(
        session.scalars(
            select(AssignmentCorrection.id).where(
                AssignmentCorrection.id.in_([r.correction_id for r in approved]),
                AssignmentCorrection.source == AssignmentSource.OVERRIDE,
            )
        )
    )
    overrides = [
        Override(
            r.id,
            r.schedule_date,
            r.assign_role,
            r.person_id,
            frozenset(r.amion_people),
            _booked_shift(inputs, Assignment(r.schedule_date, r.assign_role, r.person_id), holidays, tz),
        )
        for r in approved
        if r.correction_id in present
    ]
    if not overrides:
        return []
    people = {o.person_id for o in overrides}
    days = {o.schedule_date for o in overrides}
    amion = [
        AmionBooking(a, _booked_shift(inputs, a, holidays, tz) if a.person_id in people else None)
        for a in inputs.assignments
        if a.source == AssignmentSource.AMION
        and (a.schedule_date in days or (a.person_id in people and _near(a.schedule_date, days)))
    ]
    names = {pid: p.name for pid, p in inputs.people.items()}
    return override_conflicts(overrides, amion, names, tz)


def _near(day: date, days: Collection[date]) -> bool:
    return any(abs((day - d).days) <= 1 for d in days)


def after_calculation(
    session: Session,
    calculation_id: uuid.UUID,
    inputs: VersionInputs,
    result: CoverageResult,
    holidays: Collection[date],
    tz: ZoneInfo,
    recomputed: frozenset[date] | None = None,
) -> CoverageResult:
    """`result` with the override conflicts added to its findings; open proposals of closed gaps made OBSOLETE.
    `recomputed`: the dates `result` holds cells of (None: every date); proposals of other dates keep their cells."""
    rows = session.execute(
        select(
            Proposal.id,
            Proposal.state,
            Proposal.schedule_date,
            Proposal.cells,
            Proposal.assign_role,
            Proposal.person_id,
            Proposal.correction_id,
            Proposal.amion_people,
        )
        .where(
            Proposal.version_id == inputs.version.id,
            Proposal.state.in_([*OPEN, ProposalState.APPROVED]),
        )
        .order_by(Proposal.created_at, Proposal.id)
    ).all()
    if not rows:
        return result
    open_rows = [r for r in rows if r.state in OPEN and (recomputed is None or r.schedule_date in recomputed)]
    _obsolete(session, calculation_id, result, open_rows)
    conflicts = _conflicts(session, inputs, rows, holidays, tz)
    return replace(result, findings=(*result.findings, *conflicts)) if conflicts else result
