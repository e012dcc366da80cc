"""The saga coordinator: one row per workflow, moved phase by phase to a terminal state.

Every step runs in one transaction: inbox row, workflow row locked (`FOR UPDATE`), phase changes, and the
outbox row for the next command or the final event. An event for a phase that is not running (late,
duplicated, or for a finished workflow) changes nothing. Each running phase has a deadline; the sweeper
retries a phase past it while it has attempts left and fails it after that, so a workflow always ends,
even when a worker is dead.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions import phases
from services.versions.phases import PHASES, SPECS, TERMINAL, Phase, PhaseState, WorkflowState
from shared import ids
from shared.contracts import (
    AmionScraped,
    AmionScrapeFailed,
    CalculateCoverage,
    Contract,
    CoverageCalculated,
    CoverageFailed,
    ImportRequested,
    ImportTemplate,
    OdsImported,
    OdsImportFailed,
    ScrapeAmion,
    WorkflowCompleted,
    WorkflowFailed,
)
from shared.db.models import Workflow, WorkflowPhase
from shared.db.session import transaction
from shared.findings import Finding, Severity
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery
from shared.metrics import PHASE_DURATION
from shared.settings import get_settings

log = logging.getLogger(__name__)

CONSUMER = "versions"


class WorkflowRefused(Exception):
    """An operator's request that the workflow's state does not allow; the text says why."""


def _now() -> datetime:
    return datetime.now(UTC)


def note(text: str, severity: Severity = Severity.INFO, code: str = "NOTE") -> dict[str, Any]:
    return {"at": _now().isoformat(), "severity": severity.value, "code": code, "text": text, "location": None}


def _findings(findings: list[Finding]) -> list[dict[str, Any]]:
    return [{"at": _now().isoformat(), **f.model_dump(mode="json")} for f in findings]


class Saga:
    """The workflow row (locked) and its phases, within one transaction."""

    def __init__(self, session: Session, workflow: Workflow) -> None:
        self.session = session
        self.workflow = workflow
        rows = session.scalars(select(WorkflowPhase).where(WorkflowPhase.workflow_id == workflow.id)).all()
        self.phases = {Phase(p.phase): p for p in rows}
        self.request = ImportRequested.model_validate(workflow.request)

    @classmethod
    def load(cls, session: Session, workflow_id: uuid.UUID) -> "Saga | None":
        workflow = session.scalars(select(Workflow).where(Workflow.id == workflow_id).with_for_update()).first()
        return cls(session, workflow) if workflow is not None else None

    @property
    def finished(self) -> bool:
        return WorkflowState(self.workflow.state) in TERMINAL

    def running(self, phase: Phase) -> bool:
        return not self.finished and self.phases[phase].state == PhaseState.RUNNING

    def _touch(self) -> None:
        self.workflow.updated_at = _now()

    def add_messages(self, phase: Phase, messages: list[dict[str, Any]]) -> None:
        row = self.phases[phase]
        row.messages = [*row.messages, *messages]

    def finish_phase(self, phase: Phase, state: PhaseState, messages: list[dict[str, Any]]) -> None:
        row = self.phases[phase]
        row.state = state
        row.finished_at = _now()
        row.deadline_at = None
        if row.started_at is not None:
            PHASE_DURATION.labels(phase=phase.value, outcome=state.value).observe(
                (row.finished_at - row.started_at).total_seconds()
            )
        self.add_messages(phase, messages)
        self._touch()

    def command_for(self, phase: Phase, attempt: int) -> Contract:
        request = self.request
        if phase is Phase.ODS_IMPORT:
            return ImportTemplate(
                workflow_id=self.workflow.id, attempt=attempt, group=request.group, period=request.period,
                template=request.template, requested_by=request.requested_by,
            )  # fmt: skip
        assert self.workflow.version_id is not None
        if phase is Phase.AMION_SCRAPE:
            return ScrapeAmion(
                workflow_id=self.workflow.id, attempt=attempt, version_id=self.workflow.version_id,
                period=request.period, amion_account=request.amion_account,
            )  # fmt: skip
        return CalculateCoverage(workflow_id=self.workflow.id, attempt=attempt, version_id=self.workflow.version_id)

    def start_phase(self, phase: Phase) -> None:
        settings = get_settings()
        row = self.phases[phase]
        row.state = PhaseState.RUNNING
        row.attempt += 1
        row.started_at = _now()
        row.finished_at = None
        row.deadline_at = row.started_at + phases.timeout(
            phase, settings, self.request.period.start, self.request.period.end
        )
        self._touch()
        outbox.add(
            self.session,
            self.command_for(phase, row.attempt),
            message_id=ids.command_message_id(self.workflow.id, phase, row.attempt),
            correlation_id=str(self.workflow.id),
        )

    def retry_or_fail(self, phase: Phase, why: str, messages: list[dict[str, Any]]) -> None:
        """Another attempt when the phase has one left; otherwise the phase fails and the workflow goes on
        (or fails, for a critical phase)."""
        row = self.phases[phase]
        allowed = phases.attempts(phase, get_settings())
        if row.attempt - row.attempts_before_retry < allowed:
            upcoming = row.attempt + 1 - row.attempts_before_retry
            self.add_messages(phase, [*messages, note(f"{why}; retrying (attempt {upcoming} of {allowed})",
                                                      Severity.WARNING, "PHASE_RETRIED")])  # fmt: skip
            self.start_phase(phase)
            return
        self.finish_phase(phase, PhaseState.FAILED, [
            *messages, note(f"{why}; no attempts left ({allowed})", Severity.WARNING, "PHASE_FAILED"),
        ])  # fmt: skip
        self.after_failure(phase, why)

    def after_failure(self, phase: Phase, why: str) -> None:
        if SPECS[phase].critical:
            self.fail(f"{phase.value} failed: {why}", [])
        elif phase is Phase.AMION_SCRAPE:
            self.start_phase(Phase.COVERAGE)
        else:
            self.complete()

    def _end(self, state: WorkflowState, final: Contract) -> None:
        self.workflow.state = state
        self.workflow.finished_at = _now()
        self._touch()
        for row in self.phases.values():
            if row.state == PhaseState.PENDING:
                row.state = PhaseState.SKIPPED
        run = sum(row.attempt for row in self.phases.values())  # a retried workflow ends again: a new event
        outbox.add(
            self.session, final, message_id=f"{self.workflow.id}:final:{run}", correlation_id=str(self.workflow.id)
        )

    def complete(self) -> None:
        """COMPLETED_WITH_WARNINGS when a phase failed or recorded an ERROR (a month Amion could not give)."""
        troubled = [
            p
            for p in self.phases.values()
            if p.state == PhaseState.FAILED or any(m.get("severity") == Severity.ERROR.value for m in p.messages)
        ]
        state = WorkflowState.COMPLETED_WITH_WARNINGS if troubled else WorkflowState.COMPLETED
        assert self.workflow.version_id is not None
        self._end(
            state,
            WorkflowCompleted(
                workflow_id=self.workflow.id, request_id=self.workflow.request_id, state=state.value,
                version_id=self.workflow.version_id,
            ),
        )  # fmt: skip

    def fail(self, reason: str, findings: list[Finding]) -> None:
        self._end(
            WorkflowState.FAILED,
            WorkflowFailed(
                workflow_id=self.workflow.id, request_id=self.workflow.request_id, reason=reason, findings=findings
            ),
        )

    def time_out(self, phase: Phase) -> None:
        row = self.phases[phase]
        assert row.started_at is not None
        took = (_now() - row.started_at).total_seconds()
        self.retry_or_fail(phase, f"attempt {row.attempt} timed out after {took:.0f} s", [])

    def retry_from_failed_phase(self, actor: str) -> Phase:
        failed = [p for p in PHASES if self.phases[p.phase].state == PhaseState.FAILED]
        if not self.finished or not failed:
            raise WorkflowRefused(
                f"workflow {self.workflow.id} is {self.workflow.state} with no failed phase: nothing to retry"
            )
        first = failed[0].phase
        for spec in PHASES:
            if spec.position > failed[0].position:
                row = self.phases[spec.phase]
                row.state, row.started_at, row.finished_at, row.deadline_at = PhaseState.PENDING, None, None, None
        self.workflow.state = WorkflowState.RUNNING
        self.workflow.finished_at = None
        self.add_messages(first, [note(f"retried by {actor}")])
        self.phases[first].attempts_before_retry = self.phases[first].attempt
        self.start_phase(first)
        return first

    def cancel(self, actor: str, reason: str) -> None:
        if self.finished:
            raise WorkflowRefused(f"workflow {self.workflow.id} has already ended ({self.workflow.state})")
        for phase, row in self.phases.items():
            if row.state == PhaseState.RUNNING:
                self.finish_phase(phase, PhaseState.FAILED, [note(f"cancelled by {actor}: {reason}",
                                                                  Severity.WARNING, "CANCELLED")])  # fmt: skip
        self.fail(f"cancelled by {actor}: {reason}", [])


def start_workflow(request: ImportRequested, delivery: Delivery) -> uuid.UUID | None:
    """Create the workflow for a request and send phase 1; None when the request id is already known."""
    workflow_id = ids.workflow_id_for(request.request_id)
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return None
        created = session.execute(
            insert(Workflow)
            .values(
                id=workflow_id,
                request_id=request.request_id,
                group_name=request.group,
                state=WorkflowState.RUNNING,
                request=request.model_dump(mode="json"),
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(Workflow.id)
        ).first()
        if created is None:
            log.info("request %s already has workflow %s", request.request_id, workflow_id)
            return None
        for spec in PHASES:
            session.add(
                WorkflowPhase(
                    workflow_id=workflow_id, phase=spec.phase, position=spec.position, critical=spec.critical,
                    state=PhaseState.PENDING, attempt=0, messages=[],
                )
            )  # fmt: skip
        session.flush()
        saga = Saga.load(session, workflow_id)
        assert saga is not None
        saga.start_phase(Phase.ODS_IMPORT)
    return workflow_id


def _advance(workflow_id: uuid.UUID | None, phase: Phase, delivery: Delivery, step: Callable[[Saga], None]) -> None:
    if workflow_id is None:
        return
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        saga = Saga.load(session, workflow_id)
        if saga is None or not saga.running(phase):
            log.info("ignoring %s for %s: phase %s is not running", delivery.routing_key, workflow_id, phase)
            return
        step(saga)


def on_ods_imported(event: OdsImported, delivery: Delivery) -> None:
    def step(saga: Saga) -> None:
        summary = f"version {event.version_id}: {event.windows} windows, {event.shift_instances} shift instances"
        saga.finish_phase(Phase.ODS_IMPORT, PhaseState.SUCCEEDED, [note(summary), *_findings(event.findings)])
        saga.workflow.version_id = event.version_id
        saga.start_phase(Phase.AMION_SCRAPE)

    _advance(event.workflow_id, Phase.ODS_IMPORT, delivery, step)


def on_ods_import_failed(event: OdsImportFailed, delivery: Delivery) -> None:
    def step(saga: Saga) -> None:
        saga.finish_phase(Phase.ODS_IMPORT, PhaseState.FAILED, _findings(event.findings))
        saga.fail("the template has errors; no version was created", event.findings)

    _advance(event.workflow_id, Phase.ODS_IMPORT, delivery, step)


def on_amion_scraped(event: AmionScraped, delivery: Delivery) -> None:
    def step(saga: Saga) -> None:
        summary = f"scrape batch {event.batch_id} {event.state}: {event.assignments} assignments"
        saga.finish_phase(Phase.AMION_SCRAPE, PhaseState.SUCCEEDED, [note(summary), *_findings(event.findings)])
        saga.start_phase(Phase.COVERAGE)

    _advance(event.workflow_id, Phase.AMION_SCRAPE, delivery, step)


def on_amion_scrape_failed(event: AmionScrapeFailed, delivery: Delivery) -> None:
    def step(saga: Saga) -> None:
        messages = [note(event.reason, Severity.WARNING, "AMION_SCRAPE_FAILED"), *_findings(event.findings)]
        if event.retryable:
            saga.retry_or_fail(Phase.AMION_SCRAPE, "the scrape failed", messages)
        else:
            saga.finish_phase(Phase.AMION_SCRAPE, PhaseState.FAILED, messages)
            saga.after_failure(Phase.AMION_SCRAPE, event.reason)

    _advance(event.workflow_id, Phase.AMION_SCRAPE, delivery, step)


def on_coverage_calculated(event: CoverageCalculated, delivery: Delivery) -> None:
    def step(saga: Saga) -> None:
        s = event.summary
        summary = (
            f"calculation {event.calculation_id}: {s.cells} cells, ratio {s.coverage_ratio:.3f}, "
            f"{s.critical_gaps} critical gaps"
        )
        saga.finish_phase(Phase.COVERAGE, PhaseState.SUCCEEDED, [note(summary)])
        saga.complete()

    _advance(event.workflow_id, Phase.COVERAGE, delivery, step)


def on_coverage_failed(event: CoverageFailed, delivery: Delivery) -> None:
    def step(saga: Saga) -> None:
        saga.retry_or_fail(Phase.COVERAGE, event.reason, [note(event.reason, Severity.WARNING, "COVERAGE_FAILED")])

    _advance(event.workflow_id, Phase.COVERAGE, delivery, step)


def due_phases(session: Session, limit: int = 100) -> list[tuple[uuid.UUID, Phase]]:
    rows = session.execute(
        select(WorkflowPhase.workflow_id, WorkflowPhase.phase)
        .join(Workflow, Workflow.id == WorkflowPhase.workflow_id)
        .where(
            Workflow.state == WorkflowState.RUNNING,
            WorkflowPhase.state == PhaseState.RUNNING,
            WorkflowPhase.deadline_at < _now(),
        )
        .order_by(WorkflowPhase.deadline_at)
        .limit(limit)
    ).all()
    return [(workflow_id, Phase(phase)) for workflow_id, phase in rows]


def sweep_timeouts() -> int:
    """Retry or fail every running phase past its deadline; returns how many were handled."""
    with transaction() as session:
        due = due_phases(session)
    handled = 0
    for workflow_id, phase in due:
        with transaction() as session:
            saga = Saga.load(session, workflow_id)
            row = saga.phases[phase] if saga is not None else None
            if (
                saga is None
                or row is None
                or not saga.running(phase)
                or not row.deadline_at
                or row.deadline_at > _now()
            ):
                continue  # another coordinator, or a late result, got there first
            log.warning("workflow %s: %s attempt %d timed out", workflow_id, phase, row.attempt)
            saga.time_out(phase)
            handled += 1
    return handled


def operate(workflow_id: uuid.UUID, action: Callable[[Saga], Any]) -> Any:
    """Run an operator's action (retry, cancel) on one workflow, in one transaction."""
    with transaction() as session:
        saga = Saga.load(session, workflow_id)
        if saga is None:
            raise WorkflowRefused(f"no workflow {workflow_id}")
        return action(saga)
