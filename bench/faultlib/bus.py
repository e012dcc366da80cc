"""The suite's side of the bus, as an upstream system and a downstream subscriber see it: plain AMQP
(aio-pika), publishing persistent, confirmed messages, each as the broker account that sends it, retried while
the broker is away."""

import asyncio
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
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

UPSTREAM = "schedcu-upstream"  # the account that asks for imports
OPERATOR = "schedcu-operator"  # the command line's account: may send any message


@dataclass(frozen=True)
class Captured:
    routing_key: str
    body: bytes
    message_id: str | None
    correlation_id: str | None
    headers: dict[str, Any]
    sender: str  # the broker account that publishes it (its AMQP user_id)


async def _publish(urls: Mapping[str, str], messages: list[Captured]) -> None:
    async with AsyncExitStack() as connections:
        channels: dict[str, aio_pika.abc.AbstractChannel] = {}
        for m in messages:
            if m.sender not in channels:
                connection = await aio_pika.connect(urls[m.sender], timeout=5)
                await connections.enter_async_context(connection)
                channels[m.sender] = await connection.channel(publisher_confirms=True)
            # not declared, not even passively: the accounts may not configure
            exchange = await channels[m.sender].get_exchange(exchange_of(m.routing_key), ensure=False)
            await exchange.publish(
                aio_pika.Message(
                    m.body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=m.message_id,
                    correlation_id=m.correlation_id,
                    headers=m.headers,
                    user_id=m.sender,
                ),
                routing_key=m.routing_key,
                mandatory=True,
            )


def publish(urls: Mapping[str, str], messages: list[Captured], give_up_after_s: float = 120.0) -> None:
    """Publish each message as its sender (`urls` by account) and wait for the broker's confirms; while it is
    away, try again every half second, as an upstream system keeps a request until the broker took it."""
    deadline = time.monotonic() + give_up_after_s
    while True:
        try:
            asyncio.run(_publish(urls, messages))
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
    """A durable queue of the suite's own, so that what it receives survives broker restarts; `url` must log in
    as an account that may declare and bind it (the administrator)."""
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
                    message.user_id or "",
                )
            )
    return taken


def drain(url: str, queue: str) -> list[Captured]:
    """Every message now in `queue`, taken out of it."""
    return asyncio.run(_drain(url, queue))
