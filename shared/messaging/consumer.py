"""The one way a service consumes: validate, dead-letter poison with its reason, hand over, ack.

A message whose routing key names no contract of this consumer, or whose body does not validate, can
never succeed: it is copied to the queue's dead-letter queue with the reason in `x-schedcu-reason` and
acknowledged, so the worker goes on. A handler that raises is rejected with requeue; RabbitMQ counts
that toward the quorum queue's delivery limit and dead-letters the message once the limit is reached,
so it never loops hot.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aio_pika import IncomingMessage
from faststream import AckPolicy, BaseMiddleware
from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from shared.contracts import BY_ROUTING_KEY, Contract
from shared.logs import MESSAGE_CONTEXT, MessageIds
from shared.messaging.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, ConsumerQueue, work_queue

log = logging.getLogger(__name__)

REASON_HEADER = "x-schedcu-reason"
ROUTING_KEY_HEADER = "x-schedcu-routing-key"


@dataclass(frozen=True)
class Delivery:
    message_id: str
    correlation_id: str | None
    routing_key: str
    redelivered: bool


Handler = Callable[[Any, Delivery], Awaitable[None]]
# Answers a message of its contract that failed validation (body, delivery, reason) before it is dead-lettered.
Rejecter = Callable[[bytes, Delivery, str], Awaitable[None]]


def in_thread(step: Callable[[Any, Delivery], Any]) -> Handler:
    """A handler that runs a synchronous step (database work, parsing) off the event loop."""

    async def handle(message: Any, delivery: Delivery) -> None:
        await asyncio.to_thread(step, message, delivery)

    return handle


class Unprocessable(Exception):
    """The message can never succeed; it goes to the dead-letter queue with this reason."""


def validation_reason(error: ValidationError) -> str:
    """The validation errors without the offending input values (they may hold anything)."""
    parts = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors(include_input=False)]
    return f"{error.title} failed validation: " + "; ".join(parts)


def message_id_of(raw: IncomingMessage) -> str:
    """The producer's message id; for a producer that set none, one derived from the content."""
    if raw.message_id:
        return raw.message_id
    return "sha256:" + hashlib.sha256(f"{raw.routing_key}\n".encode() + raw.body).hexdigest()


def parse(raw: IncomingMessage, handlers: Mapping[type[Contract], Handler]) -> Contract:
    contract = BY_ROUTING_KEY.get(raw.routing_key or "")
    if contract is None or contract not in handlers:
        raise Unprocessable(f"no handler for routing key {raw.routing_key!r} on this queue")
    try:
        return contract.model_validate_json(raw.body)
    except ValidationError as error:
        raise Unprocessable(validation_reason(error)) from None


async def dead_letter(broker: RabbitBroker, queue: ConsumerQueue, raw: IncomingMessage, reason: str) -> None:
    headers = dict(raw.headers or {})
    headers.update(
        {REASON_HEADER: reason[:4000], ROUTING_KEY_HEADER: raw.routing_key or "", "x-schedcu-queue": queue.name}
    )
    await broker.publish(
        raw.body,
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=queue.dead_letter_name,
        persist=True,
        mandatory=True,
        message_id=raw.message_id,
        correlation_id=raw.correlation_id,
        content_type=raw.content_type,
        headers=headers,
    )


class MessageLogContext(BaseMiddleware):
    """Puts the message's ids in the log context as soon as it arrives, so that every line logged while it
    is handled (FastStream's own `Received` and `Processed` included) carries them."""

    async def on_receive(self) -> None:
        raw = self.msg
        if isinstance(raw, IncomingMessage):
            traceparent = str((raw.headers or {}).get("traceparent") or "")
            trace_id = traceparent.split("-")[1] if traceparent.count("-") == 3 else None
            MESSAGE_CONTEXT.set(MessageIds(message_id_of(raw), raw.correlation_id, trace_id))
        await super().on_receive()


def subscribe(
    broker: RabbitBroker,
    queue: ConsumerQueue,
    handlers: Mapping[type[Contract], Handler],
    delivery_limit: int,
    declare: bool = True,
    rejecters: Mapping[type[Contract], Rejecter] | None = None,
) -> None:
    """Consume `queue`; with `declare` False the queue must exist (broker definitions) and is only checked."""

    @broker.subscriber(work_queue(queue, delivery_limit, declare), EVENTS_EXCHANGE, ack_policy=AckPolicy.MANUAL)
    async def on_message(message: RabbitMessage) -> None:
        raw: IncomingMessage = message.raw_message
        delivery = Delivery(message_id_of(raw), raw.correlation_id, raw.routing_key or "", raw.redelivered)
        try:
            body = parse(raw, handlers)
        except Unprocessable as error:
            log.warning("dead-lettering %s from %s: %s", raw.message_id, queue.name, error)
            rejecter = (rejecters or {}).get(BY_ROUTING_KEY.get(delivery.routing_key))  # type: ignore[arg-type]
            if rejecter is not None:
                await rejecter(raw.body, delivery, str(error))
            await dead_letter(broker, queue, raw, str(error))
            await message.ack()
            return
        try:
            await handlers[type(body)](body, delivery)
        except Unprocessable as error:
            await dead_letter(broker, queue, raw, str(error))
            await message.ack()
        except Exception:
            log.exception("%s failed on %s; rejecting for redelivery", queue.consumer, delivery.message_id)
            await message.reject(requeue=True)
        else:
            await message.ack()
