"""What an upstream system does: publish an ImportRequested (persistent, confirmed, routed)."""

import base64
from pathlib import Path

from faststream.rabbit import RabbitBroker

from shared import ids
from shared.contracts import ImportRequested, Period, TemplateSource
from shared.messaging import topology
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.settings import Settings


def import_request(
    template: Path, *, group: str, period: Period, amion_account: str, requested_by: str, request_id: str
) -> ImportRequested:
    return ImportRequested(
        request_id=request_id,
        group=group,
        period=period,
        template=TemplateSource(filename=template.name, inline_base64=base64.b64encode(template.read_bytes()).decode()),
        amion_account=amion_account,
        requested_by=requested_by,
    )


async def publish_request(settings: Settings, request: ImportRequested) -> None:
    async with RabbitBroker(settings.amqp_url, app_id="schedcu-cli") as broker:
        await topology.declare(broker, settings.delivery_limit)
        await broker.publish(
            request.model_dump_json().encode(),
            exchange=EVENTS_EXCHANGE,
            routing_key=ImportRequested.routing_key,
            persist=True,
            mandatory=True,
            message_id=ids.import_requested_message_id(request.request_id),
            correlation_id=str(ids.workflow_id_for(request.request_id)),
            content_type="application/json",
            message_type="ImportRequested",
        )
