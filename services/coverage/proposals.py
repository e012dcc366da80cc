"""Proposals to fill gap lines (`schedcu proposals create|edit|approve|reject`), each step in one transaction
with its history row and its event in the outbox. The lifecycle is services/coverage/proposal_states.py; what a
calculation does to proposals (OBSOLETE, override conflicts) is services/coverage/proposal_upkeep.py.

A proposal fills one role as written on one date with one person, for every gap of that role that date the
person can fill (a gap line, services/coverage/gap_lines.py); it names the line's gaps the person leaves open,
and why. It never puts a second person on a role: nobody is a candidate while the role has its person.

- `create` proposes, for every gap line of the version's latest calculation (one date with `day`), the line's
  best candidate: one who fills all its gaps when anybody does. A line with an open proposal, or with one
  approved since that calculation, gets no second one (a unique index on the open proposals of a version,
  date and role makes it so under concurrency too); a line without candidates gets none, and says why.
- `edit` puts another of the line's current candidates forward (`EDITED`).
- `approve` checks that the person still fills every gap the proposal names, assigns them to the role as
  written as an `OVERRIDE` through services/coverage/corrections.py (audited), remembers who Amion had on that
  role that date, and requests a recalculation (`CalculateCoverage` in the outbox).
- `reject` needs a reason (`REJECTED`).
Events: `ProposalCreated`, `ProposalApproved`, `ProposalRejected`; each message id derives from the proposal."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.coverage import corrections
from services.coverage.calculation import CalculationOptions, calculation_id_for
from services.coverage.gap_lines import GapGroup, LinePlan, group_gaps
from services.coverage.gaps import gap_report
from services.coverage.proposal_states import OPEN, Action, IllegalTransition, transition
from services.coverage.store import version_scope
from shared.db import version_state
from shared.db.assignments import FROM_AMION, effective
from shared.db.models import (
    OPEN_PROPOSAL_PREDICATE as OPEN_PREDICATE,
)
from shared.db.models import (
    AssignmentCorrection,
    CoverageCalculation,
    Person,
    Proposal,
    ProposalHistory,
    ScheduleVersion,
)
from shared.kernel.contracts import (
    CalculateCoverage,
    OpenProposalCell,
    Period,
    ProposalApproved,
    ProposalCell,
    ProposalCreated,
    ProposalEvent,
    ProposalRejected,
    ProposedPerson,
)
from shared.kernel.states import AssignmentSource, ProposalState, VersionState
from shared.messaging import outbox

LISTED = 10  # lines without a candidate named in the text of `create`


class ProposalError(Exception):
    """A proposal step that cannot be taken; the text says why, for the operator."""


@dataclass(frozen=True)
class Created:
    proposals: list[uuid.UUID]
    already_proposed: int  # lines with an open proposal, or one approved since the calculation
    without_candidate: list[str] = field(default_factory=list)  # each such line, with why
    partial: int = 0  # proposals that leave some of their line's gaps open

    def text(self) -> str:
        lines = [
            f"{len(self.proposals)} proposals created ({self.partial} leave gaps of their line open); "
            f"{self.already_proposed} gap lines already proposed, {len(self.without_candidate)} without a candidate"
        ]
        lines.extend(f"  no candidate: {why}" for why in self.without_candidate[:LISTED])
        if len(self.without_candidate) > LISTED:
            lines.append(
                f"  and {len(self.without_candidate) - LISTED} more lines without a candidate (`schedcu gaps`)"
            )
        return "\n".join(lines)


def _publish(session: Session, message: CalculateCoverage | ProposalEvent, message_id: str) -> None:
    outbox.add(session, message, message_id=message_id, correlation_id=str(message.version_id))


def _event(
    cls: type[ProposalEvent], scope: tuple[str, Period], proposal: Proposal, person: Person, by: str, **extra: object
) -> ProposalEvent:
    group, period = scope
    return cls(
        proposal_id=proposal.id,
        version_id=proposal.version_id,
        group=group,
        period=period,
        date=proposal.schedule_date,
        role=proposal.role,
        assign_role=proposal.assign_role,
        fills=[ProposalCell.model_validate(c) for c in proposal.cells],
        stays_open=[OpenProposalCell.model_validate(c) for c in proposal.open_cells],
        person=ProposedPerson(person_id=person.id, name=person.name, email=person.email),
        by=by,
        **extra,
    )


def _cells(plan: LinePlan) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The plan's filled and open gaps as stored (`proposals.cells`, `proposals.open_cells`)."""
    fills = [{"window": w, "worklist": wl, "status": str(status)} for w, wl, status in plan.fills]
    stays_open = [
        {"window": c.window, "worklist": c.worklist, "status": str(c.status), "reason": c.reason}
        for c in plan.stays_open
    ]
    return fills, stays_open


def _no_candidate(line: GapGroup, tz: ZoneInfo) -> str:
    """The line, and why nobody may take it: the one reason everybody shares, else where to look."""
    reasons = {o.reasons for g in line.members for o in g.left_out}
    why = "; ".join(next(iter(reasons))) if len(reasons) == 1 else "`schedcu gaps` lists why each person is left out"
    return f"{line.text(tz)}: {why}"


def _history(
    session: Session, proposal: Proposal, actor: str, action: Action, from_state: str | None,
    from_person: int | None, reason: str | None = None,
) -> None:  # fmt: skip
    session.execute(
        insert(ProposalHistory).values(
            proposal_id=proposal.id, actor=actor, action=str(action), from_state=from_state, to_state=proposal.state,
            from_person_id=from_person, to_person_id=proposal.person_id, reason=reason,
        )
    )  # fmt: skip


def _usable_version(session: Session, version_id: uuid.UUID) -> None:
    found = session.execute(
        version_state.with_lifecycle(
            select(version_state.state(), version_state.not_deleted())
            .select_from(ScheduleVersion)
            .where(ScheduleVersion.id == version_id)
        )
    ).first()
    if found is None:
        raise ProposalError(f"Schedule version {version_id} does not exist.")
    state, not_deleted = found
    if not not_deleted or state == VersionState.ARCHIVED:
        raise ProposalError(f"Schedule version {version_id} is {'archived' if not_deleted else 'deleted'}.")


def create(
    session: Session, version_id: uuid.UUID, options: CalculationOptions, actor: str, day: date | None = None
) -> Created:
    _usable_version(session, version_id)
    report = gap_report(session, version_id, options, day)
    if report is None:
        raise ProposalError(f"No coverage has been calculated for version {version_id}.")
    calculated_at = session.scalar(
        select(CoverageCalculation.created_at).where(CoverageCalculation.id == report.calculation_id)
    )
    taken = {
        (d, role)
        for d, role, state, updated_at in session.execute(
            select(Proposal.schedule_date, Proposal.assign_role, Proposal.state, Proposal.updated_at).where(
                Proposal.version_id == version_id, Proposal.state.in_([*OPEN, ProposalState.APPROVED])
            )
        )
        if state in OPEN or updated_at >= calculated_at
    }
    new: list[dict[str, Any]] = []
    already = 0
    without: list[str] = []
    for line in group_gaps(report.gaps):
        plan = line.plan()
        if (line.schedule_date, line.assign_role) in taken:
            already += 1
        elif plan is None:
            without.append(_no_candidate(line, options.tz))
        else:
            fills, stays_open = _cells(plan)
            new.append(
                {"id": uuid.uuid4(), "version_id": version_id, "schedule_date": line.schedule_date,
                 "role": line.role, "assign_role": line.assign_role, "starts_at": line.start, "ends_at": line.end,
                 "cells": fills, "open_cells": stays_open, "person_id": plan.person.id,
                 "state": str(ProposalState.PROPOSED), "amion_people": []}
            )  # fmt: skip
    if not new:
        return Created([], already, without)
    inserted = set(
        session.scalars(
            pg_insert(Proposal)
            .on_conflict_do_nothing(
                index_elements=["version_id", "schedule_date", "assign_role"], index_where=text(OPEN_PREDICATE)
            )
            .returning(Proposal.id),
            new,  # executemany: batched under the parameter limit
        )
    )
    created = [p for p in new if p["id"] in inserted]
    if created:
        session.execute(
            insert(ProposalHistory),
            [{"proposal_id": p["id"], "actor": actor, "action": str(Action.CREATE), "from_state": None,
              "to_state": p["state"], "from_person_id": None, "to_person_id": p["person_id"], "reason": None}
             for p in created],
        )  # fmt: skip
    scope = version_scope(session, version_id)
    rows = session.scalars(select(Proposal).where(Proposal.id.in_(inserted))).all()
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_({r.person_id for r in rows})))}
    for row in sorted(rows, key=lambda r: (r.schedule_date, r.starts_at, r.assign_role)):
        event = _event(ProposalCreated, scope, row, people[row.person_id], actor)
        _publish(session, event, f"proposal:{row.id}:created")
    return Created(
        [p["id"] for p in created], already + len(new) - len(created), without,
        sum(bool(p["open_cells"]) for p in created),
    )  # fmt: skip


def _locked(session: Session, proposal_id: uuid.UUID) -> Proposal:
    proposal = session.get(Proposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise ProposalError(f"No proposal {proposal_id}.")
    return proposal


def _step(proposal: Proposal, action: Action) -> ProposalState:
    try:
        return transition(ProposalState(proposal.state), action)
    except IllegalTransition as error:
        raise ProposalError(f"Proposal {proposal.id}: {error}") from None


def current_line(session: Session, proposal: Proposal, options: CalculationOptions) -> GapGroup:
    """The proposal's gap line in the latest calculation, with its candidates now."""
    report = gap_report(session, proposal.version_id, options, proposal.schedule_date)
    found = report and next(
        (line for line in group_gaps(report.gaps) if line.assign_role == proposal.assign_role), None
    )
    if not found:
        raise ProposalError(
            f"{proposal.assign_role} on {proposal.schedule_date.isoformat()} has no gap any more in the latest "
            "coverage."
        )
    return found


def _plan(line: GapGroup, person: Person) -> LinePlan:
    plan = line.plan(person.id)
    if plan is not None:
        return plan
    reasons = dict.fromkeys(r for g in line.members for o in g.left_out if o.person.id == person.id for r in o.reasons)
    why = "; ".join(reasons) or "not an active person"
    raise ProposalError(
        f"{person.name} is not a candidate for {line.assign_role} on {line.schedule_date.isoformat()}: {why}."
    )


def _keys(cells: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["window"], c["worklist"]) for c in cells}


def edit(
    session: Session, proposal_id: uuid.UUID, person_text: str, options: CalculationOptions, actor: str
) -> Proposal:
    proposal = _locked(session, proposal_id)
    target = _step(proposal, Action.EDIT)
    _usable_version(session, proposal.version_id)
    person = _find(session, person_text)
    if person.id == proposal.person_id:
        raise ProposalError(f"{person.name} is already the proposal's candidate.")
    plan = _plan(current_line(session, proposal, options), person)
    from_state, from_person = proposal.state, proposal.person_id
    proposal.state, proposal.person_id, proposal.updated_at = target, person.id, func.now()
    proposal.cells, proposal.open_cells = _cells(plan)
    session.flush()
    _history(session, proposal, actor, Action.EDIT, from_state, from_person)
    return proposal


def _find(session: Session, text: str) -> Person:
    try:
        return corrections.find_person(session.scalars(select(Person)).all(), text)
    except corrections.CorrectionError as error:
        raise ProposalError(str(error)) from None


def approve(
    session: Session, proposal_id: uuid.UUID, options: CalculationOptions, actor: str
) -> tuple[Proposal, uuid.UUID]:
    """The approved proposal and the id of the coverage calculation its approval requested."""
    proposal = _locked(session, proposal_id)
    target = _step(proposal, Action.APPROVE)
    person = session.get_one(Person, proposal.person_id)
    plan = _plan(current_line(session, proposal, options), person)
    fills, stays_open = _cells(plan)
    lost = sorted(_keys(proposal.cells) - _keys(fills))
    if lost:
        window, worklist = lost[0]
        why = next((c["reason"] for c in stays_open if (c["window"], c["worklist"]) == lost[0]), "no longer a gap")
        raise ProposalError(f"{person.name} no longer fills {worklist} in {window}: {why}.")
    rows = effective(proposal.version_id)
    amion_people = sorted(
        set(
            session.scalars(
                select(rows.c.person_id).where(
                    rows.c.kind == FROM_AMION,
                    rows.c.schedule_date == proposal.schedule_date,
                    rows.c.role == proposal.assign_role,
                )
            )
        )
    )
    reason = f"proposal {proposal.id} approved"
    try:
        corrections.add(
            session, proposal.version_id, proposal.schedule_date, proposal.assign_role, person.email, reason, actor,
            source=AssignmentSource.OVERRIDE,
        )  # fmt: skip
    except corrections.CorrectionError as error:
        raise ProposalError(str(error)) from None
    correction_id = session.scalar(
        select(func.max(AssignmentCorrection.id)).where(
            AssignmentCorrection.version_id == proposal.version_id,
            AssignmentCorrection.schedule_date == proposal.schedule_date,
            AssignmentCorrection.role == proposal.assign_role,
            AssignmentCorrection.person_id == person.id,
            AssignmentCorrection.source.is_not(None),
        )
    )
    from_state = proposal.state
    proposal.state, proposal.updated_at = target, func.now()
    proposal.cells, proposal.open_cells = fills, stays_open
    proposal.correction_id, proposal.amion_people = correction_id, amion_people
    session.flush()
    _history(session, proposal, actor, Action.APPROVE, from_state, proposal.person_id)
    recalc_message = f"proposal:{proposal.id}:recalculate"
    _publish(session, CalculateCoverage(version_id=proposal.version_id), recalc_message)
    recalculation_id = calculation_id_for(recalc_message)
    scope = version_scope(session, proposal.version_id)
    event = _event(ProposalApproved, scope, proposal, person, actor, recalculation_id=recalculation_id)
    _publish(session, event, f"proposal:{proposal.id}:approved")
    return proposal, recalculation_id


def reject(session: Session, proposal_id: uuid.UUID, reason_text: str, actor: str) -> Proposal:
    reason = reason_text.strip()
    if not reason:
        raise ProposalError("A reason is required.")
    if len(reason) > corrections.MAX_REASON_CHARS:
        raise ProposalError(f"The reason is longer than {corrections.MAX_REASON_CHARS} characters.")
    proposal = _locked(session, proposal_id)
    target = _step(proposal, Action.REJECT)
    from_state = proposal.state
    proposal.state, proposal.updated_at = target, func.now()
    session.flush()
    _history(session, proposal, actor, Action.REJECT, from_state, proposal.person_id, reason)
    person = session.get_one(Person, proposal.person_id)
    event = _event(
        ProposalRejected, version_scope(session, proposal.version_id), proposal, person, actor, reason=reason
    )
    _publish(session, event, f"proposal:{proposal.id}:rejected")
    return proposal
