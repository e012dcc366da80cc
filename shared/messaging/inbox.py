"""Inbox: remembers which messages a consumer has processed, inside the phase transaction."""

from typing import cast

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db.models import InboxMessage
from shared.metrics import INBOX_DUPLICATES

_inbox = cast(Table, InboxMessage.__table__)
_RECORD = (
    insert(_inbox)
    .values(consumer=bindparam("b_consumer"), message_id=bindparam("b_message_id"))
    .on_conflict_do_nothing()
    .returning(_inbox.c.message_id)
)


def first_delivery(session: Session, consumer: str, message_id: str) -> bool:
    """Record (consumer, message_id); False when it was already processed (a duplicate to skip).

    A concurrent transaction holding the same key makes this wait for it, so a duplicate never runs twice.
    """
    inserted = session.execute(_RECORD, {"b_consumer": consumer, "b_message_id": message_id}).first()
    if inserted is None:
        INBOX_DUPLICATES.labels(consumer=consumer).inc()
        return False
    return True


def already_processed(session: Session, consumer: str, message_id: str) -> bool:
    return session.get(InboxMessage, (consumer, message_id)) is not None
