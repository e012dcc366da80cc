"""The suite's side of the bus, as an upstream system and a downstream subscriber see it: plain AMQP
(aio-pika), publishing persistent, confirmed messages, retried while the broker is away."""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aio_pika

EXCHANGE = "schedcu.events"
COMMANDS_EXCHANGE = "schedcu.commands"  # `command.*`: apart from the events


def exchange_of(routing_key: str) -> str:
    return COMMANDS_EXCHANGE if routing_key.startswith("command.") else EXCHANGE


FINAL_QUEUE = "faults.final-events"  # bound to event.workflow.*: what a downstream subscriber receives
TAP_QUEUE = "faults.tap"  # copies of phase commands and results, to deliver some of them twice
TAP_BINDINGS = ("command.#", "event.ods.*", "event.amion.*", "event.coverage.*")


@dataclass(frozen=True)
class Captured:
    routing_key: str
    body: bytes
    message_id: str | None
    correlation_id: str | None
    headers: dict[str, Any]


async def _publish(url: str, messages: list[Captured]) -> None:
    async with await aio_pika.connect(url, timeout=5) as connection:
        channel = await connection.channel(publisher_confirms=True)
        for m in messages:
            exchange = await channel.get_exchange(exchange_of(m.routing_key))
            await exchange.publish(
                aio_pika.Message(
                    m.body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=m.message_id,
                    correlation_id=m.correlation_id,
                    headers=m.headers,
                ),
                routing_key=m.routing_key,
                mandatory=True,
            )


def publish(url: str, messages: list[Captured], give_up_after_s: float = 120.0) -> None:
    """Publish and wait for the broker's confirms; while it is away, try again every half second, as an
    upstream system keeps a request until the broker took it."""
    deadline = time.monotonic() + give_up_after_s
    while True:
        try:
            asyncio.run(_publish(url, messages))
            return
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


async def _declare(url: str, queue: str, bindings: tuple[str, ...]) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
        for key in bindings:
            await declared.bind(exchange_of(key), routing_key=key)


def declare_subscriber_queue(url: str, queue: str, bindings: tuple[str, ...]) -> None:
    """A durable queue of the suite's own, so that what it receives survives broker restarts."""
    asyncio.run(_declare(url, queue, bindings))


async def _drain(url: str, queue: str) -> list[Captured]:
    taken = []
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            taken.append(
                Captured(
                    message.routing_key or "",
                    message.body,
                    message.message_id,
                    message.correlation_id,
                    dict(message.headers or {}),
                )
            )
    return taken


def drain(url: str, queue: str) -> list[Captured]:
    """Every message now in `queue`, taken out of it."""
    return asyncio.run(_drain(url, queue))
