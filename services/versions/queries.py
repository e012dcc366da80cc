"""Read side of the saga: a workflow with its phases, for operators."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Workflow, WorkflowPhase


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
        "group": workflow.group_name,
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
                "messages": p.messages,
            }
            for p in phases
        ],
    }


def workflow_rows(session: Session, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    query = select(Workflow).order_by(Workflow.created_at.desc()).limit(limit)
    if state:
        query = query.where(Workflow.state == state)
    return [
        {
            "workflow_id": str(w.id),
            "request_id": w.request_id,
            "group": w.group_name,
            "state": w.state,
            "version_id": str(w.version_id) if w.version_id else None,
            "created_at": w.created_at.isoformat(),
            "finished_at": w.finished_at.isoformat() if w.finished_at else None,
        }
        for w in session.scalars(query)
    ]
