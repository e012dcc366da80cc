"""Drafting a version: `DraftSchedule` -> a run with PROPOSED rows, answered by `DraftProposed` (or
`DraftFailed` when the version cannot be drafted). Repairing one: `RepairSchedule`, or `CoverageChanged` with new
mandatory gaps in a production version -> a repair run, answered by `RepairProposed`.

The run is marked running first (services/drafting/runs.py); the problem is read, the solver runs outside any
transaction, and the rows, the run's figures, the inbox row and the answer commit together in one unit of
work. The time limit and the worker count come from the command, else from the settings."""

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.drafting import repairs, runs
from services.drafting.engine import draft
from services.drafting.model import Problem
from services.drafting.repair import repair
from services.drafting.solver import Stopped
from services.drafting.store import DraftRefused, Options, load_problem
from shared.db.models import HospitalGroup, ScheduleVersion
from shared.db.session import transaction
from shared.kernel import ids
from shared.kernel.contracts import (
    CoverageChanged,
    DraftFailed,
    DraftProposed,
    DraftSchedule,
    Period,
    RepairSchedule,
)
from shared.kernel.findings import Severity
from shared.kernel.states import DraftRunState, Phase
from shared.messaging.consumer import Delivery, Handler, given_settings, in_thread
from shared.messaging.unit_of_work import Fence, superseded, unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)

CONSUMER = "drafting"  # its inbox rows and its registry's queue are named by it
GAVE_UP = (
    "the workflow gave up waiting: its draft phase had ended (timed out, cancelled or retried) before this run's "
    "result, so nothing of it is kept; draft the period again"
)


def options_from(settings: Settings) -> Options:
    return Options(
        tz=settings.tz,
        holidays=frozenset(settings.holidays),
        rest=timedelta(hours=settings.rest_hours),
        history_days=settings.draft_history_days,
    )


def scope(session: Session, command: runs.Asked) -> tuple[str, Period] | None:
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
    fence: Fence | None,
    delivery: Delivery,
    answer: dict[str, Any],
    found: tuple[str, Period] | None,
    reason: str,
    state: DraftRunState = DraftRunState.FAILED,
) -> None:
    """End the run `state` (when the version exists, the run was started) and answer `DraftFailed` (nobody waits
    for the answer of a superseded attempt: the run ends all the same)."""
    with unit_of_work(CONSUMER, delivery, fence) as work:
        if work.skipped not in (None, "superseded"):
            return
        if found is not None:
            runs.fail(work.session, answer["run_id"], reason, state)
        if work.skipped == "superseded":
            return
        group, period = found if found is not None else (None, None)
        work.publish(DraftFailed(**answer, group=group, period=period, reason=reason))


def _begin(
    kind: str,
    command: runs.Asked,
    delivery: Delivery,
    answer: dict[str, Any],
    settings: Settings,
    *,
    time_limit: float,
    workers: int,
    fence: Fence | None = None,
    repair: dict[str, Any] | None = None,
) -> tuple[tuple[str, Period], Problem] | None:
    """Mark the run `running` and read its problem. None when it goes no further: a duplicate of an ended run; its
    version gone, its attempts spent or its problem refused (it ends, answered `DraftFailed`); or its workflow's
    draft phase ended before the solve (it ends `failed`, `GAVE_UP`)."""
    run_id = answer["run_id"]
    with transaction() as session:
        found = scope(session, command)
        started = None
        if found is not None:
            started = runs.start(session, run_id, command, time_limit, workers, settings.draft_attempts, repair)
    if found is None:
        refuse(fence, delivery, answer, None, f"Schedule version {command.version_id} does not exist.")
        return None
    if started is runs.Start.ENDED:
        log.info("%s run %s has ended already: %s is a duplicate", kind, run_id, delivery.message_id)
        return None
    if started is runs.Start.EXHAUSTED:
        why = (
            f"every one of its {settings.draft_attempts} attempts ended without a result: its worker stopped mid-solve"
        )
        refuse(fence, delivery, answer, found, why, DraftRunState.CRASHED)
        return None
    if fence is not None and superseded(fence):
        with transaction() as session:
            runs.fail(session, run_id, GAVE_UP)
        log.info("draft run %s: its workflow gave up waiting before the solve", run_id)
        return None
    try:
        with transaction() as session:
            problem = load_problem(session, command.version_id, options_from(settings))
    except DraftRefused as error:
        refuse(fence, delivery, answer, found, str(error))
        return None
    return found, problem


def draft_schedule(command: DraftSchedule, delivery: Delivery, settings: Settings) -> None:
    """A workflow's run whose phase has ended (the saga timed it out, or it was cancelled or retried) ends `failed`
    with `GAVE_UP`: before its solve when the command comes late, while it solves (the solver asks the fence between
    solves and every `HALT_EVERY_S` seconds within one, and stops), else when its result is fenced out."""
    fence = fence_of(command)
    run_id = ids.draft_run_id(delivery.message_id)
    time_limit = command.time_limit_s or settings.draft_time_limit_s
    workers = command.workers or settings.draft_workers
    answer = {"workflow_id": command.workflow_id, "request_id": command.request_id, "attempt": command.attempt,
              "run_id": run_id, "version_id": command.version_id}  # fmt: skip
    begun = _begin("draft", command, delivery, answer, settings, time_limit=time_limit, workers=workers, fence=fence)
    if begun is None:
        return
    found, problem = begun
    log.info("draft run %s: %d role-dates, %d people, %.0f s on %d workers", run_id, len(problem.role_dates),
             len(problem.readers), time_limit, workers)  # fmt: skip
    given_up = None if fence is None else partial(superseded, fence)
    try:
        result = draft(
            problem, time_limit=time_limit, workers=workers, progress=runs.ProgressRecorder(run_id), given_up=given_up
        )
    except Stopped:
        with transaction() as session:
            runs.fail(session, run_id, GAVE_UP)
        log.info("draft run %s: its workflow gave up waiting; the solve stopped", run_id)
        return
    with unit_of_work(CONSUMER, delivery, fence) as work:
        if work.skipped == "superseded":
            runs.fail(work.session, run_id, GAVE_UP)
            log.info("draft run %s: its workflow gave up waiting; the result is dropped", run_id)
            return
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


def _repair(asked: repairs.Asked, delivery: Delivery, run_id: uuid.UUID, settings: Settings) -> None:
    """A repair run, as a draft run goes: marked running, the problem read, the solve outside any transaction,
    then the rows, the figures, the inbox row and `RepairProposed` in one unit of work."""
    time_limit = asked.time_limit_s or settings.repair_time_limit_s
    workers = asked.workers or settings.draft_workers
    request = asked.request()
    answer = {"run_id": run_id, "version_id": asked.version_id}
    begun = _begin("repair", asked, delivery, answer, settings, time_limit=time_limit, workers=workers, repair=request)
    if begun is None:
        return
    found, problem = begun
    result = repair(
        problem, repairs.unavailable(request), request["why"], repairs.gaps_of(request),
        earliest=datetime.now(settings.tz).date(), reach=settings.repair_reach_days, time_limit=time_limit,
        workers=workers,
    )  # fmt: skip
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        repairs.complete(work.session, run_id, problem, result, request)
        work.publish(repairs.proposed(run_id, asked.version_id, found, problem, result))
    log.info("repair run %s: %d changes (bound %s) in %.2f s", run_id, result.changes, result.lower_bound,
             result.seconds)  # fmt: skip


def repair_schedule(command: RepairSchedule, delivery: Delivery, settings: Settings) -> None:
    _repair(repairs.Asked.of(command), delivery, ids.draft_run_id(delivery.message_id), settings)


def coverage_changed(event: CoverageChanged, delivery: Delivery, settings: Settings) -> None:
    """The watch's side of repair: gaps that closed by themselves make their open repairs OBSOLETE; mandatory
    gaps opened in a PRODUCTION version within the next `repair_horizon_days` start a repair run (unless an open
    one is filling them already)."""
    today = datetime.now(settings.tz).date()
    horizon = today + timedelta(days=settings.repair_horizon_days)
    with transaction() as session:
        repairs.obsolete(session, event.version_id, {(g.date, g.role) for g in event.gaps_closed}, CONSUMER)
        production = repairs.is_production(session, event.version_id)
        taken = set(repairs.open_targets(session, event.version_id)) if production else set()
    opened = sorted(
        {(g.date, g.role) for g in event.gaps_opened if g.severity == Severity.ERROR and today <= g.date <= horizon}
        - taken
    )
    if not production or not opened:
        with unit_of_work(CONSUMER, delivery):  # the inbox row only
            return
    asked = repairs.Asked(event.version_id, CONSUMER, "gaps opened", gaps=tuple(opened))
    _repair(asked, delivery, ids.derived_id(delivery.message_id, "repair-run"), settings)


HANDLERS: dict[type, Handler] = {DraftSchedule: in_thread(given_settings(draft_schedule))}
# on a queue of their own (services/drafting/registry.py): a repair never waits for a slot behind drafts
REPAIR_HANDLERS: dict[type, Handler] = {
    RepairSchedule: in_thread(given_settings(repair_schedule)),
    CoverageChanged: in_thread(given_settings(coverage_changed)),
}
