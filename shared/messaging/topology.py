"""Exchanges, queues and bindings. Every process declares the same topology (declarations are idempotent)."""

from collections.abc import Sequence
from dataclasses import dataclass

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

UNROUTED_EXCHANGE = RabbitExchange("schedcu.unrouted", type=ExchangeType.FANOUT, durable=True)
# An event no queue is bound for yet (WorkflowCompleted before any downstream subscribes) goes to the
# alternate exchange's bounded queue instead of coming back to a mandatory publish as unroutable.
EVENTS_EXCHANGE = RabbitExchange(
    "schedcu.events", type=ExchangeType.TOPIC, durable=True, arguments={"alternate-exchange": UNROUTED_EXCHANGE.name}
)
DEAD_LETTER_EXCHANGE = RabbitExchange("schedcu.dead-letter", type=ExchangeType.DIRECT, durable=True)
# Quorum like every queue a message passes through: a classic queue lives on one node, and while that node is
# down the events routed to it come back to the relay as unroutable.
UNROUTED_QUEUE = RabbitQueue(
    "schedcu.unrouted",
    queue_type=QueueType.QUORUM,
    durable=True,
    arguments={"x-max-length": 10_000, "x-overflow": "drop-head"},
)


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


async def declare(broker: RabbitBroker, delivery_limit: int, queues: Sequence[ConsumerQueue]) -> None:
    """Declare the exchanges, and each of `queues` (every service's, from the operator package's registries)
    with its bindings and its dead-letter queue."""
    unrouted = await broker.declare_exchange(UNROUTED_EXCHANGE)
    await (await broker.declare_queue(UNROUTED_QUEUE)).bind(unrouted)
    events = await broker.declare_exchange(EVENTS_EXCHANGE)
    dead_letters = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
    for queue in queues:
        work = await broker.declare_queue(work_queue(queue, delivery_limit))
        for key in queue.bindings:
            await work.bind(events, routing_key=key)
        parked = await broker.declare_queue(dead_letter_queue(queue))
        await parked.bind(dead_letters, routing_key=queue.dead_letter_name)
