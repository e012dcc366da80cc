"""The outbox relay on the real broker and database: messages committed in a burst are published as each commits,
their deletions committed together in one transaction of the relay's; a relay stopped meanwhile commits them, so
nothing it published is published again."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import aio_pika
import psycopg
import pytest
from faststream.rabbit import RabbitBroker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schedcu.runtime.registries import registry
from shared.db.models import OutboxMessage
from shared.kernel.contracts import CalculateCoverage
from shared.messaging import outbox, topology
from shared.messaging.faults import Backoff, DependencyGate
from shared.messaging.relay import HOLD_S, OutboxRelay
from tests.conftest import Services, provisioned

pytestmark = pytest.mark.integration

QUEUE = registry("coverage").queue
RELAY_XACT = """
    SELECT xact_start FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%FROM outbox%'
      AND state = 'idle in transaction'
"""


async def answers() -> bool:
    return True


async def until(probe: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """A database and vhost of their own, with no worker: the session's coverage worker would take the messages
    these tests read from the coverage queue, and its relays would drain the outbox they count."""
    with provisioned(f"schedcu_test_relay_{uuid.uuid4().hex[:8]}") as own:
        yield own


@pytest.fixture
async def relay(services: Services) -> AsyncIterator[OutboxRelay]:
    await topology.declare(services.amqp_url, 3, [QUEUE])
    broker = RabbitBroker(services.amqp_url, logger=None)
    await broker.connect()
    relay = OutboxRelay(
        broker,
        services.engine,
        1.0,
        DependencyGate("database", answers, Backoff(0.05, 0.2)),
        DependencyGate("broker", answers, Backoff(0.05, 0.2)),
        routing_keys=[CalculateCoverage.routing_key],
        user_id=None,
        app_id="schedcu-test",
    )
    running = asyncio.create_task(relay.run())
    yield relay
    relay.stop()
    await running
    await broker.stop()
    async with await aio_pika.connect(services.amqp_url) as connection:
        await (await (await connection.channel()).get_queue(QUEUE.name, ensure=False)).purge()


def commit_message(services: Services) -> str:
    message_id = f"relay-{uuid.uuid4()}"
    with Session(services.engine) as session, session.begin():
        outbox.add(session, CalculateCoverage(version_id=uuid.uuid4()), message_id=message_id, correlation_id="relay")
    return message_id


async def next_message_id(services: Services, timeout_s: float) -> str:
    async with await aio_pika.connect(services.amqp_url) as connection:
        queue = await (await connection.channel()).get_queue(QUEUE.name, ensure=False)
        deadline = time.monotonic() + timeout_s
        while (message := await queue.get(fail=False, no_ack=True)) is None:
            assert time.monotonic() < deadline, f"nothing was published within {timeout_s} s"
            await asyncio.sleep(0.01)
        assert message.message_id is not None
        return message.message_id


def relay_transaction_start(services: Services) -> object:
    url = services.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(RELAY_XACT).fetchone()
    assert row is not None, "the relay holds no transaction open"
    return row[0]


def outbox_rows(services: Services) -> int:
    with Session(services.engine) as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


async def test_a_burst_is_published_as_each_commits_and_deleted_in_one_transaction(
    services: Services, relay: OutboxRelay
) -> None:
    published, starts = [], []
    for _ in range(2):
        committed_at = time.monotonic()
        message_id = commit_message(services)
        assert await next_message_id(services, timeout_s=0.5) == message_id
        published.append(time.monotonic() - committed_at)
        starts.append(relay_transaction_start(services))

    assert max(published) < HOLD_S / 2, published  # none waited for the transaction to end
    assert len(set(starts)) == 1, starts
    await until(lambda: outbox_rows(services) == 0, "the published rows to be deleted", 10 * HOLD_S)


async def test_a_relay_stopped_while_holding_its_transaction_commits_what_it_published(
    services: Services, relay: OutboxRelay
) -> None:
    message_id = commit_message(services)
    assert await next_message_id(services, timeout_s=5) == message_id
    relay_transaction_start(services)  # published, deletion not yet committed

    relay.stop()

    await until(lambda: outbox_rows(services) == 0, "the stopped relay to delete its published row", 10)


async def test_a_row_whose_connection_is_being_re_established_is_left_for_the_broker_s_return_not_leased(
    services: Services,
) -> None:
    """In a cluster, a node's death closes the connections to it; until the worker's connection is back on another
    node, aio-pika refuses a channel with a RuntimeError. The row is the broker's to take as soon as it is back: no
    30 s lease (a node kill held a workflow's result that long)."""
    broker = RabbitBroker(services.amqp_url, logger=None)
    await (await broker.connect()).close()  # lost, not yet back
    gate = DependencyGate("broker", answers, Backoff(0.05, 0.2))
    relay = OutboxRelay(
        broker, services.engine, 1.0, DependencyGate("database", answers, Backoff(0.05, 0.2)), gate,
        routing_keys=[CalculateCoverage.routing_key], user_id=None, app_id="schedcu-test",
    )  # fmt: skip
    message_id = commit_message(services)
    url = services.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await relay.publish_pending(conn)
        lease = await (
            await conn.execute("SELECT claimed_until FROM outbox WHERE message_id = %s", (message_id,))
        ).fetchone()
        await conn.execute("DELETE FROM outbox WHERE message_id = %s", (message_id,))
    assert lease == (None,)  # still there, and any relay may take it at once
    assert not gate.is_open
    await gate.stop()
    await broker.stop()
