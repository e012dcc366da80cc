"""An operator's actions on a workflow: retry from its failed phase, cancel; each one audited with its actor."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from services.versions.coordinator import Saga, now, record_durations
from services.versions.workflow import Refused, WorkflowMachine
from shared import audit
from shared.db.session import transaction
from shared.kernel.states import Phase
from shared.settings import Settings

T = TypeVar("T")


def _operate(
    workflow_id: uuid.UUID,
    actor: str,
    action: str,
    reason: str | None,
    change: Callable[[WorkflowMachine, datetime], T],
    settings: Settings,
) -> T:
    """Run an operator's action on one workflow and audit it with its actor, in one transaction."""
    with transaction() as session:
        saga = Saga.load(session, workflow_id, settings)
        if saga is None:
            raise Refused(f"no workflow {workflow_id}")
        before = saga.machine.state
        result = change(saga.machine, now())
        record_durations(saga.save())
        audit.record(
            session, actor=actor, entity="workflow", entity_id=str(workflow_id), action=action,
            from_state=str(before), to_state=str(saga.machine.state), reason=reason, details={},
        )  # fmt: skip
        return result


def retry(workflow_id: uuid.UUID, actor: str, settings: Settings) -> Phase:
    """An operator's retry of a failed workflow from its failed phase; returns that phase."""
    return _operate(workflow_id, actor, "retry", None, lambda machine, now: machine.retry(actor, now), settings)


def cancel(workflow_id: uuid.UUID, actor: str, reason: str, settings: Settings) -> None:
    """An operator stops a running workflow; it ends FAILED."""
    _operate(workflow_id, actor, "cancel", reason, lambda machine, now: machine.cancel(actor, reason, now), settings)
