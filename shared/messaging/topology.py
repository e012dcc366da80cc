"""Exchanges, queues and bindings, and declaring them.

`of` says what the topology is (the broker definitions in deploy/ hold the same, a test compares them).
`declare` asks the broker for it on a connection of its own, never on the channels a worker consumes or
publishes on: the broker closes the channel of a declaration it refuses, and a declaration that a robust
channel remembers is made again at every reconnect, so a queue that is refused once (its node down, or an
older queue with other arguments) would otherwise close the worker's channel at every reconnect. Each
exchange, and each queue with its bindings, is declared on a channel of its own; a refusal is logged once
with what to do, and only a refusal of what this process needs (the exchanges, its own queue) stops it.
"""

import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection
from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue

from shared.kernel.contracts import ImportAccepted, ImportRejected
from shared.messaging.connection import connect
from shared.messaging.faults import describe

log = logging.getLogger(__name__)

UNROUTED_EXCHANGE = RabbitExchange("schedcu.unrouted", type=ExchangeType.FANOUT, durable=True)
# An event no queue is bound for yet (WorkflowCompleted before any downstream subscribes) goes to the
# alternate exchange's bounded queue instead of coming back to a mandatory publish as unroutable.
EVENTS_EXCHANGE = RabbitExchange(
    "schedcu.events", type=ExchangeType.TOPIC, durable=True, arguments={"alternate-exchange": UNROUTED_EXCHANGE.name}
)
# Commands (`command.*`) on an exchange of their own: a subscriber allowed to read the events cannot bind a queue to
# the commands, and only the accounts that command something may write to it. A command nobody consumes comes back
# to its mandatory publish (no alternate exchange): that is a mistake, not an event nobody listens to yet.
COMMANDS_EXCHANGE = RabbitExchange("schedcu.commands", type=ExchangeType.TOPIC, durable=True)
COMMAND_PREFIX = "command."
DEAD_LETTER_EXCHANGE = RabbitExchange("schedcu.dead-letter", type=ExchangeType.DIRECT, durable=True)
# Quorum like every queue a message passes through: a classic queue lives on one node, and while that node is
# down the events routed to it come back to the relay as unroutable.
UNROUTED_QUEUE = RabbitQueue(
    "schedcu.unrouted",
    queue_type=QueueType.QUORUM,
    durable=True,
    arguments={"x-max-length": 10_000, "x-overflow": "drop-head"},
)
# The answers to import requests, for the upstream system that asks: the one queue its broker account may read.
# Bounded as the unrouted queue is: answers nobody reads drop the oldest instead of filling the broker.
UPSTREAM_REPLIES_QUEUE = RabbitQueue(
    "schedcu.upstream.replies",
    queue_type=QueueType.QUORUM,
    durable=True,
    arguments={"x-max-length": 10_000, "x-overflow": "drop-head"},
)
UPSTREAM_REPLIES = (ImportAccepted.routing_key, ImportRejected.routing_key)


def exchange_for(routing_key: str) -> RabbitExchange:
    """The exchange a message with `routing_key` is published to (and a queue bound for it binds to)."""
    return COMMANDS_EXCHANGE if routing_key.startswith(COMMAND_PREFIX) else EVENTS_EXCHANGE


@dataclass(frozen=True)
class ConsumerQueue:
    consumer: str
    bindings: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"schedcu.{self.consumer}"

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dead-letter"


def work_queue(queue: ConsumerQueue, delivery_limit: int, declare: bool = True) -> RabbitQueue:
    return RabbitQueue(
        queue.name,
        queue_type=QueueType.QUORUM,
        durable=True,
        declare=declare,
        routing_key=queue.bindings[0],
        arguments={
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-dead-letter-routing-key": queue.dead_letter_name,
            "x-delivery-limit": delivery_limit,
        },
    )


def dead_letter_queue(queue: ConsumerQueue) -> RabbitQueue:
    return RabbitQueue(queue.dead_letter_name, queue_type=QueueType.QUORUM, durable=True)


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class Topology:
    exchanges: tuple[RabbitExchange, ...]
    queues: tuple[RabbitQueue, ...]
    bindings: tuple[Binding, ...]


def of(delivery_limit: int, queues: Sequence[ConsumerQueue]) -> Topology:
    """The exchanges, the unrouted and upstream reply queues, and each of `queues` (every service's, from the
    operator package's registries) with its bindings and its dead-letter queue."""
    declared = [UNROUTED_QUEUE, UPSTREAM_REPLIES_QUEUE]
    bindings = [Binding(UNROUTED_EXCHANGE.name, UNROUTED_QUEUE.name, "")]
    bindings += [Binding(exchange_for(key).name, UPSTREAM_REPLIES_QUEUE.name, key) for key in UPSTREAM_REPLIES]
    for queue in queues:
        declared += [work_queue(queue, delivery_limit), dead_letter_queue(queue)]
        bindings += [Binding(exchange_for(key).name, queue.name, key) for key in queue.bindings]
        bindings.append(Binding(DEAD_LETTER_EXCHANGE.name, queue.dead_letter_name, queue.dead_letter_name))
    exchanges = (UNROUTED_EXCHANGE, EVENTS_EXCHANGE, COMMANDS_EXCHANGE, DEAD_LETTER_EXCHANGE)
    return Topology(exchanges, tuple(declared), tuple(bindings))


@dataclass(frozen=True)
class Refusal:
    what: str  # "queue schedcu.unrouted"
    reason: str
    advice: str


class TopologyRefused(RuntimeError):
    """The broker refused what this process cannot work without."""


def advice(what: str, error: BaseException) -> str:
    if isinstance(error, aiormq.exceptions.ChannelPreconditionFailed):
        return (
            f"the {what} exists with other arguments or another type (a queue's type cannot change in place): "
            "delete it once (`rabbitmqctl -p VHOST delete_queue NAME`, docs/operations.md) and start a worker "
            "to declare it again, or import deploy/rabbitmq/definitions.json"
        )
    if isinstance(error, aiormq.exceptions.ChannelNotFoundEntity):
        return (
            f"the {what} is unavailable, its node down: it comes back with its node; for good, remove the node "
            "from the cluster (`rabbitmqctl forget_cluster_node`) and delete the queue"
        )
    if isinstance(error, aiormq.exceptions.ChannelAccessRefused):
        return "this broker user may not declare: load the definitions and set SCHEDCU_DECLARE_TOPOLOGY=false"
    return "see the broker's log"


async def _declare_exchange(channel: AbstractChannel, exchange: RabbitExchange) -> None:
    await channel.declare_exchange(
        exchange.name, exchange.type.value, durable=exchange.durable, auto_delete=exchange.auto_delete,
        arguments=exchange.arguments,
    )  # fmt: skip


async def _declare_queue(channel: AbstractChannel, queue: RabbitQueue, bindings: Sequence[Binding]) -> None:
    declared = await channel.declare_queue(
        queue.name, durable=queue.durable, auto_delete=queue.auto_delete, arguments=queue.arguments
    )
    for binding in bindings:
        await declared.bind(binding.exchange, routing_key=binding.routing_key)


async def _refusal(
    connection: AbstractConnection, what: str, declaring: Callable[[AbstractChannel], Awaitable[None]]
) -> Refusal | None:
    """Run `declaring` on a channel of its own; what the broker said when it refused (logged once)."""
    channel = await connection.channel()
    try:
        await declaring(channel)
    except aiormq.exceptions.ChannelClosed as error:
        refusal = Refusal(what, describe(error), advice(what.split()[0], error))
        log.error("RabbitMQ refused to declare the %s (%s): %s", what, refusal.reason, refusal.advice)
        return refusal
    finally:
        if not channel.is_closed:
            await channel.close()
    return None


async def declare(
    amqp_url: str, delivery_limit: int, queues: Sequence[ConsumerQueue], needs: Collection[str] = ()
) -> list[Refusal]:
    """Declare `of(delivery_limit, queues)` on a connection of its own; what the broker refused. Raises
    `TopologyRefused` when that includes an exchange or a queue named in `needs`."""
    async with await connect(amqp_url) as connection:
        topology = of(delivery_limit, queues)
        refused = [
            await _refusal(connection, f"exchange {e.name}", functools.partial(_declare_exchange, exchange=e))
            for e in topology.exchanges
        ]
        for queue in topology.queues:
            bindings = [b for b in topology.bindings if b.queue == queue.name]
            declaring = functools.partial(_declare_queue, queue=queue, bindings=bindings)
            refused.append(await _refusal(connection, f"queue {queue.name}", declaring))
    found = [r for r in refused if r is not None]
    fatal = [r for r in found if r.what.startswith("exchange ") or r.what.removeprefix("queue ") in needs]
    if fatal:
        raise TopologyRefused("; ".join(f"{r.what}: {r.reason} ({r.advice})" for r in fatal))
    return found
