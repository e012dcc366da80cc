"""The one way a service consumes: validate, dead-letter poison with its reason, hand over, ack.

A message whose routing key names no contract of this consumer, or whose body does not validate, can
never succeed: it is copied to the queue's dead-letter queue with the reason in `x-schedcu-reason` and
acknowledged, so the worker goes on. So is a message whose sender (AMQP `user_id`) may not send it, when the
worker checks senders (`shared.messaging.senders`).

A handler's failure is classified (`shared.messaging.faults`). A transient one (the database or the broker
unavailable, a serialization failure, a deadlock, a timeout) never counts toward the delivery limit: the
delivery is held and the handler runs again, after the database gate reopens or after a capped backoff.
A deterministic one is counted: after a backoff of at least 1 s the message is rejected for redelivery,
and on its last allowed delivery (`delivery_limit`) it is dead-lettered with the reason and the true
delivery count (`x-schedcu-deliveries`). Why holding the delivery, and what it costs: see the docstring of
`shared.messaging.faults`.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from aio_pika import IncomingMessage
from aiormq.exceptions import ChannelInvalidStateError
from faststream import AckPolicy, BaseMiddleware
from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from shared.kernel.contracts import BY_ROUTING_KEY, Contract
from shared.logs import MESSAGE_CONTEXT, MessageIds
from shared.messaging.faults import DETERMINISTIC, TRANSIENT, DependencyGate, Failure, classify, describe
from shared.messaging.outbox import WORKFLOW_HEADER
from shared.messaging.senders import Senders
from shared.messaging.topology import DEAD_LETTER_EXCHANGE, ConsumerQueue, exchange_for, work_queue
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

REASON_HEADER = "x-schedcu-reason"
ROUTING_KEY_HEADER = "x-schedcu-routing-key"
DELIVERIES_HEADER = "x-schedcu-deliveries"
DELIVERY_COUNT_HEADER = "x-delivery-count"


@dataclass(frozen=True)
class Delivery:
    message_id: str
    correlation_id: str | None
    routing_key: str
    redelivered: bool
    body_sha256: str | None = None  # None: a delivery made up by a tool, whose body nobody compares


Handler = Callable[[Any, Delivery], Awaitable[None]]
# Answers a message of its contract that failed validation (body, delivery, reason) before it is dead-lettered.
Rejecter = Callable[[bytes, Delivery, str], Awaitable[None]]
P = ParamSpec("P")


def in_thread(step: Callable[P, object]) -> Callable[P, Awaitable[None]]:
    """`step`, a synchronous function (database work, parsing), run off the event loop: a handler, a rejecter or a
    periodic job."""

    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        await asyncio.to_thread(step, *args, **kwargs)

    return run


R = TypeVar("R")


def given_settings(step: Callable[[Any, Delivery, Settings], R]) -> Callable[[Any, Delivery], R]:
    """`step` given the process's settings, for a service's wiring (its composition root): read when a message
    arrives, once per process (a test chooses them before it starts the worker)."""
    return lambda message, delivery: step(message, delivery, get_settings())


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


async def dead_letter(
    broker: RabbitBroker, queue: ConsumerQueue, raw: IncomingMessage, reason: str, deliveries: int
) -> None:
    headers = {k: v for k, v in (raw.headers or {}).items() if k != DELIVERY_COUNT_HEADER}
    headers.update(
        {
            REASON_HEADER: reason[:4000],
            ROUTING_KEY_HEADER: raw.routing_key or "",
            "x-schedcu-queue": queue.name,
            DELIVERIES_HEADER: deliveries,
        }
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
        timestamp=datetime.now(UTC),
    )


class MessageLogContext(BaseMiddleware):
    """Puts the message's ids in the log context as soon as it arrives, so that every line logged while it
    is handled (FastStream's own `Received` and `Processed` included) carries them."""

    async def on_receive(self) -> None:
        raw = self.msg
        if isinstance(raw, IncomingMessage):
            traceparent = str((raw.headers or {}).get("traceparent") or "")
            trace_id = traceparent.split("-")[1] if traceparent.count("-") == 3 else None
            workflow_id = (raw.headers or {}).get(WORKFLOW_HEADER)
            MESSAGE_CONTEXT.set(MessageIds(message_id_of(raw), str(workflow_id) if workflow_id else None, trace_id))
        await super().on_receive()


class Released(Exception):
    """The delivery went back to the queue (its channel closed) while the handler waited to run again."""


def deliveries_of(raw: IncomingMessage) -> int:
    """Which delivery of this message this is, counting this one (a quorum queue's `x-delivery-count`
    counts the earlier ones); without the header, 1, or 2 when the broker says it is a redelivery."""
    count = (raw.headers or {}).get(DELIVERY_COUNT_HEADER)
    if isinstance(count, int):
        return count + 1
    return 2 if raw.redelivered else 1


def still_held(raw: IncomingMessage) -> bool:
    try:
        raw.channel  # noqa: B018 - the property raises once the delivering channel is closed
    except ChannelInvalidStateError:
        return False
    return True


async def run_handler(
    handler: Handler, body: Any, delivery: Delivery, raw: IncomingMessage, database: DependencyGate
) -> Exception | None:
    """Run `handler` until it succeeds (None) or fails deterministically (that failure). Transient failures
    are retried while the delivery is held: a database outage closes the database gate and the handler waits
    for it to reopen; other transient failures wait a capped, jittered backoff."""
    attempt = 0
    while True:
        await database.wait_open()
        if not still_held(raw):
            raise Released
        try:
            await handler(body, delivery)
        except Unprocessable:
            raise
        except Exception as error:
            kind = classify(error)
            if not kind.transient:
                return error
            if kind is Failure.DATABASE_DOWN:
                database.close(error)
                continue
            attempt += 1
            wait = TRANSIENT.delay(attempt)
            log.info("%s: %s (%s); trying again in %.1f s", delivery.message_id, kind.value, describe(error), wait)
            await asyncio.sleep(wait)
        else:
            return None


async def settle(action: Awaitable[None], message_id: str) -> None:
    """Ack or reject; when the channel or the broker is gone the broker redelivers the message anyway."""
    try:
        await action
    except Exception as error:
        if not classify(error).transient:
            raise
        log.info("could not settle %s (%s); the broker will deliver it again", message_id, describe(error))


async def undecoded(message: RabbitMessage) -> RabbitMessage:
    """The message as it came, body undecoded: `parse` reads it, so a body that is no JSON, whatever its content
    type says, is dead-lettered with its reason instead of failing in FastStream's decoder before it reaches us.
    A broker without dependency injection (the worker's, `apply_types=False`) hands the handler what the decoder
    returns; with it, the `RabbitMessage` annotation resolves to the same message."""
    return message


def subscribe(
    broker: RabbitBroker,
    queue: ConsumerQueue,
    handlers: Mapping[type[Contract], Handler],
    delivery_limit: int,
    database: DependencyGate,
    declare: bool = True,
    rejecters: Mapping[type[Contract], Rejecter] | None = None,
    senders: Senders | None = None,
) -> None:
    """Consume `queue`; with `declare` False the queue must exist (broker definitions) and is only checked.
    No handler starts while `database` is closed. With `senders`, a message its sender may not send is
    dead-lettered unread."""

    @broker.subscriber(
        work_queue(queue, delivery_limit, declare),
        exchange_for(queue.bindings[0]),
        ack_policy=AckPolicy.MANUAL,
        decoder=undecoded,
    )
    async def on_message(message: RabbitMessage) -> None:
        raw: IncomingMessage = message.raw_message
        message_id = message_id_of(raw)
        deliveries = deliveries_of(raw)

        async def park(reason: str) -> None:
            try:
                await dead_letter(broker, queue, raw, reason, deliveries)
            except Exception as error:
                log.warning("could not dead-letter %s (%s); rejecting it", message_id, describe(error))
                await settle(message.reject(requeue=True), message_id)
            else:
                await settle(message.ack(), message_id)

        delivery = Delivery(
            message_id, raw.correlation_id, raw.routing_key or "", raw.redelivered, hashlib.sha256(raw.body).hexdigest()
        )
        refused = senders.refusal(raw.user_id, delivery.routing_key) if senders is not None else None
        if refused is not None:
            log.warning("dead-lettering %s from %s: %s", message_id, queue.name, refused)
            await park(refused)
            return
        try:
            body = parse(raw, handlers)
        except Unprocessable as error:
            log.warning("dead-lettering %s from %s: %s", message_id, queue.name, error)
            reason = str(error)
            rejecter = (rejecters or {}).get(BY_ROUTING_KEY.get(delivery.routing_key))  # type: ignore[arg-type]
            if rejecter is not None:
                answer: Handler = lambda _, d: rejecter(raw.body, d, reason)  # noqa: E731
                try:
                    failure = await run_handler(answer, None, delivery, raw, database)
                except Released:
                    return
                if failure is not None:
                    log.error("could not answer %s: %s", message_id, describe(failure))
            await park(reason)
            return
        try:
            failure = await run_handler(handlers[type(body)], body, delivery, raw, database)
        except Unprocessable as error:
            log.warning("dead-lettering %s from %s: %s", message_id, queue.name, error)
            await park(str(error))
            return
        except Released:
            log.info("%s went back to %s while waiting to run again", message_id, queue.name)
            return
        if failure is None:
            await settle(message.ack(), message_id)
        elif deliveries >= delivery_limit:
            reason = f"handler failed on delivery {deliveries} of {delivery_limit}: {describe(failure)}"
            log.error("dead-lettering %s from %s: %s", message_id, queue.name, reason, exc_info=failure)
            await park(reason)
        else:
            wait = DETERMINISTIC.delay(deliveries)
            log.warning(
                "%s failed on %s (delivery %d of %d); rejecting it for redelivery in %.1f s",
                queue.consumer, message_id, deliveries, delivery_limit, wait, exc_info=failure,
            )  # fmt: skip
            await asyncio.sleep(wait)
            await settle(message.reject(requeue=True), message_id)
