"""Inbox: remembers which messages a consumer has processed (and the SHA-256 of each body), inside the phase
transaction."""

from typing import Literal, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db.models import InboxMessage
from shared.metrics import INBOX_DUPLICATES

_inbox = cast(Table, InboxMessage.__table__)
_RECORD = (
    insert(_inbox)
    .values(consumer=bindparam("b_consumer"), message_id=bindparam("b_message_id"), body_sha256=bindparam("b_sha"))
    .on_conflict_do_nothing()
    .returning(_inbox.c.message_id)
)
_RECORDED_BODY = select(_inbox.c.body_sha256).where(
    _inbox.c.consumer == bindparam("b_consumer"), _inbox.c.message_id == bindparam("b_message_id")
)

Seen = Literal["duplicate", "reused"]


def first_delivery(session: Session, consumer: str, message_id: str, body_sha256: str | None = None) -> Seen | None:
    """Record (consumer, message_id, body_sha256); None for a message seen for the first time, `duplicate` for
    one already processed (to skip), `reused` for a message whose id an earlier message with another body had.

    A concurrent transaction holding the same key makes this wait for it, so a duplicate never runs twice.
    """
    key = {"b_consumer": consumer, "b_message_id": message_id}
    if session.execute(_RECORD, {**key, "b_sha": body_sha256}).first() is not None:
        return None
    recorded = session.execute(_RECORDED_BODY, key).scalar()
    if None not in (recorded, body_sha256) and recorded != body_sha256:
        return "reused"
    INBOX_DUPLICATES.labels(consumer=consumer).inc()
    return "duplicate"


def already_processed(session: Session, consumer: str, message_id: str) -> bool:
    return session.get(InboxMessage, (consumer, message_id)) is not None
