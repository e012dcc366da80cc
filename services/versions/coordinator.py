"""The saga coordinator: a workflow's rows, loaded and saved around the pure workflow machine (workflow.py).

Every step runs in one transaction: inbox row, workflow row locked (`FOR UPDATE`), the machine's transition,
and the outbox rows for its effects (the next command, or the final event). A result from a superseded
attempt, or for a phase that is not running, changes nothing. The steps themselves: intake.py (requests),
starts.py (re-scrapes and drafts), results.py (the phases' results), sweeper.py (deadlines),
operator_actions.py (retry, cancel).
"""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, String, Table, bindparam, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions import phases
from services.versions.phases import KIND_PHASES
from services.versions.workflow import Ended, Limits, PhaseRun, StartAttempt, WorkflowMachine
from shared.db.models import Workflow, WorkflowPhase
from shared.kernel import ids
from shared.kernel.contracts import (
    CalculateCoverage,
    Contract,
    DraftSchedule,
    ImportTemplate,
    Period,
    ScrapeAmion,
    TemplateSource,
    WorkflowCompleted,
    WorkflowFailed,
)
from shared.kernel.findings import Finding, Severity
from shared.kernel.states import Phase, PhaseState, WorkflowKind, WorkflowState
from shared.messaging import outbox
from shared.metrics import PHASE_DURATION
from shared.settings import Settings

CONSUMER = "versions"  # its inbox rows and its registry's queue are named by it


def now() -> datetime:
    return datetime.now(UTC)


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


def limits_for(request: StoredRequest, kind: WorkflowKind, settings: Settings) -> Limits:
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
        settings: Settings,
    ) -> None:
        self.session = session
        self.settings = settings
        self.workflow_id = workflow_id
        self.correlation_id: str = workflow.correlation_id
        self.kind = WorkflowKind(workflow.kind)
        self.version_id: uuid.UUID | None = workflow.version_id
        self.created_at: datetime = workflow.created_at
        self.finished_at: datetime | None = workflow.finished_at
        self.request = StoredRequest.model_validate(workflow.request)
        self._template = template
        self._saved = {phase: replace(run, messages=list(run.messages)) for phase, run in runs.items()}
        limits = limits_for(self.request, self.kind, settings)
        self.machine = WorkflowMachine(WorkflowState(workflow.state), runs, limits, kind=self.kind)

    @classmethod
    def load(
        cls, session: Session, workflow_id: uuid.UUID, settings: Settings, template: TemplateSource | None = None
    ) -> "Saga | None":
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
        return cls(session, workflow_id, workflow, runs, template, settings)

    def context(self) -> dict[str, Any]:
        """The fields of every message of this workflow that say which request it serves."""
        request = self.request
        return {
            "workflow_id": self.workflow_id,
            "request_id": request.request_id,
            "group": request.group,
            "period": request.period,
        }

    def save(self) -> list[PhaseRun]:
        """Write the machine's state back to the rows (only the phases that changed) and its effects to the
        outbox; returns the phase attempts this step ended."""
        saved_at = now()
        changed = []
        ended_runs = []
        for phase, run in self.machine.phases.items():
            before = self._saved[phase]
            if run == before:
                continue
            ended = before.state == PhaseState.RUNNING and run.state in (PhaseState.SUCCEEDED, PhaseState.FAILED)
            if ended and run.started_at is not None and run.finished_at is not None:
                ended_runs.append(run)
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
                self._end(effect, saved_at)
        self.machine.effects.clear()
        if self.machine.state == WorkflowState.RUNNING:
            self.finished_at = None
        self.session.execute(
            _UPDATE_WORKFLOW,
            {
                "b_workflow_id": self.workflow_id,
                "b_state": self.machine.state.value,
                "b_version_id": self.version_id,
                "b_now": saved_at,
                "b_finished_at": self.finished_at,
            },
        )
        if changed:
            self.session.execute(_UPDATE_PHASE, changed)
        return ended_runs

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
        today = self.created_at.astimezone(self.settings.tz).date()
        return max(today, self.request.period.start).replace(day=1)

    def _end(self, ended: Ended, at: datetime) -> None:
        self.finished_at = at
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
        return [Finding.model_validate(m) for m in run.final_messages() if m.get("severity") == Severity.ERROR.value]


def insert_phases(session: Session, workflow_id: uuid.UUID, kind: WorkflowKind) -> None:
    session.execute(
        insert(_phases),
        [
            {"workflow_id": workflow_id, "phase": spec.phase.value, "position": spec.position,
             "critical": spec.critical, "state": PhaseState.PENDING.value, "attempt": 0, "messages": []}
            for spec in KIND_PHASES[kind]
        ],
    )  # fmt: skip


def record_durations(ended: list[PhaseRun]) -> None:
    """The duration of each phase attempt a step ended, by phase and outcome."""
    for run in ended:
        assert run.started_at is not None and run.finished_at is not None  # save() returns only such runs
        PHASE_DURATION.labels(phase=run.phase.value, outcome=run.state.value).observe(
            (run.finished_at - run.started_at).total_seconds()
        )
