"""Drafting a version: `DraftSchedule` -> a run with PROPOSED rows, answered by `DraftProposed` (or
`DraftFailed` when the version cannot be drafted).

The run is marked running first (services/drafting/runs.py); the problem is read, the solver runs outside any
transaction, and the rows, the run's figures, the inbox row and the answer commit together in one unit of
work. The time limit and the worker count come from the command, else from the settings."""

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.drafting import runs
from services.drafting.engine import draft
from services.drafting.store import DraftRefused, Options, load_problem
from shared import ids
from shared.contracts import DraftFailed, DraftProposed, DraftSchedule, Period
from shared.db.models import HospitalGroup, ScheduleVersion
from shared.db.session import transaction
from shared.messaging.consumer import Delivery, Handler, in_thread
from shared.messaging.unit_of_work import Fence, unit_of_work
from shared.settings import Settings, get_settings
from shared.states import DraftRunState, Phase

log = logging.getLogger(__name__)

CONSUMER = "drafting"


def options_from(settings: Settings) -> Options:
    return Options(
        tz=settings.tz,
        holidays=frozenset(settings.holidays),
        rest=timedelta(hours=settings.rest_hours),
        history_days=settings.draft_history_days,
    )


def scope(session: Session, command: DraftSchedule) -> tuple[str, Period] | None:
    """The version's group and period; None when it does not exist."""
    found = session.execute(
        select(HospitalGroup.name, ScheduleVersion.period_start, ScheduleVersion.period_end)
        .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
        .where(ScheduleVersion.id == command.version_id)
    ).first()
    return None if found is None else (found[0], Period(start=found[1], end=found[2]))


def fence_of(command: DraftSchedule) -> Fence | None:
    """A DRAFT workflow's draft phase: its answer counts only while this attempt is the phase's current one."""
    return None if command.workflow_id is None else Fence(command.workflow_id, Phase.DRAFT, command.attempt)


def refuse(
    command: DraftSchedule,
    delivery: Delivery,
    answer: dict[str, Any],
    found: tuple[str, Period] | None,
    reason: str,
    state: DraftRunState = DraftRunState.FAILED,
) -> None:
    """End the run `state` (when the version exists, the run was started) and answer `DraftFailed`."""
    with unit_of_work(CONSUMER, delivery, fence_of(command)) as work:
        if work.skipped:
            return
        if found is not None:
            runs.fail(work.session, answer["run_id"], reason, state)
        group, period = found if found is not None else (None, None)
        work.publish(DraftFailed(**answer, group=group, period=period, reason=reason))


def draft_schedule(command: DraftSchedule, delivery: Delivery) -> None:
    settings = get_settings()
    run_id = ids.draft_run_id(delivery.message_id)
    time_limit = command.time_limit_s or settings.draft_time_limit_s
    workers = command.workers or settings.draft_workers
    answer = {"workflow_id": command.workflow_id, "request_id": command.request_id, "attempt": command.attempt,
              "run_id": run_id, "version_id": command.version_id}  # fmt: skip
    with transaction() as session:
        found = scope(session, command)
        started = None
        if found is not None:
            started = runs.start(session, run_id, command, time_limit, workers, settings.draft_attempts)
    if found is None:
        refuse(command, delivery, answer, None, f"Schedule version {command.version_id} does not exist.")
        return
    if started is runs.Start.ENDED:
        log.info("draft run %s has ended already: %s is a duplicate", run_id, delivery.message_id)
        return
    if started is runs.Start.EXHAUSTED:
        why = (
            f"every one of its {settings.draft_attempts} attempts ended without a result: its worker stopped mid-solve"
        )
        refuse(command, delivery, answer, found, why, DraftRunState.CRASHED)
        return
    try:
        with transaction() as session:
            problem = load_problem(session, command.version_id, options_from(settings))
    except DraftRefused as error:
        refuse(command, delivery, answer, found, str(error))
        return
    log.info("draft run %s: %d role-dates, %d people, %.0f s on %d workers", run_id, len(problem.role_dates),
             len(problem.readers), time_limit, workers)  # fmt: skip
    result = draft(problem, time_limit=time_limit, workers=workers, progress=runs.ProgressRecorder(run_id))
    with unit_of_work(CONSUMER, delivery, fence_of(command)) as work:
        if work.skipped:
            return
        figures = runs.complete(work.session, run_id, problem, result)
        work.publish(
            DraftProposed(
                **answer,
                group=found[0],
                period=found[1],
                outcome=result.outcome.value,
                to_fill=figures.to_fill,
                filled=figures.filled,
                unfilled=figures.unfilled,
                kept=figures.kept,
                levels=runs.level_contracts(result.levels),
                seconds=result.seconds,
            )
        )
    log.info("draft run %s %s: %d of %d filled", run_id, result.outcome, figures.filled, figures.to_fill)


HANDLERS: dict[type, Handler] = {DraftSchedule: in_thread(draft_schedule)}
