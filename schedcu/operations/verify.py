"""`schedcu verify`: the check after writing. It re-derives what the stored data must satisfy and reports every
violation.

Per version (the latest coverage calculation against the rows it was computed from):
- `cells`: recomputing coverage from the stored template, assignments and people gives exactly the stored
  cells: every shift instance's cells once, none other, with the same status and people;
- `calculation_settings`, instead of `cells` when that is why they differ: the coverage settings (holidays, named
  with their dates; zone, rest hours, worklist specialties) changed since the calculation, which a
  recalculation brings up to date;
- `calculation_fresh`: the calculation is newer than every assignment and manual correction of the version;
- `assignments_match_batch`: the version's Amion assignments (`assignments`) all come from its latest applied
  scrape batch (COMPLETE or PARTIAL), which is the batch the calculation used; manual corrections are in
  `assignment_corrections` (shared/db/assignments.py combines the two).
Global (with `--all`):
- `workflows_on_time`: no workflow is still running with a phase past its deadline (plus the sweep interval
  and a grace period), or with no phase running;
- `outbox_drained`: no outbox row older than the grace period.
"""

import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schedcu.queries.coverage import cells as stored_cells
from services.coverage.calculation import CalculationOptions, compute, fingerprints
from services.coverage.store import VersionInputs, load_inputs
from shared.db import assignments, version_state
from shared.db.models import (
    Assignment,
    CoverageCalculation,
    OutboxMessage,
    ScheduleVersion,
    ScrapeBatch,
    Workflow,
    WorkflowPhase,
)
from shared.kernel.states import APPLIED_BATCH_STATES, AssignmentSource, PhaseState, WorkflowState
from shared.settings import Settings

GRACE = timedelta(seconds=30)
SHOWN_DIFFERENCES = 5


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    detail: str


@dataclass
class Verification:
    versions_checked: int = 0
    versions_without_coverage: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


CellKey = tuple[str, str, str, str, str, tuple[str, ...]]


def _cells(inputs: VersionInputs, options: CalculationOptions) -> Counter[CellKey]:
    return Counter(
        (c.schedule_date.isoformat(), c.window, c.worklist, c.role, str(c.status),
         tuple(inputs.people[p].name for p in c.people))
        for c in compute(inputs, options).cells
    )  # fmt: skip


def _check_cells(
    session: Session, version_id: uuid.UUID, calculation: CoverageCalculation, settings: Settings
) -> Violation | None:
    """None when recomputing gives the stored cells. Otherwise, when the coverage settings changed since the
    calculation, what changed and the recalculation to run (holidays are named with their dates when recomputing
    with those dates' holiday status flipped gives the stored cells); else the cells that differ."""
    subject = f"version {version_id}"
    inputs = load_inputs(session, version_id)
    assert inputs is not None
    options = CalculationOptions.from_settings(settings)
    expected = _cells(inputs, options)
    found: Counter[CellKey] = Counter(
        (c["schedule_date"], c["window"], c["worklist"], c["role"], c["status"], tuple(c["people"]))
        for c in stored_cells(session, calculation.id)
    )
    if expected == found:
        return None
    missing, extra = expected - found, found - expected
    recalc = f"run `schedcu coverage recalc {version_id}`"
    days = {date.fromisoformat(key[0]) for key in (missing + extra)}
    if _cells(inputs, replace(options, holidays=options.holidays ^ days)) == found:
        now = [f"{d} is a holiday now" for d in sorted(days & options.holidays)]
        before = [f"{d} is no longer a holiday" for d in sorted(days - options.holidays)]
        return Violation(
            "calculation_settings", subject,
            f"holidays changed since the calculation ({', '.join(now + before)}; SCHEDCU_HOLIDAYS): {recalc}",
        )  # fmt: skip
    if calculation.inputs_key is not None and calculation.inputs_key != fingerprints(inputs, options).inputs_key:
        return Violation(
            "calculation_settings", subject,
            "the coverage settings changed since the calculation (SCHEDCU_HOLIDAYS, SCHEDCU_TIME_ZONE, "
            f"SCHEDCU_REST_HOURS or SCHEDCU_WORKLIST_SPECIALTIES): {recalc}",
        )  # fmt: skip
    shown = [f"missing {k}" for k in list(missing)[:SHOWN_DIFFERENCES]]
    shown += [f"unexpected {k}" for k in list(extra)[:SHOWN_DIFFERENCES]]
    return Violation(
        "cells", subject,
        f"calculation {calculation.id}: {sum(missing.values())} expected cells missing or different, "
        f"{sum(extra.values())} stored cells not expected (of {sum(expected.values())}): " + "; ".join(shown),
    )  # fmt: skip


def _check_version(session: Session, version: ScheduleVersion, settings: Settings, report: Verification) -> None:
    subject = f"version {version.id}"
    calculation = session.scalars(
        select(CoverageCalculation)
        .where(CoverageCalculation.version_id == version.id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    ).first()
    batch = session.scalars(
        select(ScrapeBatch)
        .where(ScrapeBatch.version_id == version.id, ScrapeBatch.state.in_(sorted(APPLIED_BATCH_STATES)))
        .order_by(ScrapeBatch.finished_at.desc())
        .limit(1)
    ).first()
    sources = session.execute(
        select(Assignment.scrape_batch_id, func.count())
        .where(Assignment.version_id == version.id, Assignment.source == AssignmentSource.AMION)
        .group_by(Assignment.scrape_batch_id)
    ).all()
    applied = batch.id if batch is not None else None
    foreign = {str(batch_id): n for batch_id, n in sources if batch_id != applied}
    if foreign:
        report.violations.append(
            Violation("assignments_match_batch", subject,
                      f"Amion assignments from batches other than the latest applied one ({applied}): {foreign}")
        )  # fmt: skip
    if calculation is None:
        report.versions_without_coverage.append(str(version.id))
        return
    if calculation.scrape_batch_id is not None and calculation.scrape_batch_id != applied:
        report.violations.append(
            Violation("assignments_match_batch", subject,
                      f"calculation {calculation.id} used batch {calculation.scrape_batch_id}, the assignments "
                      f"come from {applied}")
        )  # fmt: skip
    changes = assignments.newest_change(version.id)
    newest = session.scalar(select(func.max(changes.c.created_at)))
    if newest is not None and newest > calculation.created_at:
        report.violations.append(
            Violation("calculation_fresh", subject,
                      f"calculation {calculation.id} ({calculation.created_at.isoformat()}) is older than an "
                      f"assignment stored at {newest.isoformat()}")
        )  # fmt: skip
    cells = _check_cells(session, version.id, calculation, settings)
    if cells is not None:
        report.violations.append(cells)


def _check_workflows(session: Session, settings: Settings, now: datetime, report: Verification) -> None:
    late = now - GRACE - timedelta(seconds=settings.saga_sweep_s)
    overdue = session.execute(
        select(Workflow.id, WorkflowPhase.phase, WorkflowPhase.attempt, WorkflowPhase.deadline_at)
        .join(WorkflowPhase, WorkflowPhase.workflow_id == Workflow.id)
        .where(
            Workflow.state == WorkflowState.RUNNING,
            WorkflowPhase.state == PhaseState.RUNNING,
            WorkflowPhase.deadline_at < late,
        )
    ).all()
    for workflow_id, phase, attempt, deadline in overdue:
        report.violations.append(
            Violation("workflows_on_time", f"workflow {workflow_id}",
                      f"{phase} attempt {attempt} is still running; its deadline was {deadline.isoformat()}")
        )  # fmt: skip
    running_phase = select(WorkflowPhase.workflow_id).where(WorkflowPhase.state == PhaseState.RUNNING)
    idle = session.scalars(
        select(Workflow.id).where(
            Workflow.state == WorkflowState.RUNNING, Workflow.updated_at < late, Workflow.id.not_in(running_phase)
        )
    ).all()
    for workflow_id in idle:
        report.violations.append(
            Violation("workflows_on_time", f"workflow {workflow_id}", "running, but none of its phases is")
        )


def _check_outbox(session: Session, now: datetime, report: Verification) -> None:
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.created_at < now - GRACE)
    ).one()
    if count:
        report.violations.append(
            Violation("outbox_drained", "outbox",
                      f"{count} messages waiting longer than {GRACE.total_seconds():.0f} s (oldest since "
                      f"{oldest.isoformat()}): is every worker's relay running and the broker reachable?")
        )  # fmt: skip


def verify(session: Session, settings: Settings, version_id: uuid.UUID | None = None) -> Verification:
    """Check one version; or, when `version_id` is None, every version that is not deleted and the global
    invariants."""
    now = session.scalar(select(func.now()))
    assert now is not None
    report = Verification()
    query = version_state.with_lifecycle(
        select(ScheduleVersion).where(version_state.not_deleted()).order_by(ScheduleVersion.created_at)
    )
    if version_id is not None:
        query = select(ScheduleVersion).where(ScheduleVersion.id == version_id)
    for version in session.scalars(query).all():
        _check_version(session, version, settings, report)
        report.versions_checked += 1
    if version_id is None:
        _check_workflows(session, settings, now, report)
        _check_outbox(session, now, report)
    return report


def render(report: Verification) -> str:
    lines = [f"{report.versions_checked} versions checked"]
    if report.versions_without_coverage:
        lines.append(f"{len(report.versions_without_coverage)} without a coverage calculation (not checked): "
                     + ", ".join(report.versions_without_coverage[:10]))  # fmt: skip
    if report.clean:
        lines.append("no violations")
    for v in report.violations:
        lines.append(f"VIOLATION {v.check}: {v.subject}: {v.detail}")
    return "\n".join(lines)
