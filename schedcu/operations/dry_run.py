"""`schedcu submit --dry-run`: the import runs in this process, through the workers' own handlers, in one database
transaction that is rolled back.

The request goes to the versions worker's handler, and every message a handler adds to the outbox goes on to the
handlers that would receive it from the broker (`shared/messaging/in_process.py`): the saga, the ODS importer, the
Amion scraper and the coverage calculation run exactly as in the workers, so the report shows what the import would
store. Nothing is committed and nothing is published; Amion is read for real, under the account's usual politeness.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schedcu.queries.coverage import latest_calculation
from schedcu.runtime.registries import all_registries
from shared.db.models import ScheduleVersion, ScrapeBatch, ShiftInstance
from shared.db.session import rolled_back, transaction
from shared.kernel.amion_data import MonthResult
from shared.kernel.contracts import (
    AmionScraped,
    AmionScrapeFailed,
    Contract,
    ImportRequested,
    OdsImported,
    OdsImportFailed,
)
from shared.kernel.findings import Finding
from shared.messaging.in_process import deliver


@dataclass
class DryRunOutcome:
    template_findings: list[Finding]
    layout: str | None = None
    windows: int = 0
    shifts_by_role: dict[str, int] = field(default_factory=dict)
    scrape_state: str | None = None
    scrape_months: dict[str, str] = field(default_factory=dict)
    scrape_findings: list[Finding] = field(default_factory=list)
    assignments: int = 0
    coverage: dict[str, Any] | None = None

    @property
    def would_fail(self) -> bool:
        return self.layout is None


def dry_run(request: ImportRequested) -> DryRunOutcome:
    message_id = f"dry-run-{uuid.uuid4()}"
    # a request id of its own: the saga answers a request id it knows with that workflow instead of importing
    request = request.model_copy(update={"request_id": message_id})
    with rolled_back():
        sent = asyncio.run(deliver(all_registries(), request, message_id))
        with transaction() as session:
            return _report(session, sent)


def _report(session: Session, sent: list[Contract]) -> DryRunOutcome:
    """What the messages sent and the rows written say about the version the import would store."""
    imported = next((m for m in sent if isinstance(m, OdsImported | OdsImportFailed)), None)
    if imported is None:
        raise RuntimeError(f"the import did not run; the messages sent: {', '.join(type(m).__name__ for m in sent)}")
    report = DryRunOutcome(template_findings=list(imported.findings))
    if isinstance(imported, OdsImportFailed):
        return report
    version_id = imported.version_id
    report.layout = session.get_one(ScheduleVersion, version_id).layout
    report.windows = imported.windows
    count = func.count().label("count")
    roles = session.execute(
        select(ShiftInstance.role, count)
        .where(ShiftInstance.version_id == version_id)
        .group_by(ShiftInstance.role)
        .order_by(count.desc(), ShiftInstance.role)
    )
    report.shifts_by_role = {role: n for role, n in roles}
    scrapes = [m for m in sent if isinstance(m, AmionScraped | AmionScrapeFailed)]
    if scrapes:  # the last attempt's
        batch = session.get_one(ScrapeBatch, scrapes[-1].batch_id)
        report.scrape_state = batch.state
        report.scrape_months = {month: MonthResult.from_json(result).outcome for month, result in batch.months.items()}
        report.scrape_findings = list(scrapes[-1].findings)
        report.assignments = scrapes[-1].assignments if isinstance(scrapes[-1], AmionScraped) else 0
    report.coverage = latest_calculation(session, version_id)
    return report
