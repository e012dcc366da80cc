"""The saga's sweeper: a running phase past its deadline is retried or failed, so a workflow always ends, even
when a worker is dead."""

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.versions.coordinator import Saga, now, record_durations
from shared.db.models import Workflow, WorkflowPhase
from shared.db.session import transaction
from shared.kernel.states import Phase, PhaseState, WorkflowState
from shared.settings import Settings

log = logging.getLogger(__name__)

# how long past a phase's deadline the sweeper waits for a result committed before it (the fence refuses any
# later one): a relay publishes it and the saga takes it within milliseconds while the broker is up
RESULT_GRACE = timedelta(seconds=5)


def due_phases(session: Session, limit: int = 100) -> list[tuple[uuid.UUID, Phase]]:
    rows = session.execute(
        select(WorkflowPhase.workflow_id, WorkflowPhase.phase)
        .join(Workflow, Workflow.id == WorkflowPhase.workflow_id)
        .where(
            Workflow.state == WorkflowState.RUNNING,
            WorkflowPhase.state == PhaseState.RUNNING,
            WorkflowPhase.deadline_at < now() - RESULT_GRACE,
        )
        .order_by(WorkflowPhase.deadline_at)
        .limit(limit)
    ).all()
    return [(workflow_id, Phase(phase)) for workflow_id, phase in rows]


def sweep_timeouts(settings: Settings) -> int:
    """Retry or fail every running phase past its deadline (and `RESULT_GRACE`); returns how many were handled."""
    with transaction() as session:
        due = due_phases(session)
    handled = 0
    for workflow_id, phase in due:
        with transaction() as session:
            saga = Saga.load(session, workflow_id, settings)
            if saga is None:
                continue
            attempt = saga.machine.phases[phase].attempt
            if saga.machine.time_out(phase, now()):  # else another coordinator, or a late result, got there first
                log.warning("workflow %s: %s attempt %d timed out", workflow_id, phase, attempt)
                record_durations(saga.save())
                handled += 1
    return handled
