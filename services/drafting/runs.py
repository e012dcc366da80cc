"""Draft runs (`draft_runs`) and their rows (`draft_rows`): the run history.

A run is marked `running` in a transaction of its own as its solve starts, so that `schedcu draft runs` shows
it. Its result (the rows, the figures, the state `completed` or `failed`) commits in the delivery's unit of
work, with the inbox row and the answer event: a worker killed mid-solve leaves the run `running` with no row.
The redelivered command then finds it so, records the attempt that died as crashed in the audit log, and
solves again (`attempts` counts them), up to `SCHEDCU_DRAFT_ATTEMPTS`; after that many attempts died, the run
ends `crashed` instead of killing one more worker.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.drafting.model import Draft, Level, LevelReport, Problem, Progress, Unfilled
from shared import audit
from shared.db.models import DraftRowRecord, DraftRun, Person
from shared.db.session import transaction
from shared.kernel.contracts import DraftLevel
from shared.kernel.states import DraftRowState, DraftRunKind, DraftRunState

PROGRESS_EVERY_S = 1.0

log = logging.getLogger(__name__)


class Asked(Protocol):
    """What starts a run: the version, who asks and why."""

    @property
    def version_id(self) -> uuid.UUID: ...
    @property
    def requested_by(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


class Start(Enum):
    SOLVE = "solve"  # a new run, or one whose earlier attempt died with attempts left: solve it
    ENDED = "ended"  # the run has ended: the command is a duplicate
    EXHAUSTED = "exhausted"  # every allowed attempt died mid-solve: end the run crashed


def start(
    session: Session,
    run_id: uuid.UUID,
    command: Asked,
    time_limit_s: float,
    workers: int,
    attempts: int,
    repair: dict[str, Any] | None = None,
) -> Start:
    """Mark the run `running`: a new one, or one whose earlier attempt died (while fewer than `attempts` died).
    `repair`: what a repair run repairs (services/drafting/repairs.py); the run's kind is then `repair`."""
    inserted = session.execute(
        pg_insert(DraftRun)
        .values(
            id=run_id,
            version_id=command.version_id,
            state=DraftRunState.RUNNING,
            actor=command.requested_by,
            reason=command.reason,
            time_limit_s=time_limit_s,
            workers=workers,
            kind=DraftRunKind.DRAFT if repair is None else DraftRunKind.REPAIR,
            repair=repair,
        )
        .on_conflict_do_nothing(index_elements=[DraftRun.id])
        .returning(DraftRun.id)
    ).first()
    if inserted is not None:
        return Start.SOLVE
    died = session.scalar(
        select(DraftRun.attempts)
        .where(DraftRun.id == run_id, DraftRun.state == DraftRunState.RUNNING)
        .with_for_update()
    )
    if died is None:
        return Start.ENDED
    if died >= attempts:
        return Start.EXHAUSTED
    session.execute(update(DraftRun).where(DraftRun.id == run_id).values(attempts=died + 1, started_at=func.now()))
    audit.record(
        session,
        actor="drafting",
        entity="draft_run",
        entity_id=str(run_id),
        action="retry",
        from_state=DraftRunState.CRASHED,
        to_state=DraftRunState.RUNNING,
        reason=f"attempt {died} ended without a result (its worker stopped mid-solve); solving again",
        details={"attempt": died + 1},
    )
    return Start.SOLVE


def level_contracts(levels: tuple[LevelReport, ...]) -> list[DraftLevel]:
    return [
        DraftLevel(level=r.level.value, value=r.value, bound=r.bound, proven=r.proven, seconds=r.seconds)
        for r in levels
    ]


@dataclass(frozen=True)
class Counts:
    to_fill: int
    filled: int
    unfilled: int
    kept: int


def counts(problem: Problem, result: Draft) -> Counts:
    period = {(rd.day, rd.role) for rd in problem.role_dates if problem.start <= rd.day <= problem.end}
    kept = {(k.day, k.role) for k in problem.kept if result.assignment.get((k.day, k.role)) == k.person_id}
    filled = period & set(result.assignment)
    return Counts(len(period), len(filled), len(period) - len(filled), len(kept & period))


def drafted(problem: Problem, result: Draft) -> dict[tuple[date, str], int]:
    """The draft's own rows: its assignment without the kept rows it keeps."""
    kept = {(k.day, k.role, k.person_id) for k in problem.kept}
    return {key: pid for key, pid in result.assignment.items() if (*key, pid) not in kept}


def explanations_of(unfilled: Iterable[Unfilled]) -> list[dict[str, Any]]:
    return [
        {"date": u.day.isoformat(), "role": u.role, "text": u.text,
         "people": [{"name": e.name, "reasons": [r.text for r in e.reasons]} for e in u.people]}
        for u in unfilled
    ]  # fmt: skip


def explanations(result: Draft) -> dict[str, Any]:
    return {
        "unfilled": explanations_of(result.unfilled),
        "unhonored": [
            {"date": u.day.isoformat(), "role": u.role, "person_id": u.person_id, "text": u.text}
            for u in result.unhonored
        ],
        "conflicts": list(result.conflicts),
        "dropped": [{"date": k.day.isoformat(), "role": k.role, "person_id": k.person_id} for k in result.dropped],
    }  # fmt: skip


def fairness(result: Draft) -> list[dict[str, Any]]:
    """Per person: name, FTE and, per category, nights held before and in the period and the fair share (in
    thousandths of a night, history and period)."""
    return [
        {"person_id": f.person_id, "name": f.name, "fte": f.fte,
         "categories": {s.category.value: {"before": s.held_before, "held": s.held, "share": s.share}
                        for s in f.shares}}
        for f in result.fairness
    ]  # fmt: skip


def complete(session: Session, run_id: uuid.UUID, problem: Problem, result: Draft) -> Counts:
    found = counts(problem, result)
    rows = [
        {"run_id": run_id, "schedule_date": day, "role": role, "person_id": pid, "state": DraftRowState.PROPOSED}
        for (day, role), pid in sorted(drafted(problem, result).items())
    ]
    if rows:
        session.execute(insert(DraftRowRecord), rows)
    session.execute(
        update(DraftRun)
        .where(DraftRun.id == run_id)
        .values(
            state=DraftRunState.COMPLETED,
            outcome=result.outcome.value,
            to_fill=found.to_fill,
            filled=found.filled,
            unfilled=found.unfilled,
            kept=found.kept,
            levels=[c.model_dump() for c in level_contracts(result.levels)],
            explanations=explanations(result),
            fairness=fairness(result),
            seconds=result.seconds,
            finished_at=func.now(),
        )
    )
    return found


def fail(session: Session, run_id: uuid.UUID, reason: str, state: DraftRunState = DraftRunState.FAILED) -> None:
    """End the run `failed` (or `crashed`) with the reason."""
    session.execute(
        update(DraftRun).where(DraftRun.id == run_id).values(state=state, error=reason, finished_at=func.now())
    )


class ProgressRecorder:
    """A `ProgressReport` that stores the progress on the running run, each time in a short transaction of its own:
    whenever a new level starts, and at most once every `every_s` seconds within a level."""

    def __init__(
        self, run_id: uuid.UUID, every_s: float = PROGRESS_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.run_id, self.every_s, self.clock = run_id, every_s, clock
        self.last: tuple[float, Level] | None = None

    def __call__(self, progress: Progress) -> None:
        now = self.clock()
        if self.last is not None and self.last[1] == progress.level and now - self.last[0] < self.every_s:
            return
        self.last = (now, progress.level)
        stored = {
            "level": progress.level.value, "number": progress.number, "levels": progress.levels,
            "value": progress.value, "bound": progress.bound, "seconds_left": round(progress.seconds_left, 1),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }  # fmt: skip
        try:
            with transaction() as session:
                session.execute(
                    update(DraftRun)
                    .where(DraftRun.id == self.run_id, DraftRun.state == DraftRunState.RUNNING)
                    .values(progress=stored)
                )
        except OperationalError as error:  # the progress only informs: a database away for a moment stops no solve
            log.warning("draft run %s: progress not recorded (%s)", self.run_id, type(error).__name__)


# reads, for the operator commands


def run_rows(session: Session, version_id: uuid.UUID | None = None, limit: int = 50) -> list[DraftRun]:
    query = select(DraftRun).order_by(DraftRun.started_at.desc()).limit(limit)
    if version_id is not None:
        query = query.where(DraftRun.version_id == version_id)
    return list(session.scalars(query))


def run_view(session: Session, run_id: uuid.UUID) -> dict[str, Any] | None:
    """A run with its rows (date, role, person), for `schedcu draft show`."""
    run = session.get(DraftRun, run_id)
    if run is None:
        return None
    rows = session.execute(
        select(DraftRowRecord.schedule_date, DraftRowRecord.role, Person.name, DraftRowRecord.state)
        .join(Person, Person.id == DraftRowRecord.person_id)
        .where(DraftRowRecord.run_id == run_id)
        .order_by(DraftRowRecord.schedule_date, DraftRowRecord.id)
    )
    return {
        "run_id": str(run.id),
        "version_id": str(run.version_id),
        "kind": run.kind,
        "repair": run.repair,
        "state": run.state,
        "actor": run.actor,
        "reason": run.reason,
        "time_limit_s": run.time_limit_s,
        "workers": run.workers,
        "attempts": run.attempts,
        "outcome": run.outcome,
        "to_fill": run.to_fill,
        "filled": run.filled,
        "unfilled": run.unfilled,
        "kept": run.kept,
        "levels": run.levels,
        "explanations": run.explanations,
        "fairness": run.fairness,
        "progress": run.progress,
        "error": run.error,
        "seconds": run.seconds,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "rows": [
            {"date": d.isoformat(), "role": role, "person": name, "state": state} for d, role, name, state in rows
        ],
    }
