"""The saga coordinator: one row per workflow, moved phase by phase to a terminal state.

Every handler runs in one transaction: inbox row, workflow row locked (`FOR UPDATE`), phase changes,
and the outbox row for the next command or the final event. An event for a phase that is not running
(late, duplicated, or for a finished workflow) changes nothing.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions.phases import PHASES, TERMINAL, Phase, PhaseState, WorkflowState
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
from shared.findings import Finding
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery

log = logging.getLogger(__name__)

CONSUMER = "versions"


def _now() -> datetime:
    return datetime.now(UTC)


def _note(text: str) -> dict[str, Any]:
    return {"at": _now().isoformat(), "severity": "INFO", "code": "NOTE", "text": text, "location": None}


def _findings(findings: list[Finding]) -> list[dict[str, Any]]:
    return [{"at": _now().isoformat(), **f.model_dump(mode="json")} for f in findings]


class _Saga:
    """The workflow row (locked) and its phases, within one transaction."""

    def __init__(self, session: Session, workflow: Workflow) -> None:
        self.session = session
        self.workflow = workflow
        rows = session.scalars(select(WorkflowPhase).where(WorkflowPhase.workflow_id == workflow.id)).all()
        self.phases = {Phase(p.phase): p for p in rows}

    @classmethod
    def load(cls, session: Session, workflow_id: uuid.UUID) -> "_Saga | None":
        workflow = session.scalars(select(Workflow).where(Workflow.id == workflow_id).with_for_update()).first()
        return cls(session, workflow) if workflow is not None else None

    def running(self, phase: Phase) -> bool:
        return WorkflowState(self.workflow.state) not in TERMINAL and self.phases[phase].state == PhaseState.RUNNING

    def finish_phase(self, phase: Phase, state: PhaseState, messages: list[dict[str, Any]]) -> None:
        row = self.phases[phase]
        row.state = state
        row.finished_at = _now()
        row.messages = [*row.messages, *messages]
        self.workflow.updated_at = _now()

    def start_phase(self, phase: Phase, command: Contract) -> None:
        row = self.phases[phase]
        row.state = PhaseState.RUNNING
        row.attempt += 1
        row.started_at = _now()
        row.finished_at = None
        self.workflow.updated_at = _now()
        outbox.add(
            self.session,
            command,
            message_id=ids.command_message_id(self.workflow.id, phase, row.attempt),
            correlation_id=str(self.workflow.id),
        )

    def end(self, state: WorkflowState, final: Contract) -> None:
        self.workflow.state = state
        self.workflow.finished_at = self.workflow.updated_at = _now()
        for row in self.phases.values():
            if row.state == PhaseState.PENDING:
                row.state = PhaseState.SKIPPED
        outbox.add(
            self.session,
            final,
            message_id=f"{self.workflow.id}:final",
            correlation_id=str(self.workflow.id),
        )

    def complete(self) -> None:
        failed = [p for p in self.phases.values() if p.state == PhaseState.FAILED]
        state = WorkflowState.COMPLETED_WITH_WARNINGS if failed else WorkflowState.COMPLETED
        assert self.workflow.version_id is not None
        self.end(
            state,
            WorkflowCompleted(
                workflow_id=self.workflow.id,
                request_id=self.workflow.request_id,
                state=state.value,
                version_id=self.workflow.version_id,
            ),
        )

    def fail(self, reason: str, findings: list[Finding]) -> None:
        self.end(
            WorkflowState.FAILED,
            WorkflowFailed(
                workflow_id=self.workflow.id, request_id=self.workflow.request_id, reason=reason, findings=findings
            ),
        )


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
                request=request.model_dump(mode="json", exclude={"template": {"inline_base64"}}),
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
                    workflow_id=workflow_id,
                    phase=spec.phase,
                    position=spec.position,
                    critical=spec.critical,
                    state=PhaseState.PENDING,
                    attempt=0,
                    messages=[],
                )
            )
        session.flush()
        saga = _Saga.load(session, workflow_id)
        assert saga is not None
        saga.start_phase(
            Phase.ODS_IMPORT,
            ImportTemplate(
                workflow_id=workflow_id,
                attempt=1,
                group=request.group,
                period=request.period,
                template=request.template,
                requested_by=request.requested_by,
            ),
        )
    return workflow_id


def _advance(workflow_id: uuid.UUID | None, phase: Phase, delivery: Delivery, step: Callable[["_Saga"], None]) -> None:
    if workflow_id is None:
        return
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        saga = _Saga.load(session, workflow_id)
        if saga is None or not saga.running(phase):
            log.info("ignoring %s for %s: phase %s is not running", delivery.routing_key, workflow_id, phase)
            return
        step(saga)


def on_ods_imported(event: OdsImported, delivery: Delivery) -> None:
    def step(saga: _Saga) -> None:
        saga.finish_phase(
            Phase.ODS_IMPORT,
            PhaseState.SUCCEEDED,
            [
                _note(f"version {event.version_id}: {event.windows} windows, {event.shift_instances} shift instances"),
                *_findings(event.findings),
            ],
        )
        saga.workflow.version_id = event.version_id
        saga.start_phase(
            Phase.AMION_SCRAPE,
            ScrapeAmion(
                workflow_id=event.workflow_id,
                attempt=saga.phases[Phase.AMION_SCRAPE].attempt + 1,
                version_id=event.version_id,
                period=event.period,
                amion_account=saga.workflow.request["amion_account"],
            ),
        )

    _advance(event.workflow_id, Phase.ODS_IMPORT, delivery, step)


def on_ods_import_failed(event: OdsImportFailed, delivery: Delivery) -> None:
    def step(saga: _Saga) -> None:
        saga.finish_phase(Phase.ODS_IMPORT, PhaseState.FAILED, _findings(event.findings))
        saga.fail("the template has errors; no version was created", event.findings)

    _advance(event.workflow_id, Phase.ODS_IMPORT, delivery, step)


def _start_coverage(saga: _Saga) -> None:
    assert saga.workflow.version_id is not None
    saga.start_phase(
        Phase.COVERAGE,
        CalculateCoverage(
            workflow_id=saga.workflow.id,
            attempt=saga.phases[Phase.COVERAGE].attempt + 1,
            version_id=saga.workflow.version_id,
        ),
    )


def on_amion_scraped(event: AmionScraped, delivery: Delivery) -> None:
    def step(saga: _Saga) -> None:
        saga.finish_phase(
            Phase.AMION_SCRAPE,
            PhaseState.SUCCEEDED,
            [
                _note(f"scrape batch {event.batch_id} {event.state}: {event.assignments} assignments"),
                *_findings(event.findings),
            ],
        )
        _start_coverage(saga)

    _advance(event.workflow_id, Phase.AMION_SCRAPE, delivery, step)


def on_amion_scrape_failed(event: AmionScrapeFailed, delivery: Delivery) -> None:
    def step(saga: _Saga) -> None:
        saga.finish_phase(
            Phase.AMION_SCRAPE,
            PhaseState.FAILED,
            [
                {**_note(event.reason), "severity": "WARNING", "code": "AMION_SCRAPE_FAILED"},
                *_findings(event.findings),
            ],
        )
        _start_coverage(saga)

    _advance(event.workflow_id, Phase.AMION_SCRAPE, delivery, step)


def on_coverage_calculated(event: CoverageCalculated, delivery: Delivery) -> None:
    def step(saga: _Saga) -> None:
        s = event.summary
        saga.finish_phase(
            Phase.COVERAGE,
            PhaseState.SUCCEEDED,
            [
                _note(
                    f"calculation {event.calculation_id}: {s.cells} cells, ratio {s.coverage_ratio:.3f}, "
                    f"{s.critical_gaps} critical gaps"
                ),
            ],
        )
        saga.complete()

    _advance(event.workflow_id, Phase.COVERAGE, delivery, step)


def on_coverage_failed(event: CoverageFailed, delivery: Delivery) -> None:
    def step(saga: _Saga) -> None:
        saga.finish_phase(
            Phase.COVERAGE,
            PhaseState.FAILED,
            [
                {**_note(event.reason), "severity": "WARNING", "code": "COVERAGE_FAILED"},
            ],
        )
        saga.complete()

    _advance(event.workflow_id, Phase.COVERAGE, delivery, step)
