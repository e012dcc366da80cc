"""Publishing from outside a worker (the command line, an operator's tool): straight to the broker,
persistent, routed and confirmed. Workers never use this: they write to the outbox."""

from faststream.rabbit import RabbitBroker

from shared.contracts import Contract
from shared.messaging import topology
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.settings import Settings


async def publish_now(settings: Settings, message: Contract, *, message_id: str, correlation_id: str) -> None:
    async with RabbitBroker(settings.amqp_url, app_id="schedcu-cli") as broker:
        if settings.declare_topology:
            await topology.declare(broker, settings.delivery_limit)
        await broker.publish(
            message.model_dump_json().encode(),
            exchange=EVENTS_EXCHANGE,
            routing_key=message.routing_key,
            persist=True,
            mandatory=True,
            message_id=message_id,
            correlation_id=correlation_id,
            content_type="application/json",
            message_type=type(message).__name__,
        )
