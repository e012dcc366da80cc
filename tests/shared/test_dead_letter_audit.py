"""Redriving and discarding dead letters, on every queue (lanes included) with its longest routing key and a long
message id: each letter leaves exactly one audit row, and an action that fails (here: the database refuses the
audit row) on the longest dead-letter queue name leaves the letter in its dead-letter queue, unpublished, with no
audit row. Listing letters holds one body at a time, and paging through them (or
looking for one) leaves every letter in place, in its order."""

import asyncio
import tracemalloc
import uuid
from collections.abc import Iterator

import aio_pika
import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from schedcu.runtime.registries import all_queues, all_registries
from shared.messaging import dead_letters, topology
from shared.messaging.topology import ConsumerQueue
from shared.settings import get_settings
from tests.conftest import Services, eventually, provisioned
from tests.support import amqp_client

pytestmark = pytest.mark.integration

REASON = "worker crashed (test)"  # what amqp_client.park_in_dead_letters records
# every queue of every registry (lanes included), by name, with the handlers of the messages it receives
QUEUES = {queue.name: (queue, handlers) for r in all_registries() for queue, handlers in r.subscriptions}
# the queue whose dead-letter queue has the longest name of all (schedcu.drafting.repair.dead-letter, 35 characters,
# today): the widest audit row a dead-letter action writes
LONGEST = max((queue for queue, _ in QUEUES.values()), key=lambda queue: len(queue.dead_letter_name))


@pytest.fixture(scope="module")
def dlq_services() -> Iterator[Services]:
    """A database and vhost of their own, with no worker: a redriven letter waits in its work queue."""
    with provisioned(f"schedcu_test_dlq_{uuid.uuid4().hex[:8]}") as services:
        asyncio.run(topology.declare(services.amqp_url, get_settings().delivery_limit, all_queues()))
        yield services


def longest_routing_key(queue: ConsumerQueue) -> str:
    """The longest routing key of the messages the queue receives."""
    return max((contract.routing_key for contract in QUEUES[queue.name][1]), key=len)


def park(services: Services, queue: ConsumerQueue) -> str:
    """A letter in the queue's dead-letter queue, with a message id of 240 characters (AMQP allows 255)."""
    message_id = f"{uuid.uuid4()}-".ljust(240, "m")
    amqp_client.park_in_dead_letters(
        services.amqp_url, queue.dead_letter_name, b'{"x": 1}', longest_routing_key(queue), message_id
    )
    return message_id


def parked_ids(services: Services, queue: ConsumerQueue) -> set[str | None]:
    return {letter.message_id for letter in asyncio.run(dead_letters.peek(services.amqp_url, queue, limit=None))}


def depth(services: Services, queue_name: str) -> int:
    async def count() -> int:
        async with await aio_pika.connect(services.amqp_url) as connection:
            declared = await (await connection.channel()).declare_queue(queue_name, passive=True)
            return declared.declaration_result.message_count or 0

    return asyncio.run(count())


def audit_rows(services: Services, queue: ConsumerQueue, message_id: str) -> list[tuple[str, str, str, str | None]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action, from_state, to_state FROM audit_log WHERE entity_id = :e ORDER BY id"),
            {"e": f"{queue.dead_letter_name}/{message_id}"},
        )
        return [(r.actor, r.action, r.from_state, r.to_state) for r in rows]


def act(services: Services, action: str, queue: ConsumerQueue, message_id: str) -> list[dead_letters.DeadLetter]:
    run = dead_letters.redrive if action == "redrive" else dead_letters.discard
    transaction = sessionmaker(services.engine).begin
    return asyncio.run(run(services.amqp_url, queue, message_id, actor="olga", transaction=transaction))


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_redrive_and_discard_each_leave_exactly_one_audit_row(dlq_services: Services, name: str) -> None:
    queue = QUEUES[name][0]
    routing_key = longest_routing_key(queue)
    redriven, discarded = park(dlq_services, queue), park(dlq_services, queue)
    waiting = depth(dlq_services, queue.name)

    assert [x.message_id for x in act(dlq_services, "redrive", queue, redriven)] == [redriven]
    assert [x.message_id for x in act(dlq_services, "discard", queue, discarded)] == [discarded]

    assert audit_rows(dlq_services, queue, redriven) == [("olga", "redrive", queue.dead_letter_name, routing_key)]
    assert audit_rows(dlq_services, queue, discarded) == [("olga", "discard", queue.dead_letter_name, None)]
    assert not parked_ids(dlq_services, queue) & {redriven, discarded}
    assert depth(dlq_services, queue.name) == waiting + 1  # the redriven letter, back in its work queue


@pytest.fixture
def audit_refused(dlq_services: Services) -> Iterator[None]:
    """The database refuses every audit row while the test runs."""
    with dlq_services.engine.begin() as conn:
        conn.execute(text(
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit refused (test)'; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
        ))  # fmt: skip
    yield
    with dlq_services.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_audit ON audit_log; DROP FUNCTION refuse_audit()"))


@pytest.mark.usefixtures("audit_refused")
@pytest.mark.parametrize("action", ["redrive", "discard"])
def test_an_action_whose_audit_row_fails_leaves_the_letter_in_place(dlq_services: Services, action: str) -> None:
    queue = LONGEST
    message_id = park(dlq_services, queue)
    waiting = depth(dlq_services, queue.name)

    with pytest.raises(sqlalchemy.exc.DBAPIError, match="audit refused"):
        act(dlq_services, action, queue, message_id)

    eventually(lambda: message_id in parked_ids(dlq_services, queue), 10, "the letter back in its dead-letter queue")
    assert audit_rows(dlq_services, queue, message_id) == []
    assert depth(dlq_services, queue.name) == waiting  # not redriven either


def test_listing_dead_letters_holds_one_body_at_a_time(dlq_services: Services) -> None:
    queue = QUEUES["schedcu.coverage"][0]
    size = 4_000_000
    message_ids = [f"big-{uuid.uuid4()}" for _ in range(5)]
    for message_id in message_ids:
        amqp_client.park_in_dead_letters(
            dlq_services.amqp_url,
            queue.dead_letter_name,
            b"x" * size,
            "command.coverage.calculate",
            message_id,
        )

    tracemalloc.start()
    try:
        letters = asyncio.run(dead_letters.peek(dlq_services.amqp_url, queue, limit=None))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert set(message_ids) <= {letter.message_id for letter in letters}
    assert all(len(letter.body_preview) <= dead_letters.PREVIEW_CHARS + 3 for letter in letters)
    assert peak < 3 * size, peak  # not the 5 bodies at once
    assert set(message_ids) <= parked_ids(dlq_services, queue)  # all left in place


def in_order(services: Services, queue: ConsumerQueue) -> list[str | None]:
    return [letter.message_id for letter in asyncio.run(dead_letters.peek(services.amqp_url, queue, limit=None))]


def test_paging_reads_a_page_and_leaves_every_letter_in_place_in_its_order(dlq_services: Services) -> None:
    queue = QUEUES["schedcu.ods_importer"][0]
    before = in_order(dlq_services, queue)
    mine = [f"paged-{n:03}-{uuid.uuid4()}" for n in range(120)]
    for message_id in mine:
        amqp_client.park_in_dead_letters(dlq_services.amqp_url, queue.dead_letter_name, b"{}", "x", message_id)
    start = len(before)

    def page(offset: int) -> list[str | None]:
        letters = asyncio.run(dead_letters.peek(dlq_services.amqp_url, queue, 50, start + offset))
        return [letter.message_id for letter in letters]

    assert [page(0), page(50), page(100), page(120)] == [mine[:50], mine[50:100], mine[100:], []]
    assert in_order(dlq_services, queue) == before + mine

    found, count = asyncio.run(dead_letters.find(dlq_services.amqp_url, queue, mine[99], start + 120))
    assert found is not None and found.message_id == mine[99] and count == start + 120
    beyond, _ = asyncio.run(dead_letters.find(dlq_services.amqp_url, queue, mine[119], start + 100))
    assert beyond is None  # it is the 120th of mine: not within the window
    assert in_order(dlq_services, queue) == before + mine
    assert depth(dlq_services, queue.dead_letter_name) == start + 120
