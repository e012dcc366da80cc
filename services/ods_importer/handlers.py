"""Phase 1: parse and validate the template, expand it, store the version, announce the result."""

import hashlib
import logging
from dataclasses import dataclass

from services.ods_importer import sources
from services.ods_importer.expansion import ShiftInstance, expand, expand_flat, validate_period
from services.ods_importer.store import store_version
from services.ods_importer.workbook import Layout, ParsedWorkbook, parse_workbook, reader_limits
from shared.db.models import ScheduleVersion
from shared.kernel import ids
from shared.kernel.contracts import ImportTemplate, OdsImported, OdsImportFailed
from shared.kernel.findings import Finding, has_errors
from shared.kernel.states import Phase
from shared.messaging.consumer import Delivery, Handler, given_settings, in_thread
from shared.messaging.unit_of_work import Fence, unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)

CONSUMER = "ods_importer"  # its inbox rows and its registry's queue are named by it


@dataclass(frozen=True)
class Import:
    """What an import request yields before anything is stored."""

    data: bytes
    parsed: ParsedWorkbook | None  # None: the template could not be fetched
    shifts: list[ShiftInstance]
    findings: list[Finding]

    @property
    def layout(self) -> Layout | None:
        """The layout to store; None when nothing may be stored (any ERROR)."""
        if self.parsed is None or has_errors(self.findings):
            return None
        return self.parsed.layout


def prepare(command: ImportTemplate, settings: Settings) -> Import:
    """Fetch, parse, validate and expand; every problem is a finding, never an exception."""
    try:
        data = sources.load(
            command.template,
            limit=settings.max_template_bytes,
            drop_folder=settings.drop_folder,
            timeout_s=settings.template_fetch_timeout_s,
            url_hosts=settings.template_url_hosts,
        )
    except sources.TemplateSourceError as error:
        return Import(b"", None, [], [error.finding])
    parsed = parse_workbook(data, reader_limits(settings))
    period = command.period
    findings = [*parsed.findings, *validate_period(period.start, period.end, settings.max_period_days)]
    if has_errors(findings):
        return Import(data, parsed, [], findings)
    if parsed.layout is Layout.TEMPLATE:
        shifts = expand(parsed.windows, period.start, period.end, settings.tz, frozenset(settings.holidays))
    else:
        shifts, expansion_findings = expand_flat(parsed.shifts, period.start, period.end, settings.tz)
        findings.extend(expansion_findings)
    return Import(data, parsed, shifts, findings)


def import_template(command: ImportTemplate, delivery: Delivery, settings: Settings) -> None:
    result = prepare(command, settings)
    request = {**command.context(), "attempt": command.attempt}
    with unit_of_work(CONSUMER, delivery, Fence(command.workflow_id, Phase.ODS_IMPORT, command.attempt)) as work:
        if work.skipped:
            return
        layout = result.layout
        if layout is None or result.parsed is None:
            work.publish(OdsImportFailed(**request, findings=result.findings))
            return
        version_id = ids.version_id_for(command.workflow_id)
        if work.session.get(ScheduleVersion, version_id) is not None:
            # a retried phase whose earlier attempt stored the version: announce it again
            log.info("version %s was stored by an earlier attempt", version_id)
        else:
            store_version(
                work.session,
                version_id=version_id,
                workflow_id=command.workflow_id,
                group=command.group,
                period=command.period,
                layout=layout,
                template_name=command.template.filename,
                template_sha256=hashlib.sha256(result.data).hexdigest(),
                windows=result.parsed.windows,
                shifts=result.shifts,
                findings=result.findings,
                actor=command.requested_by,
            )
        work.publish(
            OdsImported(
                **request,
                version_id=version_id,
                windows=len(result.parsed.windows),
                shift_instances=len(result.shifts),
                findings=result.findings,
            )
        )


HANDLERS: dict[type, Handler] = {ImportTemplate: in_thread(given_settings(import_template))}
