"""The saga coordinator: persistence and messaging around the pure workflow machine (workflow.py).

Every step runs in one transaction: inbox row, workflow row locked (`FOR UPDATE`), the machine's transition,
and the outbox rows for its effects (the next command, or the final event). A result from a superseded
attempt, or for a phase that is not running, changes nothing. The sweeper retries or fails phases past their
deadline, so a workflow always ends, even when a worker is dead.
"""

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Row, String, Table, bindparam, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions import phases
from services.versions.phases import KIND_PHASES
from services.versions.requests import kind_text, reuse_reason, reused_text
from services.versions.workflow import (
    Ended,
    Limits,
    Message,
    PhaseRun,
    Refused,
    StartAttempt,
    Verdict,
    WorkflowMachine,
    note,
)
from shared import audit, ids
from shared.contracts import (
    SCHEMA_VERSION,
    AmionScraped,
    AmionScrapeFailed,
    CalculateCoverage,
    Contract,
    CoverageCalculated,
    CoverageFailed,
    DraftChecked,
    DraftFailed,
    DraftProposed,
    DraftSchedule,
    ImportAccepted,
    ImportRejected,
    ImportRequested,
    ImportTemplate,
    OdsImported,
    OdsImportFailed,
    Period,
    PhaseResult,
    RequestDraft,
    ScrapeAmion,
    TemplateSource,
    WorkflowCompleted,
    WorkflowFailed,
)
from shared.db.models import HospitalGroup, ScheduleVersion, Workflow, WorkflowPhase
from shared.db.session import transaction
from shared.findings import Finding, Severity
from shared.messaging import outbox
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import UnitOfWork, unit_of_work
from shared.metrics import PHASE_DURATION
from shared.settings import get_settings
from shared.states import Phase, PhaseState, WorkflowKind, WorkflowState, WorkflowTrigger

log = logging.getLogger(__name__)

CONSUMER = "versions"
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _findings(findings: list[Finding]) -> list[Message]:
    return [{"at": _now().isoformat(), **f.model_dump(mode="json")} for f in findings]


class StoredRequest(BaseModel):
    """The fields of a workflow's stored request that every step needs: of an ImportRequested all but the
    template, which only phase 1's command carries (and which is most of the request's size); of a DRAFT, the
    draft's reason, time limit and workers too."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str
    group: str
    period: Period
    amion_account: str | None = None  # None: a DRAFT's
    requested_by: str
    reason: str | None = None
    time_limit_s: float | None = None
    workers: int | None = None


def limits_for(request: StoredRequest, kind: WorkflowKind) -> Limits:
    settings = get_settings()
    start, end = request.period.start, request.period.end
    specs = KIND_PHASES[kind]
    return Limits(
        attempts={spec.phase: phases.attempts(spec.phase, settings) for spec in specs},
        timeouts={spec.phase: phases.timeout(spec.phase, settings, start, end, request.time_limit_s) for spec in specs},
    )


_workflows = cast(Table, Workflow.__table__)
_phases = cast(Table, WorkflowPhase.__table__)
_LOCK_WORKFLOW = (
    select(
        _workflows.c.correlation_id,
        _workflows.c.state,
        _workflows.c.kind,
        _workflows.c.version_id,
        _workflows.c.created_at,
        _workflows.c.finished_at,
        _workflows.c.request.op("-")(literal("template", String)).label("request"),
    )
    .where(_workflows.c.id == bindparam("workflow_id"))
    .with_for_update()
)
# a statement of its own after the lock: in READ COMMITTED it sees what the lock's previous holder committed
_READ_PHASES = select(
    _phases.c.phase,
    _phases.c.state,
    _phases.c.attempt,
    _phases.c.attempts_before_retry,
    _phases.c.started_at,
    _phases.c.finished_at,
    _phases.c.deadline_at,
    _phases.c.messages,
).where(_phases.c.workflow_id == bindparam("workflow_id"))
_READ_TEMPLATE = select(_workflows.c.request["template"]).where(_workflows.c.id == bindparam("workflow_id"))
_UPDATE_WORKFLOW = (
    update(_workflows)
    .where(_workflows.c.id == bindparam("b_workflow_id"))
    .values(
        state=bindparam("b_state"),
        version_id=bindparam("b_version_id"),
        updated_at=bindparam("b_now"),
        finished_at=bindparam("b_finished_at"),
    )
)
_UPDATE_PHASE = (
    update(_phases)
    .where(_phases.c.workflow_id == bindparam("b_workflow_id"), _phases.c.phase == bindparam("b_phase"))
    .values(
        state=bindparam("b_state"),
        attempt=bindparam("b_attempt"),
        attempts_before_retry=bindparam("b_attempts_before_retry"),
        started_at=bindparam("b_started_at"),
        finished_at=bindparam("b_finished_at"),
        deadline_at=bindparam("b_deadline_at"),
        messages=bindparam("b_messages", type_=_phases.c.messages.type),
    )
)


class Saga:
    """A workflow row (locked) and its phase rows, as a machine, within one transaction. Core statements, not the
    ORM: each step is a handful of statements whose ORM bookkeeping cost more than the statements themselves."""

    def __init__(
        self,
        session: Session,
        workflow_id: uuid.UUID,
        workflow: Row[Any],
        runs: dict[Phase, PhaseRun],
        template: TemplateSource | None,
    ) -> None:
        self.session = session
        self.workflow_id = workflow_id
        self.correlation_id: str = workflow.correlation_id
        self.kind = WorkflowKind(workflow.kind)
        self.version_id: uuid.UUID | None = workflow.version_id
        self.created_at: datetime = workflow.created_at
        self.finished_at: datetime | None = workflow.finished_at
        self.request = StoredRequest.model_validate(workflow.request)
        self._template = template
        self._saved = {phase: replace(run, messages=list(run.messages)) for phase, run in runs.items()}
        limits = limits_for(self.request, self.kind)
        self.machine = WorkflowMachine(WorkflowState(workflow.state), runs, limits, kind=self.kind)

    @classmethod
    def load(cls, session: Session, workflow_id: uuid.UUID, template: TemplateSource | None = None) -> "Saga | None":
        """The workflow, its row locked until the transaction ends; `template`, when the caller has the request's
        at hand, spares reading it for a phase 1 command."""
        workflow = session.execute(_LOCK_WORKFLOW, {"workflow_id": workflow_id}).first()
        if workflow is None:
            return None
        runs = {
            Phase(r.phase): PhaseRun(
                Phase(r.phase),
                PhaseState(r.state),
                r.attempt,
                r.attempts_before_retry,
                r.started_at,
                r.finished_at,
                r.deadline_at,
                list(r.messages),
            )
            for r in session.execute(_READ_PHASES, {"workflow_id": workflow_id})
        }
        return cls(session, workflow_id, workflow, runs, template)

    def context(self) -> dict[str, Any]:
        """The fields of every message of this workflow that say which request it serves."""
        request = self.request
        return {
            "workflow_id": self.workflow_id,
            "request_id": request.request_id,
            "group": request.group,
            "period": request.period,
        }

    def save(self) -> None:
        """Write the machine's state back to the rows (only the phases that changed) and its effects to the
        outbox."""
        now = _now()
        changed = []
        for phase, run in self.machine.phases.items():
            before = self._saved[phase]
            if run == before:
                continue
            ended = before.state == PhaseState.RUNNING and run.state in (PhaseState.SUCCEEDED, PhaseState.FAILED)
            if ended and run.started_at is not None and run.finished_at is not None:
                PHASE_DURATION.labels(phase=phase.value, outcome=run.state.value).observe(
                    (run.finished_at - run.started_at).total_seconds()
                )
            changed.append(
                {
                    "b_workflow_id": self.workflow_id,
                    "b_phase": phase.value,
                    "b_state": run.state.value,
                    "b_attempt": run.attempt,
                    "b_attempts_before_retry": run.attempts_before_retry,
                    "b_started_at": run.started_at,
                    "b_finished_at": run.finished_at,
                    "b_deadline_at": run.deadline_at,
                    "b_messages": run.messages,
                }
            )
            self._saved[phase] = replace(run, messages=list(run.messages))
        for effect in self.machine.effects:
            if isinstance(effect, StartAttempt):
                self._send(
                    self._command(effect.phase, effect.attempt),
                    ids.command_message_id(self.workflow_id, effect.phase, effect.attempt),
                )
            elif isinstance(effect, Ended):
                self._end(effect, now)
        self.machine.effects.clear()
        if self.machine.state == WorkflowState.RUNNING:
            self.finished_at = None
        self.session.execute(
            _UPDATE_WORKFLOW,
            {
                "b_workflow_id": self.workflow_id,
                "b_state": self.machine.state.value,
                "b_version_id": self.version_id,
                "b_now": now,
                "b_finished_at": self.finished_at,
            },
        )
        if changed:
            self.session.execute(_UPDATE_PHASE, changed)

    def _send(self, message: Contract, message_id: str) -> None:
        outbox.add(self.session, message, message_id=message_id, correlation_id=self.correlation_id)

    def _template_source(self) -> TemplateSource:
        if self._template is None:
            stored = self.session.execute(_READ_TEMPLATE, {"workflow_id": self.workflow_id}).scalar_one()
            self._template = TemplateSource.model_validate(stored)
        return self._template

    def _command(self, phase: Phase, attempt: int) -> Contract:
        request = self.request
        if phase is Phase.ODS_IMPORT:
            return ImportTemplate(
                **self.context(), attempt=attempt, template=self._template_source(), requested_by=request.requested_by
            )
        assert self.version_id is not None
        if phase is Phase.DRAFT:
            return DraftSchedule(
                **self.context(), attempt=attempt, version_id=self.version_id, requested_by=request.requested_by,
                reason=request.reason, time_limit_s=request.time_limit_s, workers=request.workers,
            )  # fmt: skip
        if phase is Phase.AMION_SCRAPE:
            assert request.amion_account is not None
            return ScrapeAmion(
                **self.context(),
                attempt=attempt,
                version_id=self.version_id,
                amion_account=request.amion_account,
                months_from=self._months_from(),
            )
        return CalculateCoverage(
            **self.context(), attempt=attempt, version_id=self.version_id, draft_run_id=self.draft_run_id()
        )

    def draft_run_id(self) -> uuid.UUID | None:
        """A DRAFT's run: the one its draft phase's last attempt started."""
        if self.kind != WorkflowKind.DRAFT:
            return None
        attempt = self.machine.phases[Phase.DRAFT].attempt
        return ids.draft_run_id(ids.command_message_id(self.workflow_id, Phase.DRAFT, attempt))

    def _months_from(self) -> date | None:
        """A re-scrape fetches the months from the one it started in (in the group's zone) on."""
        if self.kind != WorkflowKind.RESCRAPE:
            return None
        today = self.created_at.astimezone(get_settings().tz).date()
        return max(today, self.request.period.start).replace(day=1)

    def _end(self, ended: Ended, now: datetime) -> None:
        self.finished_at = now
        final: Contract
        if ended.state == WorkflowState.FAILED:
            final = WorkflowFailed(**self.context(), reason=ended.reason or "failed", findings=self._ods_findings())
        else:
            assert self.version_id is not None
            final = WorkflowCompleted(
                **self.context(),
                state=ended.state.value,
                version_id=self.version_id,
                warnings=list(ended.warnings),
            )
        self._send(final, f"{self.workflow_id}:final:{ended.run}")

    def _ods_findings(self) -> list[Finding]:
        """The template's ERRORs, when phase 1 failed on them (a DRAFT workflow has no import phase)."""
        run = self.machine.phases.get(Phase.ODS_IMPORT)
        if run is None or run.state != PhaseState.FAILED:
            return []
        return [
            Finding(severity=Severity(m["severity"]), code=m["code"], text=m["text"], location=m.get("location"))
            for m in run.final_messages()
            if m.get("severity") == Severity.ERROR.value
        ]


def start_workflow(request: ImportRequested, delivery: Delivery) -> None:
    """Create the workflow for a request and send phase 1, answering ImportAccepted; the identical request again
    is answered with the existing workflow, a request id reused for another request with ImportRejected. A
    message id reused with another body (a producer that derives message ids from request ids, as `schedcu
    submit` does) is answered the same way when its request id names a workflow, else MESSAGE_ID_REUSED."""
    workflow_id = ids.workflow_id_for(request.request_id)
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped == "reused":
            if work.session.get(Workflow, workflow_id) is None:
                _reject_reused_message(work, request)
            else:
                _answer_known_request(work, request, workflow_id, f"-{(delivery.body_sha256 or '')[:16]}")
            return
        if work.skipped:
            return
        created = work.session.execute(
            insert(Workflow)
            .values(
                id=workflow_id,
                request_id=request.request_id,
                correlation_id=delivery.correlation_id or request.request_id,
                group_name=request.group,
                state=WorkflowState.RUNNING,
                request=request.model_dump(mode="json"),
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(Workflow.id)
        ).first()
        if created is None:
            _answer_known_request(work, request, workflow_id)
            return
        _insert_phases(work.session, workflow_id, WorkflowKind.IMPORT)
        saga = Saga.load(work.session, workflow_id, request.template)
        assert saga is not None
        saga.machine.begin(_now())
        saga.save()
        work.publish(ImportAccepted(**saga.context(), state=saga.machine.state), "accepted")


def _insert_phases(session: Session, workflow_id: uuid.UUID, kind: WorkflowKind) -> None:
    session.execute(
        insert(_phases),
        [
            {"workflow_id": workflow_id, "phase": spec.phase.value, "position": spec.position,
             "critical": spec.critical, "state": PhaseState.PENDING.value, "attempt": 0, "messages": []}
            for spec in KIND_PHASES[kind]
        ],
    )  # fmt: skip


def start_rescrape(session: Session, version_id: uuid.UUID, import_workflow_id: uuid.UUID, cause: str) -> uuid.UUID:
    """A RESCRAPE workflow of `version_id`, triggered by the watch: the version's import request under a request
    id of its own (`watch:<cause>`), starting at the Amion scrape, stored without its template (no phase of a
    re-scrape reads it). The same cause gives the same workflow."""
    imported = session.get(Workflow, import_workflow_id)
    assert imported is not None
    request_id = f"watch:{cause}"[:200]
    request = ImportRequested.model_validate(imported.request).model_copy(
        update={"request_id": request_id, "requested_by": WorkflowTrigger.WATCH.value}
    )
    workflow_id = ids.workflow_id_for(request_id)
    created = session.execute(
        insert(Workflow)
        .values(
            id=workflow_id,
            request_id=request_id,
            correlation_id=request_id,
            group_name=request.group,
            state=WorkflowState.RUNNING,
            kind=WorkflowKind.RESCRAPE,
            trigger=WorkflowTrigger.WATCH,
            version_id=version_id,
            request=request.model_dump(mode="json", exclude={"template"}),
            created_at=_now(),
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(Workflow.id)
    ).first()
    if created is None:
        return workflow_id
    _insert_phases(session, workflow_id, WorkflowKind.RESCRAPE)
    saga = Saga.load(session, workflow_id)
    assert saga is not None
    saga.machine.begin(_now())
    saga.save()
    return workflow_id


def draft_request_id(message_id: str) -> str:
    """A DRAFT workflow's request id: one per RequestDraft message."""
    return f"draft:{message_id}"[:200]


def start_draft(command: RequestDraft, delivery: Delivery) -> None:
    """A DRAFT workflow of the version: its draft phase (DraftSchedule), then the coverage of the version with
    the draft's rows. The same message again finds the workflow it started; a version that does not exist starts
    nothing (the command line checks it before it asks)."""
    request_id = draft_request_id(delivery.message_id)
    workflow_id = ids.workflow_id_for(request_id)
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        scope = work.session.execute(
            select(HospitalGroup.name, ScheduleVersion.period_start, ScheduleVersion.period_end)
            .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
            .where(ScheduleVersion.id == command.version_id)
        ).first()
        if scope is None:
            log.warning("draft of version %s not started: the version does not exist", command.version_id)
            return
        group, start, end = scope
        stored = StoredRequest(
            request_id=request_id, group=group, period=Period(start=start, end=end),
            requested_by=command.requested_by, reason=command.reason, time_limit_s=command.time_limit_s,
            workers=command.workers,
        )  # fmt: skip
        created = work.session.execute(
            insert(Workflow)
            .values(
                id=workflow_id,
                request_id=request_id,
                correlation_id=delivery.correlation_id or request_id,
                group_name=group,
                state=WorkflowState.RUNNING,
                kind=WorkflowKind.DRAFT,
                version_id=command.version_id,
                request=stored.model_dump(mode="json"),
                created_at=_now(),
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(Workflow.id)
        ).first()
        if created is None:
            return
        _insert_phases(work.session, workflow_id, WorkflowKind.DRAFT)
        saga = Saga.load(work.session, workflow_id)
        assert saga is not None
        saga.machine.begin(_now())
        saga.save()


def reject_request(body: bytes, delivery: Delivery, reason: str) -> None:
    """Answer an ImportRequested that failed validation with ImportRejected (the dead-letter entry stays)."""
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's recursion limit
        fields = None
    fields = fields if isinstance(fields, dict) else {}
    request_id = fields.get("request_id")
    version = fields.get("schema_version")
    code: Literal["INVALID_TEMPLATE_SOURCE", "INVALID_REQUEST", "SCHEMA_VERSION_UNSUPPORTED"] = "INVALID_REQUEST"
    if isinstance(version, int) and version > SCHEMA_VERSION:
        code = "SCHEMA_VERSION_UNSUPPORTED"
    elif "template" in fields and not _valid_template(fields["template"]):
        code = "INVALID_TEMPLATE_SOURCE"
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        work.publish(
            ImportRejected(
                code=code,
                reason=reason,
                request_message_id=delivery.message_id,
                request_correlation_id=delivery.correlation_id,
                request_id=request_id[:200] if isinstance(request_id, str) else None,
            ),
            "rejected",
        )


def _valid_template(template: object) -> bool:
    try:
        TemplateSource.model_validate(template)
    except ValidationError:
        return False
    return True


def _reject_reused(work: UnitOfWork, request: ImportRequested, workflow_id: uuid.UUID, reason: str, tag: str) -> None:
    log.warning("request id %s reused: %s", request.request_id, reason)
    work.publish(
        ImportRejected(
            code="REQUEST_ID_REUSED",
            reason=reason,
            request_message_id=work.delivery.message_id,
            request_correlation_id=work.delivery.correlation_id,
            request_id=request.request_id,
            workflow_id=workflow_id,
        ),
        f"rejected{tag}",
    )


def _reject_reused_message(work: UnitOfWork, request: ImportRequested) -> None:
    message_id = work.delivery.message_id
    log.warning("message id %s reused by request %s", message_id, request.request_id)
    work.publish(
        ImportRejected(
            code="MESSAGE_ID_REUSED",
            reason=f"message id {message_id!r} was used before by a message with another body; send every new "
            "message with a new message id",
            request_message_id=message_id,
            request_correlation_id=work.delivery.correlation_id,
            request_id=request.request_id,
        ),
        f"reused-{(work.delivery.body_sha256 or '')[:16]}",
    )


def _answer_known_request(work: UnitOfWork, request: ImportRequested, workflow_id: uuid.UUID, tag: str = "") -> None:
    """`tag` tells this answer's message id apart from the answers to earlier messages with the same id."""
    existing = work.session.get(Workflow, workflow_id)
    assert existing is not None
    if existing.kind != WorkflowKind.IMPORT:
        reason = reused_text(request.request_id, workflow_id, kind_text(existing.kind))
        _reject_reused(work, request, workflow_id, reason, tag)
        return
    known = ImportRequested.model_validate(existing.request)
    reason = reuse_reason(known, request, workflow_id)
    if reason is not None:
        _reject_reused(work, request, workflow_id, reason, tag)
        return
    log.info("request %s already has workflow %s (%s)", request.request_id, workflow_id, existing.state)
    work.publish(
        ImportAccepted(
            workflow_id=workflow_id,
            request_id=known.request_id,
            group=known.group,
            period=known.period,
            state=existing.state,
        ),
        f"accepted{tag}",
    )


def _on_result(
    event: PhaseResult | CoverageCalculated | CoverageFailed | DraftProposed | DraftFailed,
    phase: Phase,
    delivery: Delivery,
    step: Callable[[Saga, datetime], Verdict],
) -> None:
    if event.workflow_id is None:
        return  # an operator's recalculation: no workflow to advance
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        saga = Saga.load(work.session, event.workflow_id)
        if saga is None:
            log.warning("ignoring %s: no workflow %s", delivery.routing_key, event.workflow_id)
            return
        verdict = step(saga, _now())
        if verdict is not Verdict.ACCEPTED:
            log.info(
                "ignoring %s of attempt %d for workflow %s: %s (phase %s, attempt %d)",
                delivery.routing_key,
                event.attempt,
                event.workflow_id,
                verdict,
                saga.machine.phases[phase].state,
                saga.machine.phases[phase].attempt,
            )
            return
        saga.save()


def on_ods_imported(event: OdsImported, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        if saga.machine.accepts(Phase.ODS_IMPORT, event.attempt) is Verdict.ACCEPTED:
            saga.version_id = event.version_id
        summary = f"version {event.version_id}: {event.windows} windows, {event.shift_instances} shift instances"
        return saga.machine.succeed(
            Phase.ODS_IMPORT, event.attempt, now, [note(now, summary), *_findings(event.findings)]
        )

    _on_result(event, Phase.ODS_IMPORT, delivery, step)


def on_ods_import_failed(event: OdsImportFailed, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        why = "the template has errors; no version was created"
        return saga.machine.fail(Phase.ODS_IMPORT, event.attempt, now, why, _findings(event.findings), False)

    _on_result(event, Phase.ODS_IMPORT, delivery, step)


def on_amion_scraped(event: AmionScraped, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        summary = f"scrape batch {event.batch_id} {event.state}: {event.assignments} assignments"
        return saga.machine.succeed(
            Phase.AMION_SCRAPE, event.attempt, now, [note(now, summary), *_findings(event.findings)]
        )

    _on_result(event, Phase.AMION_SCRAPE, delivery, step)


def on_amion_scrape_failed(event: AmionScrapeFailed, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        messages = [note(now, event.reason, Severity.WARNING, "AMION_SCRAPE_FAILED"), *_findings(event.findings)]
        why = "the scrape failed" if event.retryable else event.reason
        return saga.machine.fail(Phase.AMION_SCRAPE, event.attempt, now, why, messages, event.retryable)

    _on_result(event, Phase.AMION_SCRAPE, delivery, step)


def on_coverage_calculated(event: CoverageCalculated, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        s = event.summary
        summary = (
            f"calculation {event.calculation_id}: {s.cells} cells, ratio {s.coverage_ratio:.3f}, "
            f"{s.critical_gaps} critical gaps"
        )
        missing = [
            note(now, f"no Amion data for {m.month} ({m.start} to {m.end}, {m.cells} cells): {m.reason}",
                 Severity.WARNING, "AMION_DATA_MISSING")
            for m in s.unknown_months
        ]  # fmt: skip
        return saga.machine.succeed(Phase.COVERAGE, event.attempt, now, [note(now, summary), *missing])

    _on_result(event, Phase.COVERAGE, delivery, step)


def on_coverage_failed(event: CoverageFailed, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        messages = [note(now, event.reason, Severity.WARNING, "COVERAGE_FAILED")]
        return saga.machine.fail(Phase.COVERAGE, event.attempt, now, event.reason, messages, True)

    _on_result(event, Phase.COVERAGE, delivery, step)


def on_draft_proposed(event: DraftProposed, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        summary = (
            f"draft run {event.run_id} {event.outcome}: {event.filled} of {event.to_fill} roles filled "
            f"({event.kept} kept), {event.seconds:.1f} s"
        )
        unfilled = [
            note(now, f"{event.unfilled} roles left unfilled (`schedcu draft show {event.run_id}` says why)",
                 Severity.WARNING, "DRAFT_UNFILLED")
        ] if event.unfilled else []  # fmt: skip
        return saga.machine.succeed(Phase.DRAFT, event.attempt, now, [note(now, summary), *unfilled])

    _on_result(event, Phase.DRAFT, delivery, step)


def on_draft_failed(event: DraftFailed, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        messages = [note(now, event.reason, Severity.WARNING, "DRAFT_FAILED")]
        return saga.machine.fail(Phase.DRAFT, event.attempt, now, event.reason, messages, False)

    _on_result(event, Phase.DRAFT, delivery, step)


def on_draft_checked(event: DraftChecked, delivery: Delivery) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        s = event.summary
        summary = (
            f"coverage of draft run {event.run_id}: {s.cells} cells, ratio {s.coverage_ratio:.3f}, "
            f"{s.critical_gaps} critical gaps, {len(event.findings)} findings"
        )
        return saga.machine.succeed(
            Phase.COVERAGE, event.attempt, now, [note(now, summary), *_findings(event.findings)]
        )

    _on_result(event, Phase.COVERAGE, delivery, step)


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
            if saga is None:
                continue
            attempt = saga.machine.phases[phase].attempt
            if saga.machine.time_out(phase, _now()):  # else another coordinator, or a late result, got there first
                log.warning("workflow %s: %s attempt %d timed out", workflow_id, phase, attempt)
                saga.save()
                handled += 1
    return handled


def _operate(
    workflow_id: uuid.UUID,
    actor: str,
    action: str,
    reason: str | None,
    change: Callable[[WorkflowMachine, datetime], T],
) -> T:
    """Run an operator's action on one workflow and audit it with its actor, in one transaction."""
    with transaction() as session:
        saga = Saga.load(session, workflow_id)
        if saga is None:
            raise Refused(f"no workflow {workflow_id}")
        before = saga.machine.state
        result = change(saga.machine, _now())
        saga.save()
        audit.record(
            session, actor=actor, entity="workflow", entity_id=str(workflow_id), action=action,
            from_state=str(before), to_state=str(saga.machine.state), reason=reason, details={},
        )  # fmt: skip
        return result


def retry(workflow_id: uuid.UUID, actor: str) -> Phase:
    """An operator's retry of a failed workflow from its failed phase; returns that phase."""
    return _operate(workflow_id, actor, "retry", None, lambda machine, now: machine.retry(actor, now))


def cancel(workflow_id: uuid.UUID, actor: str, reason: str) -> None:
    """An operator stops a running workflow; it ends FAILED."""
    _operate(workflow_id, actor, "cancel", reason, lambda machine, now: machine.cancel(actor, reason, now))
