"""What an upstream system does: publish an ImportRequested (persistent, confirmed, routed)."""

import base64
from pathlib import Path

from schedcu.registries import all_queues
from shared import ids
from shared.contracts import ImportRequested, Period, TemplateSource
from shared.messaging.publish import publish_now
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
    await publish_now(
        settings,
        request,
        all_queues(),
        message_id=ids.import_requested_message_id(request.request_id),
        correlation_id=request.request_id,
    )
