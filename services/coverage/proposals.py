"""Proposals to fill gaps (`schedcu proposals create|edit|approve|reject`), each step in one transaction with
its history row and its event in the outbox. The lifecycle is services/coverage/proposal_states.py; what a
calculation does to proposals (OBSOLETE, override conflicts) is services/coverage/proposal_upkeep.py.

- `create` turns every gap of the version's latest calculation (`UNCOVERED`, `SPECIALTY_MISMATCH`; one date
  with `day`) into a `PROPOSED` proposal for its top candidate (services/coverage/gaps.py). A gap with an open
  proposal, or with one approved since that calculation, gets no second one (a unique index on the open
  proposals of a cell makes it so under concurrency too); a gap without candidates gets none.
- `edit` puts another of the gap's current candidates forward (`EDITED`).
- `approve` checks that the cell is still a gap and the person still a candidate, assigns them to the role as
  written as an `OVERRIDE` through services/coverage/corrections.py (audited), remembers who Amion had on that
  role that date, and requests a recalculation (`CalculateCoverage` in the outbox).
- `reject` needs a reason (`REJECTED`).
Events: `ProposalCreated`, `ProposalApproved`, `ProposalRejected`; each message id derives from the proposal."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.coverage import corrections
from services.coverage.assignments import FROM_AMION, effective
from services.coverage.calculation import CalculationOptions, calculation_id_for
from services.coverage.candidates import GapCandidates
from services.coverage.gaps import gap_report
from services.coverage.proposal_states import OPEN, Action, IllegalTransition, transition
from services.coverage.store import version_scope
from shared.contracts import (
    CalculateCoverage,
    Period,
    ProposalApproved,
    ProposalCreated,
    ProposalEvent,
    ProposalRejected,
    ProposedPerson,
)
from shared.db import version_state
from shared.db.models import (
    OPEN_PROPOSAL_PREDICATE as OPEN_PREDICATE,
)
from shared.db.models import (
    AssignmentCorrection,
    CoverageCalculation,
    PersonRow,
    Proposal,
    ProposalHistory,
    ScheduleVersion,
)
from shared.messaging import outbox
from shared.states import ProposalState, VersionState


class ProposalError(Exception):
    """A proposal step that cannot be taken; the text says why, for the operator."""


@dataclass(frozen=True)
class Created:
    proposals: list[uuid.UUID]
    already_proposed: int  # gaps with an open proposal, or one approved since the calculation
    without_candidate: int

    def text(self) -> str:
        return (
            f"{len(self.proposals)} proposals created; {self.already_proposed} gaps already proposed, "
            f"{self.without_candidate} without a candidate"
        )


def _publish(session: Session, message: CalculateCoverage | ProposalEvent, message_id: str) -> None:
    outbox.add(session, message, message_id=message_id, correlation_id=str(message.version_id))


def _event(
    cls: type[ProposalEvent], scope: tuple[str, Period], proposal: Proposal, person: PersonRow, by: str, **extra: object
) -> ProposalEvent:
    group, period = scope
    return cls(
        proposal_id=proposal.id,
        version_id=proposal.version_id,
        group=group,
        period=period,
        date=proposal.schedule_date,
        window=proposal.window,
        worklist=proposal.worklist,
        role=proposal.role,
        assign_role=proposal.assign_role,
        gap_status=proposal.gap_status,
        person=ProposedPerson(person_id=person.id, name=person.name, email=person.email),
        by=by,
        **extra,
    )


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
        (d, window, worklist)
        for d, window, worklist, state, updated_at in session.execute(
            select(
                Proposal.schedule_date, Proposal.window, Proposal.worklist, Proposal.state, Proposal.updated_at
            ).where(Proposal.version_id == version_id, Proposal.state.in_([*OPEN, ProposalState.APPROVED]))
        )
        if state in OPEN or updated_at >= calculated_at
    }
    people = {p.id: p for p in session.scalars(select(PersonRow))}
    new: list[Proposal] = []
    already = without = 0
    for gap in report.gaps:
        slot = gap.slot
        if (slot.schedule_date, slot.window, slot.worklist) in taken:
            already += 1
        elif not gap.candidates:
            without += 1
        else:
            new.append(
                Proposal(
                    id=uuid.uuid4(), version_id=version_id, schedule_date=slot.schedule_date, window=slot.window,
                    worklist=slot.worklist, hospital=slot.hospital, role=slot.role, assign_role=gap.assign_role,
                    gap_status=str(slot.status), person_id=gap.candidates[0].person.id,
                    state=str(ProposalState.PROPOSED), amion_people=[],
                )
            )  # fmt: skip
    if not new:
        return Created([], already, without)
    columns = ("id", "version_id", "schedule_date", "window", "worklist", "hospital", "role", "assign_role",
               "gap_status", "person_id", "state", "amion_people")  # fmt: skip
    inserted = set(
        session.scalars(
            pg_insert(Proposal)
            .on_conflict_do_nothing(
                index_elements=["version_id", "schedule_date", "window", "worklist"], index_where=text(OPEN_PREDICATE)
            )
            .returning(Proposal.id),
            [{c: getattr(p, c) for c in columns} for p in new],  # executemany: batched under the parameter limit
        )
    )
    created = [p for p in new if p.id in inserted]
    if created:
        session.execute(
            insert(ProposalHistory),
            [{"proposal_id": p.id, "actor": actor, "action": str(Action.CREATE), "from_state": None,
              "to_state": p.state, "from_person_id": None, "to_person_id": p.person_id, "reason": None}
             for p in created],
        )  # fmt: skip
    scope = version_scope(session, version_id)
    for p in created:
        _publish(session, _event(ProposalCreated, scope, p, people[p.person_id], actor), f"proposal:{p.id}:created")
    return Created([p.id for p in created], already + len(new) - len(created), without)


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


def current_gap(session: Session, proposal: Proposal, options: CalculationOptions) -> GapCandidates:
    """The proposal's cell as a gap of the latest calculation, with its candidates now."""
    report = gap_report(session, proposal.version_id, options, proposal.schedule_date)
    found = report and next(
        (g for g in report.gaps if (g.slot.window, g.slot.worklist) == (proposal.window, proposal.worklist)), None
    )
    if not found:
        raise ProposalError(
            f"{proposal.worklist} in {proposal.window} on {proposal.schedule_date.isoformat()} is no longer a gap "
            "in the latest coverage."
        )
    return found


def _candidate(gap: GapCandidates, person: PersonRow) -> None:
    if any(c.person.id == person.id for c in gap.candidates):
        return
    reasons = next((o.reasons for o in gap.left_out if o.person.id == person.id), ("not an active person",))
    raise ProposalError(f"{person.name} is not a candidate for this gap: {'; '.join(reasons)}.")


def edit(
    session: Session, proposal_id: uuid.UUID, person_text: str, options: CalculationOptions, actor: str
) -> Proposal:
    proposal = _locked(session, proposal_id)
    target = _step(proposal, Action.EDIT)
    _usable_version(session, proposal.version_id)
    person = _find(session, person_text)
    if person.id == proposal.person_id:
        raise ProposalError(f"{person.name} is already the proposal's candidate.")
    _candidate(current_gap(session, proposal, options), person)
    from_state, from_person = proposal.state, proposal.person_id
    proposal.state, proposal.person_id, proposal.updated_at = target, person.id, func.now()
    session.flush()
    _history(session, proposal, actor, Action.EDIT, from_state, from_person)
    return proposal


def _find(session: Session, text: str) -> PersonRow:
    try:
        return corrections.find_person(session.scalars(select(PersonRow)).all(), text)
    except corrections.CorrectionError as error:
        raise ProposalError(str(error)) from None


def approve(
    session: Session, proposal_id: uuid.UUID, options: CalculationOptions, actor: str
) -> tuple[Proposal, uuid.UUID]:
    """The approved proposal and the id of the coverage calculation its approval requested."""
    proposal = _locked(session, proposal_id)
    target = _step(proposal, Action.APPROVE)
    person = session.get_one(PersonRow, proposal.person_id)
    gap = current_gap(session, proposal, options)
    _candidate(gap, person)
    rows = effective(proposal.version_id)
    amion_people = sorted(
        set(
            session.scalars(
                select(rows.c.person_id).where(
                    rows.c.kind == FROM_AMION,
                    rows.c.schedule_date == proposal.schedule_date,
                    rows.c.role == gap.assign_role,
                )
            )
        )
    )
    reason = f"proposal {proposal.id} approved"
    try:
        corrections.add(
            session, proposal.version_id, proposal.schedule_date, gap.assign_role, person.email, reason, actor,
            override=True,
        )  # fmt: skip
    except corrections.CorrectionError as error:
        raise ProposalError(str(error)) from None
    correction_id = session.scalar(
        select(func.max(AssignmentCorrection.id)).where(
            AssignmentCorrection.version_id == proposal.version_id,
            AssignmentCorrection.schedule_date == proposal.schedule_date,
            AssignmentCorrection.role == gap.assign_role,
            AssignmentCorrection.person_id == person.id,
            AssignmentCorrection.source.is_not(None),
        )
    )
    from_state = proposal.state
    proposal.state, proposal.assign_role, proposal.updated_at = target, gap.assign_role, func.now()
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
    person = session.get_one(PersonRow, proposal.person_id)
    event = _event(
        ProposalRejected, version_scope(session, proposal.version_id), proposal, person, actor, reason=reason
    )
    _publish(session, event, f"proposal:{proposal.id}:rejected")
    return proposal
