"""Phase 1: parse and validate the template, expand it, store the version, announce the result."""

import hashlib
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.ods_importer import sources
from services.ods_importer.expansion import expand, validate_period
from services.ods_importer.ods_reader import OdsLimits
from services.ods_importer.store import store_version
from services.ods_importer.template import ParsedTemplate, parse_template
from shared import ids
from shared.contracts import ImportTemplate, OdsImported, OdsImportFailed
from shared.db.models import ScheduleVersion, ShiftInstance, TemplateWindow
from shared.db.session import transaction
from shared.findings import Finding, has_errors
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery, Handler, in_thread
from shared.settings import get_settings

log = logging.getLogger(__name__)

CONSUMER = "ods_importer"


def parse_request(command: ImportTemplate) -> tuple[bytes, list[Finding], ParsedTemplate | None]:
    settings = get_settings()
    try:
        data = sources.load(command.template, limit=settings.max_template_bytes, drop_folder=settings.drop_folder)
    except sources.TemplateSourceError as error:
        return b"", [error.finding], None
    parsed = parse_template(data, OdsLimits(max_file_bytes=settings.max_template_bytes))
    findings = [*parsed.findings, *validate_period(command.period.start, command.period.end, settings.max_period_days)]
    return data, findings, parsed


def announce_existing_version(session: Session, command: ImportTemplate, result_id: str) -> bool:
    """A retried phase whose earlier attempt already stored the version announces that version again."""
    version = session.scalars(select(ScheduleVersion).where(ScheduleVersion.workflow_id == command.workflow_id)).first()
    if version is None:
        return False
    windows = session.scalar(select(func.count()).where(TemplateWindow.version_id == version.id))
    shifts = session.scalar(select(func.count()).where(ShiftInstance.version_id == version.id))
    event = OdsImported(
        workflow_id=command.workflow_id,
        version_id=version.id,
        group=command.group,
        period=command.period,
        windows=windows or 0,
        shift_instances=shifts or 0,
        findings=[Finding.model_validate(f) for f in version.findings],
    )
    outbox.add(session, event, message_id=result_id, correlation_id=str(command.workflow_id))
    return True


def import_template(command: ImportTemplate, delivery: Delivery) -> None:
    settings = get_settings()
    data, findings, parsed = parse_request(command)
    correlation = str(command.workflow_id)
    result_id = ids.result_message_id(delivery.message_id)
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            log.info("skipping duplicate %s", delivery.message_id)
            return
        if announce_existing_version(session, command, result_id):
            return
        if parsed is None or has_errors(findings):
            event = OdsImportFailed(workflow_id=command.workflow_id, findings=findings)
            outbox.add(session, event, message_id=result_id, correlation_id=correlation)
            return
        shifts = expand(
            parsed.windows, command.period.start, command.period.end, settings.tz, frozenset(settings.holidays)
        )
        version_id = ids.version_id_for(command.workflow_id)
        store_version(
            session,
            version_id=version_id,
            workflow_id=command.workflow_id,
            group=command.group,
            period=command.period,
            template_name=command.template.filename,
            template_sha256=hashlib.sha256(data).hexdigest(),
            windows=parsed.windows,
            shifts=shifts,
            findings=findings,
            actor=command.requested_by,
        )
        event = OdsImported(
            workflow_id=command.workflow_id,
            version_id=version_id,
            group=command.group,
            period=command.period,
            windows=len(parsed.windows),
            shift_instances=len(shifts),
            findings=findings,
        )
        outbox.add(session, event, message_id=result_id, correlation_id=correlation)


HANDLERS: dict[type, Handler] = {ImportTemplate: in_thread(import_template)}
