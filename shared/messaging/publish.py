"""Publishing from outside a worker (the command line, an operator's tool): straight to the broker,
persistent, routed and confirmed. Workers never use this: they write to the outbox."""

from collections.abc import Sequence

from shared.kernel.contracts import Contract
from shared.messaging import topology
from shared.messaging.connection import login
from shared.messaging.failover_broker import FailoverBroker
from shared.messaging.topology import ConsumerQueue, exchange_for
from shared.settings import Settings


async def publish_now(
    settings: Settings,
    message: Contract,
    queues: Sequence[ConsumerQueue],
    *,
    message_id: str,
    correlation_id: str,
) -> None:
    """Publish `message`, declaring the topology of `queues` first (unless the broker's definitions hold it)."""
    if settings.declare_topology:
        await topology.declare(settings.amqp_url, settings.delivery_limit, queues)
    async with FailoverBroker(settings.amqp_url, app_id="schedcu-cli") as broker:
        await broker.publish(
            message.model_dump_json().encode(),
            exchange=exchange_for(message.routing_key),
            routing_key=message.routing_key,
            persist=True,
            mandatory=True,
            message_id=message_id,
            correlation_id=correlation_id,
            content_type="application/json",
            message_type=type(message).__name__,
            user_id=login(settings.amqp_url),
        )
