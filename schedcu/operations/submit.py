"""What an upstream system does: publish an ImportRequested (persistent, confirmed, routed)."""

import base64
import zipfile
from datetime import date
from pathlib import Path

from schedcu.errors import UsageMistake
from schedcu.runtime.registries import all_queues
from services.ods_importer.expansion import validate_period
from shared.kernel import ids
from shared.kernel.contracts import ImportRequested, Period, TemplateSource
from shared.messaging.publish import publish_now
from shared.settings import Settings

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def check_template(template: Path, max_bytes: int) -> None:
    """Refuse, before anything is published, a file the importer would refuse: too large, or not an ODS
    spreadsheet (a zip whose `mimetype` member names the spreadsheet type)."""
    size = template.stat().st_size
    if size > max_bytes:
        raise UsageMistake(f"{template} is {size} bytes, over the limit of {max_bytes} (SCHEDCU_MAX_TEMPLATE_BYTES)")
    try:
        with zipfile.ZipFile(template) as archive, archive.open("mimetype") as member:
            mimetype = member.read(len(ODS_MIMETYPE) + 1).strip()
    except (zipfile.BadZipFile, KeyError):
        mimetype = b""
    if mimetype != ODS_MIMETYPE:
        raise UsageMistake(f"{template} is not an ODS spreadsheet: save it from LibreOffice Calc as .ods")


def check_request(template: Path, start: date, end: date, amion_account: str, settings: Settings) -> None:
    """Everything the workers would refuse later that can be known here."""
    for finding in validate_period(start, end, settings.max_period_days):
        raise UsageMistake(f"{finding.text} Give --start and --end within {settings.max_period_days} days.")
    if settings.amion_accounts and amion_account not in settings.amion_accounts:
        known = ", ".join(sorted(settings.amion_accounts))
        raise UsageMistake(f"unknown Amion account {amion_account!r}: use one of {known} (SCHEDCU_AMION_ACCOUNTS)")
    check_template(template, settings.max_template_bytes)


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
