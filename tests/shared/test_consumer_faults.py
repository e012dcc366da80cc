"""The consumer on the real broker: a handler that always fails is retried at least 1 s apart and then
dead-lettered with its reason and true delivery count; a database outage never counts toward the delivery
limit, and no handler starts while the database is known to be down."""

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack

import psycopg.errors
import pytest
import sqlalchemy.exc
from faststream.rabbit import RabbitBroker

from schedcu.runtime.registries import registry
from shared.kernel.contracts import CalculateCoverage
from shared.messaging import dead_letters, topology
from shared.messaging.consumer import Delivery, subscribe
from shared.messaging.faults import Backoff, DependencyGate
from tests.conftest import DEFAULT_AMQP_URL, isolated_vhost, until

pytestmark = pytest.mark.integration

LIMIT = 3
QUEUE = registry("coverage").queue


def database_gone() -> sqlalchemy.exc.OperationalError:
    """What a handler's query raises when PostgreSQL is shut down under it."""
    orig = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, orig)


@pytest.fixture
async def amqp_url() -> AsyncIterator[str]:
    with ExitStack() as stack:
        url = isolated_vhost(os.environ.get("SCHEDCU_AMQP_URL", DEFAULT_AMQP_URL), f"faults_{uuid.uuid4().hex}", stack)
        yield url


async def consume(
    amqp_url: str, handler: Callable[[CalculateCoverage, Delivery], Awaitable[None]], database: DependencyGate
) -> RabbitBroker:
    await topology.declare(amqp_url, LIMIT, [QUEUE])
    broker = RabbitBroker(amqp_url, logger=None)
    subscribe(broker, QUEUE, {CalculateCoverage: handler}, LIMIT, database)
    await broker.start()
    return broker


async def publish(broker: RabbitBroker, message_id: str) -> None:
    command = CalculateCoverage(version_id=uuid.uuid4())
    await broker.publish(
        command.model_dump_json(),
        exchange=topology.COMMANDS_EXCHANGE,
        routing_key=CalculateCoverage.routing_key,
        message_id=message_id,
        persist=True,
    )


async def test_handler_that_always_fails_is_retried_a_second_apart_then_dead_lettered_with_reason_and_count(
    amqp_url: str,
) -> None:
    attempts: list[float] = []

    async def broken(command: CalculateCoverage, delivery: Delivery) -> None:
        attempts.append(time.monotonic())
        raise ValueError(f"version {command.version_id} has a shift without a window")

    async def answers() -> bool:
        return True

    broker = await consume(amqp_url, broken, DependencyGate("database", answers, Backoff(0.25, 2.0)))
    try:
        await publish(broker, "always-fails")
        letters: list[dead_letters.DeadLetter] = []

        async def dead_lettered() -> bool:
            letters[:] = await dead_letters.peek(amqp_url, QUEUE, 10)
            return bool(letters)

        deadline = time.monotonic() + 30
        while not await dead_lettered():
            assert time.monotonic() < deadline, "the failing message was never dead-lettered"
            await asyncio.sleep(0.2)
    finally:
        await broker.stop()

    assert len(attempts) == LIMIT
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    [letter] = letters
    assert letter.message_id == "always-fails"
    assert letter.deliveries == LIMIT
    assert letter.reason.startswith(f"handler failed on delivery {LIMIT} of {LIMIT}: ValueError: version ")
    assert letter.routing_key == CalculateCoverage.routing_key


async def test_database_outage_holds_work_without_counting_deliveries_and_resumes_by_itself(amqp_url: str) -> None:
    database_back = asyncio.Event()
    probes = 0

    async def probe() -> bool:
        nonlocal probes
        probes += 1
        return database_back.is_set()

    gate = DependencyGate("database", probe, Backoff(0.05, 0.2))
    calls: dict[str, list[bool]] = {"first": [], "second": []}
    outage_failures = LIMIT + 2  # more failures than the delivery limit allows deterministic ones

    async def needs_database(command: CalculateCoverage, delivery: Delivery) -> None:
        calls[delivery.message_id].append(delivery.redelivered)
        if delivery.message_id == "first" and len(calls["first"]) <= outage_failures:
            raise database_gone()

    broker = await consume(amqp_url, needs_database, gate)
    try:
        await publish(broker, "first")
        await until(lambda: not gate.is_open, "the first failure to close the database gate")
        await publish(broker, "second")
        await until(lambda: probes >= 5, "the gate to probe the database a few times")
        assert calls["second"] == [], "a handler started while the database was known to be down"

        database_back.set()
        await until(lambda: calls["second"] and len(calls["first"]) == outage_failures + 1, "both to be handled")
        await until(lambda: gate.is_open, "the gate to stay open")
    finally:
        await broker.stop()

    assert calls["first"] == [False] * (outage_failures + 1), "the delivery was held, never handed back"
    assert calls["second"] == [False]
    assert await dead_letters.peek(amqp_url, QUEUE, 10) == []
