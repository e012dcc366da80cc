"""Inbox: remembers which messages a consumer has processed, inside the phase transaction."""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db.models import InboxMessage
from shared.metrics import INBOX_DUPLICATES


def first_delivery(session: Session, consumer: str, message_id: str) -> bool:
    """Record (consumer, message_id); False when it was already processed (a duplicate to skip).

    A concurrent transaction holding the same key makes this wait for it, so a duplicate never runs twice.
    """
    inserted = session.execute(
        insert(InboxMessage)
        .values(consumer=consumer, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(InboxMessage.message_id)
    ).first()
    if inserted is None:
        INBOX_DUPLICATES.labels(consumer=consumer).inc()
        return False
    return True


def already_processed(session: Session, consumer: str, message_id: str) -> bool:
    return session.get(InboxMessage, (consumer, message_id)) is not None
