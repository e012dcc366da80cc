"""Outbox relay: publishes committed outbox rows with publisher confirms, then deletes them.

Rows are claimed with a short lease (`FOR UPDATE SKIP LOCKED`), so several relays never publish the same
row at once, and a relay that dies mid-batch only delays its rows until the lease runs out. A row the
broker refuses keeps its lease and is tried again when it runs out, without holding up the rows after it. A row is
deleted only after the broker confirmed it; a crash between confirm and delete republishes it with the
same message id, which consumers' inboxes skip.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from faststream.rabbit import RabbitBroker
from opentelemetry import context, propagate
from sqlalchemy import Engine, delete, func, or_, select, update

from shared.db.models import OutboxMessage
from shared.messaging.topology import EVENTS_EXCHANGE

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
BATCH = 100
CHANNEL = "schedcu_outbox"


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    correlation_id: str
    routing_key: str
    message_type: str
    body: bytes
    headers: dict[str, str]


def claim(engine: Engine, limit: int = BATCH) -> list[Claimed]:
    with engine.begin() as conn:
        ids = (
            select(OutboxMessage.id)
            .where(or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < func.now()))
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(claimed_until=func.now() + LEASE)
            .returning(
                OutboxMessage.id,
                OutboxMessage.message_id,
                OutboxMessage.correlation_id,
                OutboxMessage.routing_key,
                OutboxMessage.message_type,
                OutboxMessage.body,
                OutboxMessage.headers,
            )
        ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def delete_published(engine: Engine, published: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(published)))


class OutboxRelay:
    def __init__(self, broker: RabbitBroker, engine: Engine, poll_s: float) -> None:
        self._broker = broker
        self._engine = engine
        self._poll_s = poll_s
        self._stopping = asyncio.Event()

    async def publish_pending(self) -> int:
        rows = await asyncio.to_thread(claim, self._engine)
        published: list[int] = []
        for row in rows:
            try:
                await self._publish(row)
            except Exception as error:
                log.warning(
                    "publishing %s (%s) failed, retrying in %s: %s", row.message_id, row.routing_key, LEASE, error
                )
            else:
                published.append(row.id)
        if published:
            await asyncio.to_thread(delete_published, self._engine, published)
        return len(rows)

    async def _publish(self, row: Claimed) -> None:
        token = context.attach(propagate.extract(row.headers))
        try:
            await self._broker.publish(
                row.body,
                exchange=EVENTS_EXCHANGE,
                routing_key=row.routing_key,
                persist=True,
                mandatory=True,
                message_id=row.message_id,
                correlation_id=row.correlation_id,
                message_type=row.message_type,
                content_type="application/json",
                headers=dict(row.headers),
            )
        finally:
            context.detach(token)

    async def run(self) -> None:
        """Publish until stopped; wake on NOTIFY from the outbox trigger, poll as the safety net."""
        dsn = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as listener:
                    await listener.execute(f"LISTEN {CHANNEL}")
                    while not self._stopping.is_set():
                        while await self.publish_pending() == BATCH:
                            pass
                        async for _ in listener.notifies(timeout=self._poll_s, stop_after=1):
                            pass
            except Exception:
                log.exception("outbox relay failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_s)

    def stop(self) -> None:
        self._stopping.set()
