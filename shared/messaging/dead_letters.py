"""Operators' view of the dead-letter queues: how deep, what is in them and why, and redriving messages
back to their original routing key. A redriven message keeps its message id, so a consumer that already
processed it skips it (inbox): it is processed once. Discarding removes dead letters for good. Each letter
redriven or discarded leaves one audit row, committed only when its action was done. Listing takes the letters
and puts them all back in their order; `peek` describes a page of them, `find` one by its id."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.orm import Session

from shared.audit import record
from shared.messaging.connection import connect, login
from shared.messaging.consumer import DELIVERIES_HEADER, REASON_HEADER, ROUTING_KEY_HEADER
from shared.messaging.topology import ConsumerQueue, exchange_for
from shared.settings import get_settings

PREVIEW_CHARS = 300
RELEASE_WAIT_S = 5.0
# letters a reader holds unreleased: their bodies are in memory together (20 reads a queue about 5 times faster)
READ_AHEAD = 1


class UnknownQueue(ValueError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    routing_key: str | None
    reason: str
    deliveries: int | None  # how many times the message was delivered before it was dead-lettered
    dead_lettered_from: str | None
    at: str | None  # when it was dead-lettered (ISO 8601), when the message says
    body_preview: str

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def consumer_queue(name: str, queues: Sequence[ConsumerQueue]) -> ConsumerQueue:
    """`versions`, `schedcu.versions` or `schedcu.versions.dead-letter` all name the versions queue."""
    for queue in queues:
        if name in (queue.consumer, queue.name, queue.dead_letter_name):
            return queue
    raise UnknownQueue(f"no queue {name!r}; queues: {', '.join(q.consumer for q in queues)}")


def _death(message: AbstractIncomingMessage) -> dict[str, Any]:
    deaths = (message.headers or {}).get("x-death") or []
    return dict(deaths[0]) if deaths else {}


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    """A dead letter's reason and delivery count: the consumer's own headers, or, for a message the broker
    dead-lettered at the queue's delivery limit (its worker died or lost the broker holding it on every
    delivery), the limit's count: the broker's `x-death` count says how often it was dead-lettered, not
    delivered."""
    headers = message.headers or {}
    death = _death(message)
    routing_key = headers.get(ROUTING_KEY_HEADER) or next(iter(death.get("routing-keys") or []), None)
    reason = headers.get(REASON_HEADER)
    deliveries = headers.get(DELIVERIES_HEADER)
    if reason is None and death.get("reason") == "delivery_limit":
        deliveries = get_settings().delivery_limit + 1
        reason = f"delivery_limit: never acknowledged in {deliveries} deliveries"
    elif reason is None and death:
        reason = str(death.get("reason"))
    head = message.body[: PREVIEW_CHARS * 4]  # enough bytes for PREVIEW_CHARS characters of UTF-8
    text = head.decode("utf-8", errors="replace")
    more = len(text) > PREVIEW_CHARS or len(message.body) > len(head)
    when = message.timestamp or death.get("time")
    return DeadLetter(
        message_id=message.message_id,
        routing_key=str(routing_key) if routing_key else None,
        reason=str(reason or "unknown"),
        deliveries=deliveries if isinstance(deliveries, int) else None,
        dead_lettered_from=str(headers.get("x-schedcu-queue") or death.get("queue") or "") or None,
        at=when.astimezone(UTC).isoformat() if isinstance(when, datetime) else None,
        body_preview=text[:PREVIEW_CHARS] + ("..." if more else ""),
    )


async def depths(amqp_url: str, queues: Sequence[ConsumerQueue]) -> dict[str, int]:
    async with await connect(amqp_url) as connection:
        channel = await connection.channel()
        counts = {}
        for queue in queues:
            declared = await channel.declare_queue(queue.dead_letter_name, passive=True)
            counts[queue.dead_letter_name] = declared.declaration_result.message_count or 0
        return counts


async def _back_in_place(channel: aio_pika.abc.AbstractChannel, queue: ConsumerQueue, letters: int) -> None:
    """Wait (5 s at most) until the dead-letter queue shows `letters` letters again: the broker puts the letters
    taken and released back a moment after the release, and whoever looks next must see them."""
    deadline = time.monotonic() + RELEASE_WAIT_S
    while time.monotonic() < deadline:
        dlq = await channel.declare_queue(queue.dead_letter_name, passive=True)
        if (dlq.declaration_result.message_count or 0) >= letters:
            return
        await asyncio.sleep(0.05)


async def _take(channel: aio_pika.abc.AbstractChannel, queue: ConsumerQueue) -> list[AbstractIncomingMessage]:
    """Every message now in the dead-letter queue, held unacknowledged on this channel."""
    dlq = await channel.declare_queue(queue.dead_letter_name, passive=True)
    held = []
    for _ in range(dlq.declaration_result.message_count or 0):
        message = await dlq.get(no_ack=False, fail=False)
        if message is None:
            break
        held.append(message)
    return held


async def _read(
    amqp_url: str, queue: ConsumerQueue, most: int | None, visit: Callable[[int, AbstractIncomingMessage], bool]
) -> int:
    """Hand the first `most` letters of `queue` (or all) in their order, each with its position, to `visit` until
    it answers True, and leave every letter in place, in its order. The number of letters in the queue.

    Every letter is taken, however few are visited, because of how a quorum queue takes letters back: a letter
    nacked goes to its tail; a closed channel's letters go to its head, but after any given back so before; the
    letters taken by `basic.get`, or nacked many at once, come back in no set order. So one consumer takes the
    letters, at most `READ_AHEAD` unreleased, and nacks each in its turn: the queue turns round once. The last
    ones are nacked after the consumer is cancelled, so that it never takes a letter twice. A body is let go
    once `visit` returned."""
    async with await connect(amqp_url) as connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(queue.dead_letter_name, passive=True)
        count = dlq.declaration_result.message_count or 0
        if not count:
            return 0
        await channel.set_qos(prefetch_count=READ_AHEAD)
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        consumer = await dlq.consume(arrived.put, no_ack=False)
        visiting, held = True, []
        for position in range(count):
            try:
                message = await asyncio.wait_for(arrived.get(), RELEASE_WAIT_S)
            except TimeoutError:  # fewer letters than counted: another reader holds some
                break
            if visiting and (most is None or position < most):
                visiting = not visit(position, message)
            if position < count - READ_AHEAD:
                await message.nack(requeue=True)
            else:
                held.append(message.delivery_tag)
        await dlq.cancel(consumer)
        underlay = await channel.get_underlay_channel()
        for tag in held:
            await underlay.basic_nack(delivery_tag=tag, requeue=True)
        await _back_in_place(channel, queue, count)
    return count


async def peek(amqp_url: str, queue: ConsumerQueue, limit: int | None, offset: int = 0) -> list[DeadLetter]:
    """The dead letters of `queue` after the first `offset` (the next `limit`, or all), left in place and in
    their order. Only these are described; the others are taken and put back unread (`_read` says why)."""
    letters = []

    def visit(position: int, message: AbstractIncomingMessage) -> bool:
        if position >= offset:
            letters.append(describe(message))
        return False

    await _read(amqp_url, queue, None if limit is None else offset + limit, visit)
    return letters


async def find(amqp_url: str, queue: ConsumerQueue, message_id: str, within: int) -> tuple[DeadLetter | None, int]:
    """The letter with `message_id` among the first `within` letters of `queue` (None when it is not among them),
    left in place, and the number of letters in the queue. Only that letter is described."""
    found = []

    def visit(_: int, message: AbstractIncomingMessage) -> bool:
        if message.message_id == message_id:
            found.append(describe(message))
        return bool(found)

    count = await _read(amqp_url, queue, within, visit)
    return (found[0] if found else None), count


def chosen(letter: DeadLetter, message_id: str | None, reason: str | None) -> bool:
    return (message_id is None or letter.message_id == message_id) and (reason is None or letter.reason == reason)


Transaction = Callable[[], AbstractContextManager[Session]]


@asynccontextmanager
async def _audited(
    transaction: Transaction, actor: str, action: str, queue: ConsumerQueue, letter: DeadLetter
) -> AsyncIterator[None]:
    """The letter's audit row, flushed before the action (so a row the database refuses stops it while the
    message is still in the queue) and committed after it (an action that fails leaves no row).

    The broker and the database share no transaction: between the action (the letter acknowledged, after its
    republication was confirmed for a redrive) and the commit there is a window. If the commit fails there (the
    database lost, the process killed), the letter has left its dead-letter queue but has no audit row; the
    command or console page fails with the database's error and stops, so it is at most one letter per run, the
    one it was acting on (docs/operations.md, "Dead letters and how to redrive them", says how to reconcile)."""
    with transaction() as session:
        record(
            session, actor=actor, entity="dead_letter", entity_id=f"{queue.dead_letter_name}/{letter.message_id}",
            action=action, from_state=queue.dead_letter_name,
            to_state=letter.routing_key if action == "redrive" else None, reason=letter.reason,
            details={"deliveries": letter.deliveries, "at": letter.at},
        )  # fmt: skip
        session.flush()
        yield


async def redrive(
    amqp_url: str,
    queue: ConsumerQueue,
    message_id: str | None = None,
    reason: str | None = None,
    *,
    actor: str,
    transaction: Transaction,
) -> list[DeadLetter]:
    """Publish dead letters (all, or the one with `message_id`, or those dead-lettered for `reason`) back to
    their routing key, each with one audit row by `actor`; each leaves the dead-letter queue only after the
    broker confirmed its republication. A failure stops there: the letters not redriven stay in the queue."""
    redriven = []
    async with await connect(amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        held = await _take(channel, queue)
        for message in held:
            letter = describe(message)
            if letter.routing_key is None or not chosen(letter, message_id, reason):
                await message.nack(requeue=True)
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if not str(k).startswith("x-")}
            exchange = await channel.get_exchange(exchange_for(letter.routing_key).name, ensure=False)
            async with _audited(transaction, actor, "redrive", queue, letter):
                await exchange.publish(
                    aio_pika.Message(
                        message.body, headers=headers, message_id=message.message_id,
                        correlation_id=message.correlation_id, content_type=message.content_type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT, user_id=login(amqp_url),
                    ),
                    routing_key=letter.routing_key,
                    mandatory=True,
                )  # fmt: skip
                await message.ack()
            redriven.append(letter)
        await _back_in_place(channel, queue, len(held) - len(redriven))
    return redriven


async def discard(
    amqp_url: str,
    queue: ConsumerQueue,
    message_id: str | None = None,
    reason: str | None = None,
    *,
    actor: str,
    transaction: Transaction,
) -> list[DeadLetter]:
    """Remove dead letters for good (the one with `message_id`, or those dead-lettered for `reason`; at least
    one of the two must be given), each with one audit row by `actor`. A failure stops there: the letters not
    discarded stay in the queue."""
    if message_id is None and reason is None:
        raise ValueError("discard needs a message id or a reason")
    discarded = []
    async with await connect(amqp_url) as connection:
        channel = await connection.channel()
        held = await _take(channel, queue)
        for message in held:
            letter = describe(message)
            if not chosen(letter, message_id, reason):
                await message.nack(requeue=True)
                continue
            async with _audited(transaction, actor, "discard", queue, letter):
                await message.ack()
            discarded.append(letter)
        await _back_in_place(channel, queue, len(held) - len(discarded))
    return discarded


def as_json(letters: list[DeadLetter]) -> str:
    return json.dumps([letter.to_dict() for letter in letters], indent=2)
