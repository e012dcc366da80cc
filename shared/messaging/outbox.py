"""Transactional outbox: handlers add messages in their phase transaction; the relay publishes them."""

from opentelemetry import propagate
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.contracts import Contract
from shared.db.models import OutboxMessage


def add(session: Session, message: Contract, *, message_id: str, correlation_id: str) -> None:
    """Stage `message` for publishing once the surrounding transaction commits.

    The current trace context goes with it, so the consumer's span joins the same trace.
    """
    headers: dict[str, str] = {}
    propagate.inject(headers)
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
