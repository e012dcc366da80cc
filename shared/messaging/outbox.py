"""Transactional outbox: handlers add messages in their phase transaction; the relay publishes them."""

from opentelemetry import propagate
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.contracts import Contract
from shared.db.models import OutboxMessage

WORKFLOW_HEADER = "x-schedcu-workflow-id"  # what the log context and operators key on; the correlation id is the
# upstream request's


def add(session: Session, message: Contract, *, message_id: str, correlation_id: str) -> None:
    """Stage `message` for publishing once the surrounding transaction commits.

    The current trace context goes with it, so the consumer's span joins the same trace, and so does the
    workflow id of a workflow's message, for the consumer's log lines.
    """
    headers: dict[str, str] = {}
    propagate.inject(headers)
    workflow_id = getattr(message, "workflow_id", None)
    if workflow_id is not None:
        headers[WORKFLOW_HEADER] = str(workflow_id)
    session.execute(
        insert(OutboxMessage)
        .values(
            message_id=message_id,
            correlation_id=correlation_id,
            routing_key=message.routing_key,
            message_type=type(message).__name__,
            body=message.model_dump_json().encode(),
            headers=headers,
        )
        .on_conflict_do_nothing(index_elements=["message_id"])
    )
