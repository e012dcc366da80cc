"""Approving a draft: its rows go PROPOSED -> EDITED -> APPROVED | REJECTED.

- An edit puts another person on one role-date of a completed run (a row the run left unfilled too: the run then
  counts it filled, and its list of unfilled roles drops it). It is checked against every hard rule with the
  engine's own facts (services/drafting/facts.py), on the version's assignments plus the run's PROPOSED and EDITED
  rows: a refusal names each rule the edit would break, as the engine's explanations do.
- Approving (the whole run, or some rows) and rejecting move PROPOSED and EDITED rows only; each change writes one
  `audit_log` row (entity `draft_row`). The approved rows then become the version's assignments (source `DRAFT`,
  services/coverage/corrections.py); the operator's command does both in one transaction.

The decisions are pure functions; the functions taking a session read and write `draft_rows` only.
"""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.drafting.facts import Facts
from services.drafting.model import Assignment, Problem
from services.drafting.store import Options, load_problem
from shared import audit
from shared.db.models import DraftRowRecord, DraftRun, Person
from shared.kernel.states import DraftRowState, DraftRunKind, DraftRunState

OPEN = (DraftRowState.PROPOSED, DraftRowState.EDITED)  # the rows an edit, an approval or a rejection may move


class ApprovalError(Exception):
    """A change of a draft that cannot be made; the text says why, for a scheduler."""


@dataclass(frozen=True)
class Row:
    day: date
    role: str
    person_id: int
    state: DraftRowState


def edit_refusals(problem: Problem, current: Assignment, day: date, role: str, person_id: int) -> list[str]:
    """The hard rules that putting `person_id` on `role` on `day` would break, in words (none: allowed). Pure.
    `current` is the draft as it stands (the version's assignments and the run's open rows)."""
    facts = Facts(problem)
    if (day, role) not in facts.index:
        return [f"{day.isoformat()} {role} is not a role this draft fills"]
    if person_id not in facts.readers:
        return ["they are not on the group's roster for drafting (inactive, or unknown to the group)"]
    before = set(facts.violations(current))
    return [v for v in facts.violations({**current, (day, role): person_id}) if v not in before]


def chosen(rows: Sequence[Row], picked: Collection[tuple[date, str]] | None) -> list[Row]:
    """The open rows an approval or a rejection moves: every open row, or the picked ones (each must be open). Pure."""
    by_key = {(r.day, r.role): r for r in rows}
    if picked is None:
        return [r for r in rows if r.state in OPEN]
    missing = [f"{d.isoformat()} {role}" for d, role in picked if (d, role) not in by_key]
    if missing:
        raise ApprovalError(f"The draft has no row {', '.join(missing)}.")
    closed = [
        f"{d.isoformat()} {role} is {by_key[(d, role)].state}"
        for d, role in picked
        if by_key[(d, role)].state not in OPEN
    ]
    if closed:
        raise ApprovalError(f"Only proposed or edited rows can change: {'; '.join(closed)}.")
    return [by_key[key] for key in sorted(set(picked))]


def _run(session: Session, run_id: uuid.UUID) -> DraftRun:
    """The run, locked so that changes to one draft never interleave."""
    run = session.get(DraftRun, run_id, with_for_update=True)
    if run is None:
        raise ApprovalError(f"Draft run {run_id} does not exist.")
    if run.kind != DraftRunKind.DRAFT:
        raise ApprovalError(
            f"Run {run_id} is a repair: decide it with `schedcu draft repair-approve|repair-reject` or on "
            f"/repairs/{run_id}."
        )
    if run.state != DraftRunState.COMPLETED:
        raise ApprovalError(f"Draft run {run_id} is {run.state}: only a completed draft can be edited or approved.")
    return run


def rows_of(session: Session, run_id: uuid.UUID) -> list[Row]:
    return [
        Row(d, role, pid, DraftRowState(state))
        for d, role, pid, state in session.execute(
            select(DraftRowRecord.schedule_date, DraftRowRecord.role, DraftRowRecord.person_id, DraftRowRecord.state)
            .where(DraftRowRecord.run_id == run_id)
            .order_by(DraftRowRecord.schedule_date, DraftRowRecord.role)
        )
    ]


def _audit(session: Session, actor: str, reason: str | None, run_id: uuid.UUID, row: Row, to: DraftRowState,
           person: str) -> None:  # fmt: skip
    audit.record(
        session, actor=actor, entity="draft_row", entity_id=f"{run_id}:{row.day.isoformat()}:{row.role}",
        action=to.value.lower(), from_state=row.state.value, to_state=to.value, reason=reason,
        details={"run_id": str(run_id), "date": row.day.isoformat(), "role": row.role, "person": person},
    )  # fmt: skip


def edit(
    session: Session, run_id: uuid.UUID, day: date, role: str, person: Person, options: Options, actor: str,
    reason: str | None,
) -> Row:  # fmt: skip
    """Put `person` on `role` on `day` in the draft (state EDITED), once the hard rules allow it."""
    run = _run(session, run_id)
    rows = rows_of(session, run_id)
    existing = next((r for r in rows if (r.day, r.role) == (day, role)), None)
    if existing is not None and existing.state not in OPEN:
        raise ApprovalError(f"{day.isoformat()} {role} is {existing.state}: it can no longer be edited.")
    problem = load_problem(session, run.version_id, options)
    current: dict[tuple[date, str], int] = {(k.day, k.role): k.person_id for k in problem.kept}
    current.update({(r.day, r.role): r.person_id for r in rows if r.state in OPEN})
    if existing is None and (day, role) in current:
        raise ApprovalError(f"{day.isoformat()} {role} is held by the version's own assignments, not by the draft.")
    refusals = edit_refusals(problem, current, day, role, person.id)
    if refusals:
        raise ApprovalError(f"{person.name} cannot hold {role} on {day.isoformat()}: {'; '.join(refusals)}.")
    before = existing or Row(day, role, person.id, DraftRowState.PROPOSED)
    if existing is None:
        session.add(DraftRowRecord(run_id=run_id, schedule_date=day, role=role, person_id=person.id,
                                   state=DraftRowState.EDITED))  # fmt: skip
        _filled(run, day, role)
    else:
        session.execute(
            update(DraftRowRecord)
            .where(DraftRowRecord.run_id == run_id, DraftRowRecord.schedule_date == day, DraftRowRecord.role == role)
            .values(person_id=person.id, state=DraftRowState.EDITED)
        )
    _audit(session, actor, reason, run_id, before, DraftRowState.EDITED, person.name)
    return Row(day, role, person.id, DraftRowState.EDITED)


def _filled(run: DraftRun, day: date, role: str) -> None:
    """The run's figures once an edit has filled a role-date it left unfilled."""
    explained = run.explanations or {}
    left = [u for u in explained.get("unfilled", []) if (u["date"], u["role"]) != (day.isoformat(), role)]
    run.explanations = {**explained, "unfilled": left}
    if run.to_fill is not None and run.filled is not None:
        run.filled = min(run.to_fill, run.filled + 1)
        run.unfilled = run.to_fill - run.filled


def decide(
    session: Session, run_id: uuid.UUID, picked: Collection[tuple[date, str]] | None, to: DraftRowState, actor: str,
    reason: str | None,
) -> tuple[uuid.UUID, list[Row]]:  # fmt: skip
    """Approve or reject the run's open rows (or the picked ones); the run's version and the rows moved."""
    run = _run(session, run_id)
    moved = chosen(rows_of(session, run_id), picked)
    names = dict(
        session.execute(select(Person.id, Person.name).where(Person.id.in_([r.person_id for r in moved]))).all()
    )
    for row in moved:
        session.execute(
            update(DraftRowRecord)
            .where(
                DraftRowRecord.run_id == run_id,
                DraftRowRecord.schedule_date == row.day,
                DraftRowRecord.role == row.role,
            )
            .values(state=to)
        )
        _audit(session, actor, reason, run_id, row, to, names[row.person_id])
    return run.version_id, moved
