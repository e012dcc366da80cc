"""Transactional outbox: handlers add messages in their phase transaction; the relay publishes them.

A commit that wrote outbox rows wakes the relay of its own process (`on_commit`), so a worker publishes what it
wrote at once; rows written by a process without a relay (the command line) or left by a process that died
are found by the relays' polling.
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

from opentelemetry import propagate
from sqlalchemy import Table, bindparam, event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db.models import OutboxMessage
from shared.kernel.contracts import Contract

MAX_MESSAGE_ID_BYTES = 255  # an AMQP short string
WORKFLOW_HEADER = "x-schedcu-workflow-id"  # what the log context and operators key on; the correlation id is the
# upstream request's
_WROTE = "schedcu_outbox_written"
_outbox = cast(Table, OutboxMessage.__table__)
# built once: a Core statement with bound parameters compiles once per process (the ORM's insert of a model
# costs an autoflush and its own bookkeeping on every call)
_ADD = (
    insert(_outbox)
    .values(
        message_id=bindparam("b_message_id"),
        correlation_id=bindparam("b_correlation_id"),
        routing_key=bindparam("b_routing_key"),
        message_type=bindparam("b_message_type"),
        body=bindparam("b_body", type_=_outbox.c.body.type),
        headers=bindparam("b_headers", type_=_outbox.c.headers.type),
    )
    .on_conflict_do_nothing(index_elements=["message_id"])
)
_wake_relay: list[Callable[[], None]] = []


@contextmanager
def on_commit(wake: Callable[[], None]) -> Iterator[None]:
    """While in the block, call `wake` (from the committing thread) after every commit of this process that
    wrote outbox rows."""
    _wake_relay.append(wake)
    try:
        yield
    finally:
        _wake_relay.remove(wake)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        for wake in _wake_relay:
            wake()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WROTE, None)


def add(session: Session, message: Contract, *, message_id: str, correlation_id: str) -> None:
    """Stage `message` for publishing once the surrounding transaction commits.

    The current trace context goes with it, so the consumer's span joins the same trace, and so does the
    workflow id of a workflow's message, for the consumer's log lines. A message id longer than AMQP allows is
    replaced by its SHA-256, still the same for the same id.
    """
    if len(message_id.encode()) > MAX_MESSAGE_ID_BYTES:  # an id derived from a long upstream one
        message_id = "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    headers: dict[str, str] = {}
    propagate.inject(headers)
    workflow_id = getattr(message, "workflow_id", None)
    if workflow_id is not None:
        headers[WORKFLOW_HEADER] = str(workflow_id)
    session.execute(
        _ADD,
        {
            "b_message_id": message_id,
            "b_correlation_id": correlation_id,
            "b_routing_key": message.routing_key,
            "b_message_type": type(message).__name__,
            "b_body": message.model_dump_json().encode(),
            "b_headers": headers,
        },
    )
    session.info[_WROTE] = True
