"""Outbox relay: publishes committed outbox rows with publisher confirms, then deletes them.

Rows are claimed with a short lease (`FOR UPDATE SKIP LOCKED`), so several relays never publish the same
row at once, and a relay that dies mid-batch only delays its rows until the lease runs out. A row is
deleted only after the broker confirmed it; a crash between confirm and delete republishes it with the
same message id, which consumers' inboxes skip.

When the broker is unavailable the relay releases the rows it could not publish (any relay may take them
at once) and waits for the broker gate, which reopens within about a second of the broker's return; the
outbox is then published right away, not after the lease. A row the broker refuses for another reason
(a permission, an exchange missing) keeps its lease and is tried again when it runs out, without holding
up the rows after it. While the database is down the relay waits for the database gate. Each of these
is logged once per change of state, not on every poll.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from faststream.rabbit import RabbitBroker
from opentelemetry import context, propagate
from sqlalchemy import Engine, delete, func, or_, select, update

from shared.db.models import OutboxMessage
from shared.messaging.faults import TRANSIENT, DependencyGate, Failure, classify, describe, unless_stopped
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


def release(engine: Engine, ids: list[int]) -> None:
    """Give up the claim on rows that could not be published now, so that the next try need not wait out
    the lease."""
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(claimed_until=None))


def delete_published(engine: Engine, published: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(published)))


class OutboxRelay:
    def __init__(
        self, broker: RabbitBroker, engine: Engine, poll_s: float, database: DependencyGate, broker_gate: DependencyGate
    ) -> None:
        self._broker = broker
        self._engine = engine
        self._poll_s = poll_s
        self._database = database
        self._broker_gate = broker_gate
        self._stopping = asyncio.Event()

    async def publish_pending(self) -> int:
        rows = await asyncio.to_thread(claim, self._engine)
        published: list[int] = []
        for index, row in enumerate(rows):
            try:
                await self._publish(row)
            except Exception as error:
                if classify(error).transient:
                    self._broker_gate.close(error)
                    await asyncio.to_thread(release, self._engine, [r.id for r in rows[index:]])
                    break
                log.warning(
                    "publishing %s (%s) failed, retrying in %s: %s",
                    row.message_id, row.routing_key, LEASE, describe(error),
                )  # fmt: skip
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
        failures = 0
        while await unless_stopped(self._stopping, self._database.wait_open()):
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5) as listener:
                    await listener.execute(f"LISTEN {CHANNEL}")
                    while await unless_stopped(self._stopping, self._broker_gate.wait_open()):
                        while await self.publish_pending() == BATCH:
                            pass
                        failures = 0
                        async for _ in listener.notifies(timeout=self._poll_s, stop_after=1):
                            pass
            except Exception as error:
                if classify(error) is Failure.DATABASE_DOWN:
                    self._database.close(error)
                    continue
                failures += 1
                wait = TRANSIENT.delay(failures)
                log.warning("outbox relay failed; retrying in %.1f s", wait, exc_info=failures == 1)
                await unless_stopped(self._stopping, asyncio.sleep(wait))

    def stop(self) -> None:
        self._stopping.set()
