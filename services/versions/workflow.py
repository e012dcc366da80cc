"""A workflow as a state machine: phases, attempts, deadlines, criticality, terminal states and fencing.

Three kinds (`WorkflowKind`), each with its phases (services/versions/phases.py): an IMPORT runs template, Amion
and coverage; a RESCRAPE (the watch saw Amion change) starts at the Amion scrape of an existing version and runs
the coverage after it, its template phase SKIPPED from the start; a DRAFT drafts a version's period, then
calculates the coverage of the version with the draft's rows.

Pure: no database, no broker, no clock. Time, attempts and limits come in as values; what must happen next
comes out as effects (`StartAttempt`: send the phase's command for this attempt; `Ended`: announce the end),
which the coordinator (services/versions/coordinator.py) turns into outbox rows in the same transaction.

Fencing: a phase result counts only when it comes from the phase's current attempt while the phase runs and
the workflow has not ended (`accepts`). Anything else is `LATE` or `NOT_RUNNING` and changes nothing.

Every message recorded for a phase carries the attempt it belongs to. When the workflow completes, only the
messages of each phase's final attempt count: an attempt that failed and was retried successfully stays in
the history without downgrading the workflow.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.versions.phases import FIRST_PHASE, KIND_PHASES, PhaseSpec
from shared.kernel.findings import Severity
from shared.kernel.states import TERMINAL, Phase, PhaseState, WorkflowKind, WorkflowState

Message = dict[str, Any]

# Codes that leave the workflow with warnings even at a lower severity than ERROR.
WARNING_CODES = frozenset({"AMION_DATA_MISSING", "DRAFT_UNFILLED"})


class Refused(Exception):
    """An operator's action that the workflow's state does not allow; the text says why."""


class Verdict(StrEnum):
    ACCEPTED = "ACCEPTED"
    LATE = "LATE"  # from an attempt that is no longer the current one
    NOT_RUNNING = "NOT_RUNNING"  # the phase is not running, or the workflow has ended


@dataclass
class PhaseRun:
    phase: Phase
    state: PhaseState = PhaseState.PENDING
    attempt: int = 0
    attempts_before_retry: int = 0  # the attempt count when an operator last retried this phase
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime | None = None
    messages: list[Message] = field(default_factory=list)

    def final_messages(self) -> list[Message]:
        return [m for m in self.messages if m.get("attempt", self.attempt) == self.attempt]


@dataclass(frozen=True)
class Limits:
    attempts: Mapping[Phase, int]
    timeouts: Mapping[Phase, timedelta]


@dataclass(frozen=True)
class StartAttempt:
    phase: Phase
    attempt: int


@dataclass(frozen=True)
class Ended:
    state: WorkflowState
    run: int  # attempts made over the workflow's life: a workflow retried by an operator ends again, anew
    reason: str | None = None  # why it FAILED
    warnings: tuple[str, ...] = ()  # why it COMPLETED_WITH_WARNINGS


Effect = StartAttempt | Ended


def retry_phase(kind: WorkflowKind, state: WorkflowState, phases: Mapping[Phase, PhaseState]) -> Phase | None:
    """Where an operator's retry starts: the first failed phase of an ended workflow; None when it would be
    refused."""
    if state not in TERMINAL:
        return None
    return next((spec.phase for spec in KIND_PHASES[kind] if phases.get(spec.phase) == PhaseState.FAILED), None)


def note(now: datetime, text: str, severity: Severity = Severity.INFO, code: str = "NOTE") -> Message:
    return {"at": now.isoformat(), "severity": severity.value, "code": code, "text": text, "location": None}


@dataclass
class WorkflowMachine:
    state: WorkflowState
    phases: dict[Phase, PhaseRun]
    limits: Limits
    effects: list[Effect] = field(default_factory=list)
    kind: WorkflowKind = WorkflowKind.IMPORT

    @classmethod
    def new(cls, limits: Limits, kind: WorkflowKind = WorkflowKind.IMPORT) -> "WorkflowMachine":
        runs = {spec.phase: PhaseRun(spec.phase) for spec in KIND_PHASES[kind]}
        return cls(WorkflowState.RUNNING, runs, limits, kind=kind)

    @property
    def specs(self) -> tuple[PhaseSpec, ...]:
        return KIND_PHASES[self.kind]

    def _spec(self, phase: Phase) -> PhaseSpec:
        return next(spec for spec in self.specs if spec.phase is phase)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def begin(self, now: datetime) -> None:
        """Start the kind's first phase; the phases before it are SKIPPED."""
        first = self._spec(FIRST_PHASE[self.kind])
        for spec in self.specs:
            if spec.position < first.position:
                self.phases[spec.phase].state = PhaseState.SKIPPED
        self._start(first.phase, now)

    def accepts(self, phase: Phase, attempt: int) -> Verdict:
        run = self.phases[phase]
        if self.finished or run.state != PhaseState.RUNNING:
            return Verdict.NOT_RUNNING
        return Verdict.ACCEPTED if attempt == run.attempt else Verdict.LATE

    def succeed(self, phase: Phase, attempt: int, now: datetime, messages: list[Message]) -> Verdict:
        verdict = self.accepts(phase, attempt)
        if verdict is Verdict.ACCEPTED:
            self._finish(phase, PhaseState.SUCCEEDED, now, messages)
            self._after(phase, now)
        return verdict

    def fail(
        self, phase: Phase, attempt: int, now: datetime, why: str, messages: list[Message], retryable: bool
    ) -> Verdict:
        """A failure the phase reported. Retryable: another attempt while any are left."""
        verdict = self.accepts(phase, attempt)
        if verdict is not Verdict.ACCEPTED:
            return verdict
        if retryable:
            self._retry_or_fail(phase, why, now, messages)
        else:
            self._finish(phase, PhaseState.FAILED, now, messages)
            self._after_failure(phase, why, now)
        return verdict

    def time_out(self, phase: Phase, now: datetime) -> bool:
        """Retry or fail `phase` when its current attempt is past its deadline; False when it is not."""
        run = self.phases[phase]
        if self.finished or run.state != PhaseState.RUNNING or run.deadline_at is None or run.deadline_at > now:
            return False
        took = (now - run.started_at).total_seconds() if run.started_at else 0.0
        self._retry_or_fail(phase, f"attempt {run.attempt} timed out after {took:.0f} s", now, [])
        return True

    def retry(self, actor: str, now: datetime) -> Phase:
        """An operator's retry of an ended workflow, from its first failed phase; later phases run again."""
        first = retry_phase(self.kind, self.state, {phase: run.state for phase, run in self.phases.items()})
        if first is None:
            raise Refused(f"the workflow is {self.state} with no failed phase: nothing to retry")
        for spec in self.specs:
            if spec.position > self._spec(first).position:
                later = self.phases[spec.phase]
                later.state, later.started_at, later.finished_at = PhaseState.PENDING, None, None
                later.deadline_at = None
        self.state = WorkflowState.RUNNING
        run = self.phases[first]
        self._add(run, [note(now, f"retried by {actor}")])
        run.attempts_before_retry = run.attempt
        self._start(first, now)
        return first

    def cancel(self, actor: str, reason: str, now: datetime) -> None:
        if self.finished:
            raise Refused(f"the workflow has already ended ({self.state})")
        text = f"cancelled by {actor}: {reason}"
        for phase, run in self.phases.items():
            if run.state == PhaseState.RUNNING:
                self._finish(phase, PhaseState.FAILED, now, [note(now, text, Severity.WARNING, "CANCELLED")])
        self._end(WorkflowState.FAILED, text)

    def _add(self, run: PhaseRun, messages: list[Message]) -> None:
        run.messages = [*run.messages, *({"attempt": run.attempt, **m} for m in messages)]

    def _start(self, phase: Phase, now: datetime) -> None:
        run = self.phases[phase]
        run.state = PhaseState.RUNNING
        run.attempt += 1
        run.started_at = now
        run.finished_at = None
        run.deadline_at = now + self.limits.timeouts[phase]
        self.effects.append(StartAttempt(phase, run.attempt))

    def _finish(self, phase: Phase, state: PhaseState, now: datetime, messages: list[Message]) -> None:
        run = self.phases[phase]
        self._add(run, messages)
        run.state = state
        run.finished_at = now
        run.deadline_at = None

    def _retry_or_fail(self, phase: Phase, why: str, now: datetime, messages: list[Message]) -> None:
        run = self.phases[phase]
        allowed = self.limits.attempts[phase]
        if run.attempt - run.attempts_before_retry < allowed:
            upcoming = run.attempt + 1 - run.attempts_before_retry
            text = f"{why}; retrying (attempt {upcoming} of {allowed})"
            retrying = note(now, text, Severity.WARNING, "PHASE_RETRIED")
            self._add(run, [*messages, retrying])
            self._start(phase, now)
            return
        failed = note(now, f"{why}; no attempts left ({allowed})", Severity.WARNING, "PHASE_FAILED")
        self._finish(phase, PhaseState.FAILED, now, [*messages, failed])
        self._after_failure(phase, why, now)

    def _after(self, phase: Phase, now: datetime) -> None:
        """The next phase, or the end when `phase` was the last."""
        position = self._spec(phase).position
        following = [spec.phase for spec in self.specs if spec.position > position]
        if following:
            self._start(following[0], now)
        else:
            self._complete()

    def _after_failure(self, phase: Phase, why: str, now: datetime) -> None:
        if self._spec(phase).critical:
            self._end(WorkflowState.FAILED, f"{phase.value} failed: {why}")
        else:
            self._after(phase, now)

    def warnings(self) -> list[str]:
        """Why the workflow completes with warnings: failed phases, and ERRORs (or codes that always warn) in
        the final attempt of each phase."""
        found: list[str] = []
        for run in self.phases.values():
            if run.state == PhaseState.FAILED:
                found.append(f"{run.phase.value} failed")
            found += [
                m["text"]
                for m in run.final_messages()
                if m.get("severity") == Severity.ERROR.value or m.get("code") in WARNING_CODES
            ]
        return found

    def _complete(self) -> None:
        warnings = tuple(dict.fromkeys(self.warnings()))
        self._end(WorkflowState.COMPLETED_WITH_WARNINGS if warnings else WorkflowState.COMPLETED, warnings=warnings)

    def _end(self, state: WorkflowState, reason: str | None = None, warnings: tuple[str, ...] = ()) -> None:
        self.state = state
        for run in self.phases.values():
            if run.state == PhaseState.PENDING:
                run.state = PhaseState.SKIPPED
        self.effects.append(Ended(state, sum(run.attempt for run in self.phases.values()), reason, warnings))
