"""A plain AMQP client (aio-pika only, no schedcu code), as an upstream system or a downstream subscriber
would use the bus."""

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import aio_pika

EXCHANGE = "schedcu.events"
COMMANDS_EXCHANGE = "schedcu.commands"  # `command.*`: apart from the events


def exchange_of(routing_key: str) -> str:
    return COMMANDS_EXCHANGE if routing_key.startswith("command.") else EXCHANGE


def import_requested(request_id: str, template: bytes, start: str, end: str, account: str = "test") -> dict[str, Any]:
    """The JSON body README documents for `import.requested`."""
    return {
        "schema_version": 1,
        "request_id": request_id,
        "group": "test-group",
        "period": {"start": start, "end": end},
        "template": {"filename": "template.ods", "inline_base64": base64.b64encode(template).decode()},
        "amion_account": account,
        "requested_by": "integration-test",
    }


async def _publish(
    channel: aio_pika.abc.AbstractChannel, body: bytes, routing_key: str, message_id: str, user_id: str | None = None
) -> None:
    exchange = await channel.get_exchange(exchange_of(routing_key))
    await exchange.publish(
        aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            user_id=user_id,
        ),
        routing_key=routing_key,
        mandatory=True,
    )


def publish(
    amqp_url: str,
    body: bytes,
    routing_key: str = "import.requested",
    message_id: str | None = None,
    user_id: str | None = None,
) -> str:
    """Publish `body`, signed `user_id` (the login, which RabbitMQ checks) when given; its message id."""
    message_id = message_id or str(uuid.uuid4())

    async def run() -> None:
        async with await aio_pika.connect(amqp_url) as connection:
            await _publish(await connection.channel(), body, routing_key, message_id, user_id)

    asyncio.run(run())
    return message_id


def publish_and_receive(
    amqp_url: str,
    body: bytes,
    binding: str,
    match: dict[str, str],
    timeout_s: float = 90.0,
    routing_key: str = "import.requested",
    message_id: str | None = None,
) -> dict[str, Any]:
    """Bind a private queue to `binding`, publish `body` (an import request unless `routing_key` says
    otherwise; with a new message id unless given), return the first event whose fields equal `match`."""

    async def run() -> dict[str, Any]:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange_of(binding), routing_key=binding)
            await _publish(channel, body, routing_key, message_id or str(uuid.uuid4()))
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        event = json.loads(message.body)
                        if all(str(event.get(k)) == v for k, v in match.items()):
                            return event
        raise AssertionError("queue iterator ended")

    return asyncio.run(asyncio.wait_for(run(), timeout_s))


def find_dead_letter(
    amqp_url: str, queue_name: str, message_id: str, timeout_s: float = 30.0
) -> aio_pika.IncomingMessage:
    async def run() -> aio_pika.abc.AbstractIncomingMessage:
        deadline = time.monotonic() + timeout_s
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.get_queue(queue_name)
            while time.monotonic() < deadline:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.2)
                elif message.message_id == message_id:
                    return message
        raise AssertionError(f"no dead letter {message_id} in {queue_name} within {timeout_s} s")

    return asyncio.run(run())


def park_in_dead_letters(amqp_url: str, dead_letter_queue: str, body: bytes, routing_key: str, message_id: str) -> None:
    """Put a message into a dead-letter queue as the consumer does when it gives up on one."""

    async def run() -> None:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange("schedcu.dead-letter")
            await exchange.publish(
                aio_pika.Message(
                    body, message_id=message_id, content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers={"x-schedcu-reason": "worker crashed (test)", "x-schedcu-routing-key": routing_key},
                ),
                routing_key=dead_letter_queue,
            )  # fmt: skip

    asyncio.run(run())


def publish_and_collect(
    amqp_url: str,
    body: bytes,
    bindings: list[str],
    correlation_id: str | None,
    until: str,
    timeout_s: float = 90.0,
    message_id: str | None = None,
) -> list[tuple[str, aio_pika.abc.AbstractIncomingMessage, dict[str, Any]]]:
    """Bind a private queue to `bindings`, publish the request `body` (with `correlation_id` when given), and
    return every event (routing key, message, body) carrying the request's correlation id, up to and including
    the first one with routing key `until`."""
    message_id = message_id or str(uuid.uuid4())
    expected = correlation_id or json.loads(body).get("request_id")

    async def run() -> list[tuple[str, aio_pika.abc.AbstractIncomingMessage, dict[str, Any]]]:
        received: list[tuple[str, aio_pika.abc.AbstractIncomingMessage, dict[str, Any]]] = []
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for binding in bindings:
                await queue.bind(exchange_of(binding), routing_key=binding)
            exchange = await channel.get_exchange(EXCHANGE)
            await exchange.publish(
                aio_pika.Message(
                    body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message_id, correlation_id=correlation_id,
                ),
                routing_key="import.requested",
                mandatory=True,
            )  # fmt: skip
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        if message.correlation_id != expected:
                            continue
                        received.append((message.routing_key or "", message, json.loads(message.body)))
                        if message.routing_key == until:
                            return received
        raise AssertionError("queue iterator ended")

    return asyncio.run(asyncio.wait_for(run(), timeout_s))


def subscribe(amqp_url: str, queue_name: str, bindings: list[str]) -> None:
    """A queue of the subscriber's own that keeps every event of `bindings` until taken (`take`)."""

    async def run() -> None:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(queue_name, durable=True)
            for binding in bindings:
                await queue.bind(exchange_of(binding), routing_key=binding)

    asyncio.run(run())


def take(amqp_url: str, queue_name: str, timeout_s: float = 90.0) -> tuple[str, dict[str, Any]] | None:
    """The next event in the subscriber's queue (routing key, body), waiting up to `timeout_s`; None if none came."""

    async def run() -> tuple[str, dict[str, Any]] | None:
        deadline = time.monotonic() + timeout_s
        async with await aio_pika.connect(amqp_url) as connection:
            queue = await (await connection.channel()).get_queue(queue_name)
            while True:
                message = await queue.get(fail=False)
                if message is not None:
                    await message.ack()
                    return message.routing_key or "", json.loads(message.body)
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(0.2)

    return asyncio.run(run())
