"""Read side of the versions service: workflows with their phases, and schedule versions, for operators."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from schedcu.queries import starts_with
from shared.db import assignments, version_state
from shared.db.models import (
    AuditRecord,
    CoverageCalculation,
    HospitalGroup,
    Person,
    ScheduleVersion,
    ShiftInstance,
    VersionLifecycle,
    Workflow,
    WorkflowPhase,
)
from shared.kernel.coverage_text import coverage_sentence, unknown_months


def workflow_request(session: Session, workflow_id: uuid.UUID) -> tuple[str, str, dict[str, Any]] | None:
    """The workflow's kind, state and the request it was started with; None when there is no such workflow."""
    found = session.execute(
        select(Workflow.kind, Workflow.state, Workflow.request).where(Workflow.id == workflow_id)
    ).first()
    return (found.kind, found.state, found.request) if found is not None else None


def workflow_view(session: Session, workflow_id: uuid.UUID) -> dict[str, Any] | None:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        return None
    phases = session.scalars(
        select(WorkflowPhase).where(WorkflowPhase.workflow_id == workflow_id).order_by(WorkflowPhase.position)
    ).all()
    return {
        "workflow_id": str(workflow.id),
        "request_id": workflow.request_id,
        "correlation_id": workflow.correlation_id,
        "group": workflow.group_name,
        "kind": workflow.kind,
        "trigger": workflow.trigger,
        "state": workflow.state,
        "version_id": str(workflow.version_id) if workflow.version_id else None,
        "created_at": workflow.created_at.isoformat(),
        "finished_at": workflow.finished_at.isoformat() if workflow.finished_at else None,
        "phases": [
            {
                "phase": p.phase,
                "critical": p.critical,
                "state": p.state,
                "attempt": p.attempt,
                "started_at": p.started_at.isoformat() if p.started_at else None,
                "finished_at": p.finished_at.isoformat() if p.finished_at else None,
                "duration_s": (p.finished_at - p.started_at).total_seconds()
                if p.started_at and p.finished_at
                else None,
                "attempts": _attempts(p),
            }
            for p in phases
        ],
    }


def _attempts(phase: WorkflowPhase) -> list[dict[str, Any]]:
    """Every attempt of a phase with the messages recorded for it, the latest last (messages from before
    attempts were recorded count as the latest attempt's)."""
    by_attempt: dict[int, list[dict[str, Any]]] = {n: [] for n in range(1, phase.attempt + 1)}
    for message in phase.messages:
        attempt = message.get("attempt", phase.attempt)
        by_attempt.setdefault(attempt, []).append({k: v for k, v in message.items() if k != "attempt"})
    return [{"attempt": n, "messages": by_attempt[n]} for n in sorted(by_attempt)]


def workflow_rows(
    session: Session,
    state: str | None = None,
    limit: int = 50,
    *,
    group: str | None = None,
    request_id: str | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    offset: int = 0,
    prefix: bool = False,
) -> list[dict[str, Any]]:
    """Workflows newest first; `created_from`/`created_to` are UTC dates, both included; with `prefix`, `group`
    and `request_id` match the beginning of the name, in any case."""
    query = select(Workflow).order_by(Workflow.created_at.desc(), Workflow.id).limit(limit).offset(offset)
    if state:
        query = query.where(Workflow.state == state)
    if group:
        query = query.where(starts_with(Workflow.group_name, group) if prefix else Workflow.group_name == group)
    if request_id:
        query = query.where(
            starts_with(Workflow.request_id, request_id) if prefix else Workflow.request_id == request_id
        )
    if created_from:
        query = query.where(Workflow.created_at >= datetime.combine(created_from, time(), UTC))
    if created_to:
        query = query.where(Workflow.created_at < datetime.combine(created_to + timedelta(days=1), time(), UTC))
    return [
        {
            "workflow_id": str(w.id),
            "request_id": w.request_id,
            "group": w.group_name,
            "kind": w.kind,
            "trigger": w.trigger,
            "state": w.state,
            "version_id": str(w.version_id) if w.version_id else None,
            "created_at": w.created_at.isoformat(),
            "finished_at": w.finished_at.isoformat() if w.finished_at else None,
        }
        for w in session.scalars(query)
    ]


def version_rows(
    session: Session, group: str | None = None, state: str | None = None, *, prefix: bool = False
) -> list[dict[str, Any]]:
    """With `prefix`, `group` matches the beginning of the group's name, in any case."""
    query = version_state.with_lifecycle(
        select(ScheduleVersion, HospitalGroup.name, version_state.state())
        .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
        .where(version_state.not_deleted())
        .order_by(ScheduleVersion.period_start, ScheduleVersion.created_at)
    )
    if group:
        query = query.where(starts_with(HospitalGroup.name, group) if prefix else HospitalGroup.name == group)
    if state:
        query = query.where(version_state.state() == state)
    return [
        {
            "version_id": str(v.id),
            "group": group_name,
            "state": v_state,
            "layout": v.layout,
            "period": {"start": v.period_start.isoformat(), "end": v.period_end.isoformat()},
            "template": v.template_name,
            "created_at": v.created_at.isoformat(),
        }
        for v, group_name, v_state in session.execute(query)
    ]


def latest_coverage(session: Session, version_ids: list[str]) -> dict[str, dict[str, Any]]:
    """version id -> its latest calculation's coverage ratio of known cells (None when no cell is known), known
    cells and critical gaps; a version never calculated is absent."""
    rows = session.execute(
        select(CoverageCalculation.version_id, CoverageCalculation.summary)
        .where(CoverageCalculation.version_id.in_([uuid.UUID(v) for v in version_ids]))
        .ext(distinct_on(CoverageCalculation.version_id))
        .order_by(CoverageCalculation.version_id, CoverageCalculation.created_at.desc())
    )
    return {
        str(version_id): {
            "ratio": summary["coverage_ratio"] if summary.get("known_cells", summary["total"]) else None,
            "known_cells": summary.get("known_cells", summary["total"]),
            "critical_gaps": summary["critical_gaps_total"],
        }
        for version_id, summary in rows
    }


def assigned_people(session: Session, version_id: uuid.UUID) -> list[dict[str, str]]:
    """Everyone with an assignment in the version (Amion's or a correction), by name."""
    effective = assignments.effective(version_id)
    rows = session.execute(
        select(Person.name, Person.email)
        .where(Person.id.in_(select(effective.c.person_id)))
        .order_by(Person.name, Person.email)
    )
    return [{"name": name, "email": email} for name, email in rows]


def version_view(session: Session, version_id: uuid.UUID) -> dict[str, Any] | None:
    found = session.execute(
        version_state.with_lifecycle(
            select(ScheduleVersion, HospitalGroup.name, version_state.state(), VersionLifecycle.deleted_at)
            .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
            .where(ScheduleVersion.id == version_id)
        )
    ).first()
    if found is None:
        return None
    version, group_name, state, deleted_at = found
    audit = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.entity == "schedule_version", AuditRecord.entity_id == str(version_id))
        .order_by(AuditRecord.at, AuditRecord.id)
    ).all()
    latest = session.execute(
        select(CoverageCalculation.id, CoverageCalculation.created_at, CoverageCalculation.summary)
        .where(CoverageCalculation.version_id == version_id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    ).first()
    coverage = None
    if latest is not None:
        calculation_id, calculated_at, summary = latest
        coverage = {
            "calculation_id": str(calculation_id),
            "created_at": calculated_at.isoformat(),
            "text": coverage_sentence(summary),
            "critical_gaps": summary["critical_gaps_total"],
            "unknown_months": unknown_months(summary),
        }
    return {
        "version_id": str(version.id),
        "group": group_name,
        "state": state,
        "deleted_at": deleted_at.isoformat() if deleted_at else None,
        "layout": version.layout,
        "period": {"start": version.period_start.isoformat(), "end": version.period_end.isoformat()},
        "template": version.template_name,
        "template_sha256": version.template_sha256,
        "workflow_id": str(version.workflow_id),
        "shift_instances": session.scalar(select(func.count()).where(ShiftInstance.version_id == version_id)),
        "assignments": session.scalar(select(func.count()).select_from(assignments.effective(version_id))),
        "findings": version.findings,
        "coverage": coverage,
        "audit": [
            {
                "at": a.at.isoformat(), "actor": a.actor, "action": a.action, "from": a.from_state,
                "to": a.to_state, "reason": a.reason,
            }
            for a in audit
        ],
    }  # fmt: skip
