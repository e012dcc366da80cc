"""Outbox relay: publishes committed outbox rows with publisher confirms, then deletes them.

The relay wakes when its own process commits outbox rows (`outbox.on_commit`) and polls every `poll_s` for
the rest: rows written by the command line, or left by a process that died before publishing them. (A
NOTIFY for every commit would wake every relay of every worker for each row, and all but one would find
nothing to publish.)

A relay publishes only the routing keys its service publishes (`Registry.publishes`): its broker account may
publish nothing else. Each message carries the account's name as its AMQP `user_id`.

On the relay's own connection, a batch's rows are locked (`FOR UPDATE SKIP LOCKED`, so several relays never
publish the same row at once), published together (their confirms pipelined), and the confirmed ones deleted.
The transaction stays open for the batches of the commits that wake the relay within `HOLD_S` of its start, so a
burst of commits costs one transaction; a batch is published as soon as it is woken, only the commit of the
deletions waits. It commits at once when its first batch finds nothing, when a batch leaves a row unpublished,
and when the relay stops. A relay that dies mid-transaction, or loses its database connection, releases its
locks with its transaction; the rows (up to a second's) are published again with the same message ids, which
consumers' inboxes skip. The relay talks to PostgreSQL directly (psycopg, async) on its event loop: no thread
hand-off.

The relay publishes on a channel of its own (publisher confirms, on the worker's connection), and replaces it
after a nack. A row the broker nacked (in a cluster, a queue's leader went away while the message was on its
way) stays unlocked and is published again at the next poll, on the new channel: RabbitMQ 3.10 can leave a
channel that published to a quorum queue while its leader was being re-elected nacking every later publish to
that queue, while a new channel is served by the new leader. When the broker is unavailable (its connection lost,
also while it is being re-established on another node) the relay leaves the rows it could not publish unlocked at
commit (any relay may take them at once) and waits for the broker gate, which reopens within about a second of
the broker's return; the outbox is then published right away. A row the broker refuses for another reason (a
permission, an exchange missing) gets a lease (`claimed_until`) and is tried again when it runs out, without
holding up the rows after it. While the database is down the relay waits for the database gate. Each of these
is logged once per change of state, not on every poll (a nacked row once per nack).
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aio_pika
import aiormq
import psycopg
from aio_pika.abc import AbstractChannel, AbstractExchange
from faststream.rabbit import RabbitBroker
from opentelemetry import context, propagate, trace
from psycopg.rows import class_row
from sqlalchemy import Engine

from shared.messaging import outbox
from shared.messaging.faults import TRANSIENT, DependencyGate, Failure, classify, describe, unless_stopped
from shared.messaging.topology import exchange_for
from shared.metrics import OUTBOX_NACKED

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

LEASE = timedelta(seconds=30)
BATCH = 100
HOLD_S = 1.0  # how long a transaction that published rows stays open for the next wakes' batches

CLAIM = """
    SELECT id, message_id, correlation_id, routing_key, message_type, body, headers FROM outbox
    WHERE (claimed_until IS NULL OR claimed_until < now()) AND routing_key = ANY(%(keys)s)
    ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
"""
DELETE = "DELETE FROM outbox WHERE id = ANY(%(ids)s)"
LEASE_OUT = "UPDATE outbox SET claimed_until = now() + %(lease)s WHERE id = ANY(%(ids)s)"


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    correlation_id: str
    routing_key: str
    message_type: str
    body: bytes
    headers: dict[str, Any]


class OutboxRelay:
    def __init__(
        self,
        broker: RabbitBroker,
        engine: Engine,
        poll_s: float,
        database: DependencyGate,
        broker_gate: DependencyGate,
        *,
        routing_keys: Sequence[str],
        user_id: str | None,
        app_id: str,
    ) -> None:
        self._broker = broker
        self._routing_keys = list(routing_keys)
        self._user_id = user_id
        self._app_id = app_id
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._engine = engine
        self._poll_s = poll_s
        self._database = database
        self._broker_gate = broker_gate
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    async def publish_pending(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Publish batches in one transaction on `conn`: what is pending, then what the wakes within `HOLD_S`
        bring."""
        loop = asyncio.get_running_loop()
        held_until = loop.time() + HOLD_S
        holding = False  # once a batch has published rows
        async with conn.transaction():
            while True:
                self._wake.clear()
                claimed, all_published = await self._publish_batch(conn)
                if not all_published or self._stopping.is_set():
                    return
                if claimed == BATCH:
                    continue
                holding = holding or claimed > 0
                if not holding or not await self._woken_within(held_until - loop.time()):
                    return

    async def _woken_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, seconds))
            return True
        return False

    async def _publish_batch(self, conn: psycopg.AsyncConnection[Any]) -> tuple[int, bool]:
        """Publish one batch in the open transaction of `conn`: how many rows it claimed, and whether all of
        them were published."""
        async with conn.cursor(row_factory=class_row(Claimed)) as cursor:
            rows = await (await cursor.execute(CLAIM, {"limit": BATCH, "keys": self._routing_keys})).fetchall()
        outcomes = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
        published, refused = [], []
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome is None:
                published.append(row.id)
            elif classify(outcome) is Failure.NACKED:
                OUTBOX_NACKED.inc()
                log.info("%s was not taken by the broker (%s); publishing it again", row.message_id,
                         describe(outcome))  # fmt: skip
            elif classify(outcome).transient or isinstance(outcome, asyncio.CancelledError):
                # a publish cancelled under the relay (not the relay itself): its connection went away
                self._broker_gate.close(outcome)  # the row stays unclaimed: published once the broker is back
            else:
                log.warning(
                    "publishing %s (%s) failed, retrying in %s: %s",
                    row.message_id, row.routing_key, LEASE, describe(outcome),
                )  # fmt: skip
                refused.append(row.id)
        if len(published) < len(rows):
            await self._drop_channel()
        if published:
            await conn.execute(DELETE, {"ids": published})
        if refused:
            await conn.execute(LEASE_OUT, {"ids": refused, "lease": LEASE})
        return len(rows), len(published) == len(rows)

    async def _exchange(self, routing_key: str) -> AbstractExchange:
        """The exchange of `routing_key` on the relay's channel, opened when there is none."""
        if self._channel is None or self._channel.is_closed:
            connection = await self._broker.connect()
            try:
                self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            except RuntimeError as error:  # aio-pika's word for a connection lost and not yet back
                raise aiormq.exceptions.AMQPConnectionError(describe(error)) from error
            self._exchanges = {}
        name = exchange_for(routing_key).name
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.get_exchange(name, ensure=False)
        return self._exchanges[name]

    async def _drop_channel(self) -> None:
        channel, self._channel, self._exchanges = self._channel, None, {}
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):  # a channel that cannot even close is gone already
                await channel.close()

    async def _publish(self, row: Claimed) -> None:
        token = context.attach(propagate.extract(row.headers))
        try:
            with tracer.start_as_current_span(f"{row.routing_key} publish", kind=trace.SpanKind.PRODUCER):
                headers = dict(row.headers)
                propagate.inject(headers)
                message = aio_pika.Message(
                    row.body,
                    headers=headers,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=row.message_id,
                    correlation_id=row.correlation_id,
                    type=row.message_type,
                    user_id=self._user_id,
                    app_id=self._app_id,
                )
                exchange = await self._exchange(row.routing_key)
                await exchange.publish(message, routing_key=row.routing_key, mandatory=True)
        finally:
            context.detach(token)

    async def run(self) -> None:
        """Publish until stopped: when this process commits outbox rows, and every `poll_s`."""
        loop = asyncio.get_running_loop()
        with outbox.on_commit(lambda: loop.call_soon_threadsafe(self._wake.set)):
            try:
                await self._run()
            finally:
                await self._drop_channel()

    async def _run(self) -> None:
        dsn = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        failures = 0
        while await unless_stopped(self._stopping, self._database.wait_open()):
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    while await unless_stopped(self._stopping, self._broker_gate.wait_open()):
                        await self.publish_pending(conn)
                        failures = 0
                        await self._woken_within(self._poll_s)
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
        self._wake.set()
