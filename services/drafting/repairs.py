"""Repair runs: `draft_runs` of kind `repair`, whose rows are the moves of the chain (services/drafting/repair.py).

- A run stores what it repairs and its figures in `draft_runs.repair` (the person and dates, or the gaps; the
  role-dates to fill, the changes and their lower bound, the fairness effect, every move including those that
  leave a role open); each move that puts a person on a role is a row (`PROPOSED`), with the person it displaces,
  its position in the chain, the position of the move it follows from, and its rule.
- Approving takes every open row or none (`approvable`): each role-date must still hold exactly what the repair
  found (the displaced person, or nobody), else the approval is refused with the first row that changed and
  nothing is applied. The operator's side (schedcu/operations/repairs.py) then writes the assignments through
  services/coverage/corrections.py in the same transaction, and `decided` marks the rows and audits the run.
- Rejecting or editing one move re-checks the rest (`recheck`): a move that follows from a rejected one, or that
  breaks a hard rule beside the moves left, is rejected with the reason.
- Gaps that close by themselves make the open runs the watch started for them `OBSOLETE` (`obsolete`); sick-call
  runs are left open.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from services.drafting import runs
from services.drafting.facts import Facts
from services.drafting.model import SHARE_UNIT, Problem, Reason, TimeOff
from services.drafting.repair import Repair
from shared import audit
from shared.db import version_state
from shared.db.assignments import effective
from shared.db.models import DraftRowRecord, DraftRun, Person, ScheduleVersion
from shared.kernel import ids
from shared.kernel.contracts import Period, RepairFairness, RepairGap, RepairMove, RepairProposed, RepairSchedule
from shared.kernel.schedule_days import dates_between
from shared.kernel.states import DraftRowState, DraftRunKind, DraftRunState, VersionState
from shared.messaging import outbox

OPEN_ROWS = (DraftRowState.PROPOSED, DraftRowState.EDITED)


class RepairRefused(Exception):
    """A repair step that cannot be taken; the text says why, for the operator."""


@dataclass(frozen=True)
class Asked:
    """A repair asked for: by `RepairSchedule`, or by the watch when gaps opened."""

    version_id: uuid.UUID
    requested_by: str
    reason: str | None
    person_id: int | None = None
    first: date | None = None
    last: date | None = None
    gaps: tuple[tuple[date, str], ...] = ()
    time_limit_s: float | None = None
    workers: int | None = None

    @classmethod
    def of(cls, command: RepairSchedule) -> "Asked":
        return cls(
            command.version_id, command.requested_by, command.reason, command.person_id, command.first,
            command.last or command.first, tuple((g.date, g.role) for g in command.gaps), command.time_limit_s,
            command.workers,
        )  # fmt: skip

    def request(self) -> dict[str, Any]:
        """What the run repairs, as stored in `draft_runs.repair`."""
        return {
            "person_id": self.person_id,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "gaps": [{"date": day.isoformat(), "role": role} for day, role in self.gaps],
            "why": self.reason or ("sick call" if self.person_id is not None else "gaps opened"),
        }


def unavailable(request: dict[str, Any]) -> tuple[TimeOff, ...]:
    if request["person_id"] is None:
        return ()
    days = dates_between(date.fromisoformat(request["first"]), date.fromisoformat(request["last"]))
    return (TimeOff(request["person_id"], frozenset(days)),)


def gaps_of(request: dict[str, Any]) -> list[tuple[date, str]]:
    return [(date.fromisoformat(g["date"]), g["role"]) for g in request["gaps"]]


def _names(problem: Problem) -> dict[int, str]:
    return {r.id: r.name for r in problem.readers}


def moves(problem: Problem, result: Repair) -> list[RepairMove]:
    names = _names(problem)
    return [
        RepairMove(
            position=n, date=m.day, role=m.role, person_id=m.person_id, person=names.get(m.person_id or -1),
            displaced_id=m.displaced_id, displaced=names.get(m.displaced_id or -1), rule=m.rule, text=m.text,
            after=m.after,
        )
        for n, m in enumerate(result.moves)
    ]  # fmt: skip


def fairness(result: Repair) -> list[RepairFairness]:
    return [
        RepairFairness(
            category=f.category.value, largest_before=f.max_before / SHARE_UNIT, largest_after=f.max_after / SHARE_UNIT,
            sum_before=f.sum_before / SHARE_UNIT, sum_after=f.sum_after / SHARE_UNIT,
        )
        for f in result.fairness
    ]  # fmt: skip


def complete(
    session: Session, run_id: uuid.UUID, problem: Problem, result: Repair, request: dict[str, Any]
) -> list[RepairMove]:
    """The run's rows (one per move that puts a person on a role) and figures."""
    chain = moves(problem, result)
    rows = [
        {"run_id": run_id, "schedule_date": m.date, "role": m.role, "person_id": m.person_id,
         "state": DraftRowState.PROPOSED, "displaced_person_id": m.displaced_id, "position": m.position,
         "after_position": m.after, "rule": m.rule, "because": m.text}
        for m in chain
        if m.person_id is not None
    ]  # fmt: skip
    if rows:
        session.execute(insert(DraftRowRecord), rows)
    filled = sum(key in result.assignment for key in result.targets)
    figures = {
        **request,
        "targets": [{"date": d.isoformat(), "role": role} for d, role in result.targets],
        "changes": result.changes,
        "lower_bound": result.lower_bound,
        "proven": result.proven,
        "fairness": [f.model_dump() for f in fairness(result)],
        "moves": [m.model_dump(mode="json") for m in chain],
        "solve_seconds": result.solve_seconds,
    }
    session.execute(
        update(DraftRun)
        .where(DraftRun.id == run_id)
        .values(
            state=DraftRunState.COMPLETED,
            outcome="OPTIMAL" if result.proven else "FEASIBLE",
            to_fill=len(result.targets),
            filled=filled,
            unfilled=len(result.targets) - filled,
            kept=len(result.assignment) - result.changes,
            levels=[c.model_dump() for c in runs.level_contracts(result.levels)],
            explanations={"unfilled": runs.explanations_of(result.unfilled), "conflicts": list(result.conflicts)},
            repair=figures,
            seconds=result.seconds,
            finished_at=func.now(),
        )
    )
    return chain


def proposed(
    run_id: uuid.UUID, version_id: uuid.UUID, scope: tuple[str, Period], problem: Problem, result: Repair
) -> RepairProposed:
    return RepairProposed(
        run_id=run_id,
        version_id=version_id,
        group=scope[0],
        period=scope[1],
        gaps=[RepairGap(date=d, role=role) for d, role in result.targets],
        moves=moves(problem, result),
        changes=result.changes,
        lower_bound=result.lower_bound,
        proven=result.proven,
        unfilled=[u.text for u in result.unfilled],
        fairness=fairness(result),
        seconds=result.seconds,
        solve_seconds=result.solve_seconds,
    )


# --- deciding -------------------------------------------------------------------------------------------------


def _run(session: Session, run_id: uuid.UUID) -> DraftRun:
    run = session.get(DraftRun, run_id, with_for_update=True)
    if run is None or run.kind != DraftRunKind.REPAIR:
        raise RepairRefused(f"No repair run {run_id}.")
    if run.state != DraftRunState.COMPLETED:
        raise RepairRefused(f"Repair run {run_id} is {run.state}: only a completed run can be decided.")
    return run


def _open_rows(session: Session, run_id: uuid.UUID) -> list[DraftRowRecord]:
    return list(
        session.scalars(
            select(DraftRowRecord)
            .where(DraftRowRecord.run_id == run_id, DraftRowRecord.state.in_(OPEN_ROWS))
            .order_by(DraftRowRecord.position)
            .with_for_update()
        )
    )


def holders(
    session: Session, version_id: uuid.UUID, keys: Collection[tuple[date, str]]
) -> dict[tuple[date, str], set[int]]:
    """Who holds each (date, role) now, as coverage counts it."""
    rows = effective(version_id)
    found: dict[tuple[date, str], set[int]] = defaultdict(set)
    for day, role, pid in session.execute(
        select(rows.c.schedule_date, rows.c.role, rows.c.person_id).where(
            rows.c.schedule_date.in_({d for d, _ in keys}), rows.c.role.in_({r for _, r in keys})
        )
    ):
        if (day, role) in keys:
            found[(day, role)].add(pid)
    return found


@dataclass(frozen=True)
class Approvable:
    run: DraftRun
    rows: list[DraftRowRecord]
    emails: dict[int, str]  # person id -> email, for the corrections


def approvable(session: Session, run_id: uuid.UUID) -> Approvable:
    """The run's open moves, each role-date still as the repair found it; RepairRefused (nothing applied) when a
    row changed meanwhile, or when there is nothing to approve."""
    run = _run(session, run_id)
    rows = _open_rows(session, run_id)
    if not rows:
        raise RepairRefused(f"Repair run {run_id} has no open move to approve.")
    now = holders(session, run.version_id, {(r.schedule_date, r.role) for r in rows})
    people = {p.id: p for p in session.scalars(select(Person))}
    for row in rows:
        expected = set() if row.displaced_person_id is None else {row.displaced_person_id}
        found = now.get((row.schedule_date, row.role), set())
        if found != expected:
            was = people[row.displaced_person_id].name if row.displaced_person_id is not None else "nobody"
            is_now = ", ".join(sorted(people[p].name for p in found)) or "nobody"
            raise RepairRefused(
                f"Refused, nothing applied: {row.role} on {row.schedule_date.isoformat()} changed since the repair "
                f"was proposed (it had {was}, it now has {is_now}). Start a new repair."
            )
    return Approvable(run, rows, {pid: p.email for pid, p in people.items()})


def decided(
    session: Session, run: DraftRun, rows: Iterable[DraftRowRecord], state: DraftRowState, actor: str,
    reason: str | None,
) -> None:  # fmt: skip
    """Mark the rows `state` and audit it on the run (entity `draft_run`)."""
    rows = list(rows)
    for row in rows:
        row.state = state
    session.flush()
    audit.record(
        session, actor=actor, entity="draft_run", entity_id=str(run.id),
        action={DraftRowState.APPROVED: "approve", DraftRowState.REJECTED: "reject",
                DraftRowState.OBSOLETE: "obsolete", DraftRowState.EDITED: "edit"}[state],
        from_state=DraftRowState.PROPOSED, to_state=state, reason=reason,
        details={"version_id": str(run.version_id), "moves": [
            {"position": r.position, "date": r.schedule_date.isoformat(), "role": r.role, "person_id": r.person_id,
             "displaced_person_id": r.displaced_person_id} for r in rows]},
    )  # fmt: skip


def _standing(facts: Facts, rows: Iterable[DraftRowRecord]) -> tuple[dict[int, set[int]], dict[int, int]]:
    """Who holds what with the version's assignments and the open moves applied: person -> slots, slot -> person."""
    at = {s: ks[0].person_id for s, ks in facts.kept_on.items()}
    for row in rows:
        slot = facts.index.get((row.schedule_date, row.role))
        if slot is not None:
            at[slot] = row.person_id
    held: dict[int, set[int]] = defaultdict(set)
    for slot, pid in at.items():
        held[pid].add(slot)
    return held, at


def _facts(run: DraftRun, problem: Problem) -> Facts:
    return Facts(replace(problem, time_off=(*problem.time_off, *unavailable(run.repair))))


def _new_breaks(
    facts: Facts, run: DraftRun, slot: int, person_id: int, held: dict[int, set[int]], at: dict[int, int]
) -> list[Reason]:
    """The rules `person_id` on `slot` breaks in `held`/`at` that the repair's own choice for that role-date did
    not break as proposed: what the published schedule breaks already (a night's variant, say) is not the
    change's fault."""
    proposed = {
        facts.index[(date.fromisoformat(m["date"]), m["role"])]: m["person_id"]
        for m in run.repair["moves"]
        if m["person_id"] is not None and (date.fromisoformat(m["date"]), m["role"]) in facts.index
    }
    base_at = {s: ks[0].person_id for s, ks in facts.kept_on.items()} | proposed
    base_held: dict[int, set[int]] = defaultdict(set)
    for s, pid in base_at.items():
        base_held[pid].add(s)
    chosen = proposed.get(slot)
    known = {r.rule for r in facts.reasons(chosen, slot, base_held, base_at)} if chosen is not None else set()
    return [r for r in facts.reasons(person_id, slot, held, at) if r.rule not in known]


def recheck(session: Session, run: DraftRun, problem: Problem, actor: str, changed: dict[int, str]) -> list[str]:
    """After moves were rejected or edited (`changed`: position -> "rejected" or "edited"): reject each open move
    that follows from one of them, or that breaks a hard rule beside the version's assignments and the moves left.
    Returns why, per move rejected."""
    changed = dict(changed)
    facts = _facts(run, problem)
    why: list[str] = []
    while True:
        rows = _open_rows(session, run.id)
        held, at = _standing(facts, rows)
        failing: dict[DraftRowRecord, str] = {}
        for row in rows:
            slot = facts.index.get((row.schedule_date, row.role))
            if row.after_position in changed and row.after_position != row.position:
                failing[row] = f"it follows from move {row.after_position}, which was {changed[row.after_position]}"
            elif slot is not None and (reasons := _new_breaks(facts, run, slot, row.person_id, held, at)):
                failing[row] = f"{facts.readers[row.person_id].name} {reasons[0].text}"
        if not failing:
            return why
        for row, text in failing.items():
            decided(session, run, [row], DraftRowState.REJECTED, actor, f"re-checked: {text}")
            changed[row.position] = "rejected"
            why.append(f"move {row.position} ({row.role} on {row.schedule_date.isoformat()}) rejected: {text}")


def _open_row(session: Session, run_id: uuid.UUID, position: int) -> DraftRowRecord:
    row = next((r for r in _open_rows(session, run_id) if r.position == position), None)
    if row is None:
        raise RepairRefused(f"Repair run {run_id} has no open move {position}.")
    return row


def reject(session: Session, run_id: uuid.UUID, position: int, reason: str, actor: str) -> DraftRun:
    run = _run(session, run_id)
    row = _open_row(session, run_id, position)
    if not reason.strip():
        raise RepairRefused("A reason is required.")
    decided(session, run, [row], DraftRowState.REJECTED, actor, reason.strip())
    return run


def edit(session: Session, run_id: uuid.UUID, position: int, person_id: int, problem: Problem, actor: str) -> DraftRun:
    """Put another person on the move, refused with the rule they would break beside the version's assignments
    and the other open moves."""
    run = _run(session, run_id)
    row = _open_row(session, run_id, position)
    facts = _facts(run, problem)
    if person_id not in facts.readers:
        raise RepairRefused(f"Person {person_id} may not be drafted.")
    name = facts.readers[person_id].name
    if person_id == row.person_id:
        raise RepairRefused(f"{name} already takes move {position}.")
    others = [r for r in _open_rows(session, run_id) if r.position != position]
    held, at = _standing(facts, others)
    slot = facts.index[(row.schedule_date, row.role)]
    at[slot] = person_id
    held[person_id].add(slot)
    reasons = _new_breaks(facts, run, slot, person_id, held, at)
    if reasons:
        raise RepairRefused(
            f"{name} cannot take {row.role} on {row.schedule_date.isoformat()}: {name} {reasons[0].text}."
        )
    row.person_id = person_id
    decided(session, run, [row], DraftRowState.EDITED, actor, f"move {position} goes to {name}")
    return run


def obsolete(
    session: Session, version_id: uuid.UUID, closed: Collection[tuple[date, str]], actor: str
) -> list[uuid.UUID]:
    """Open repair runs of the version one of whose gaps closed by itself: every open row `OBSOLETE`."""
    found = []
    for run in session.scalars(
        select(DraftRun)
        .where(DraftRun.version_id == version_id, DraftRun.kind == DraftRunKind.REPAIR,
               DraftRun.state == DraftRunState.COMPLETED)
        .with_for_update()
    ):  # fmt: skip
        targets = {(date.fromisoformat(g["date"]), g["role"]) for g in run.repair["targets"]}
        rows = _open_rows(session, run.id)
        if rows and targets & set(closed) and run.repair["person_id"] is None:
            decided(session, run, rows, DraftRowState.OBSOLETE, actor, "its gap closed by itself")
            found.append(run.id)
    return found


def open_targets(session: Session, version_id: uuid.UUID) -> dict[tuple[date, str], uuid.UUID]:
    """The role-dates that repair runs of the version are filling (running, or with open moves), and the run."""
    found: dict[tuple[date, str], uuid.UUID] = {}
    for run_id, state, repair in session.execute(
        select(DraftRun.id, DraftRun.state, DraftRun.repair).where(
            DraftRun.version_id == version_id, DraftRun.kind == DraftRunKind.REPAIR,
            DraftRun.state.in_([DraftRunState.RUNNING, DraftRunState.COMPLETED]),
        ).order_by(DraftRun.started_at)
    ):  # fmt: skip
        if state == DraftRunState.RUNNING:
            found |= dict.fromkeys(gaps_of(repair), run_id)
        elif _open_rows(session, run_id):
            found |= {(date.fromisoformat(g["date"]), g["role"]): run_id for g in repair["targets"]}
    return found


def is_production(session: Session, version_id: uuid.UUID) -> bool:
    state = session.scalar(
        version_state.with_lifecycle(select(version_state.state()).select_from(ScheduleVersion)).where(
            ScheduleVersion.id == version_id, version_state.not_deleted()
        )
    )
    return state == VersionState.PRODUCTION


def production_versions_holding(session: Session, person_id: int, first: date, last: date) -> list[uuid.UUID]:
    """The PRODUCTION versions (not deleted) that assign the person a role on a date from `first` to `last`."""
    versions = session.scalars(
        version_state.with_lifecycle(select(ScheduleVersion.id))
        .where(
            version_state.state() == VersionState.PRODUCTION.value,
            version_state.not_deleted(),
            ScheduleVersion.period_start <= last,
            ScheduleVersion.period_end >= first,
        )
        .order_by(ScheduleVersion.period_start)
    ).all()
    found = []
    for version_id in versions:
        rows = effective(version_id)
        if session.scalar(
            select(rows.c.id).where(rows.c.person_id == person_id, rows.c.schedule_date.between(first, last)).limit(1)
        ):
            found.append(version_id)
    return found


def request_for_time_off(
    session: Session, time_off_id: int, person_id: int, first: date, last: date, actor: str, reason: str
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """For the time off just entered: `RepairSchedule` in the outbox of the caller's transaction for each production
    version that assigns the person a role on those dates; (version, repair run) of each."""
    requested = []
    for version_id in production_versions_holding(session, person_id, first, last):
        message_id = f"repair:{version_id}:time-off:{time_off_id}"
        command = RepairSchedule(
            version_id=version_id, requested_by=actor, reason=reason, person_id=person_id, first=first, last=last
        )
        outbox.add(session, command, message_id=message_id, correlation_id=message_id)
        requested.append((version_id, ids.draft_run_id(message_id)))
    return requested
