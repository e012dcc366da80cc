"""`schedcu submit --dry-run`: the three phases run in this process, in one transaction that is rolled back.

The same code as the workers runs (template preparation and storage, the Amion fetch and its assessment,
the coverage calculation), so the report shows exactly what the import would store. Nothing is committed
and nothing is published; Amion is read for real, under the account's usual politeness.
"""

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from schedcu.queries.coverage import latest_calculation
from services.amion_scraper import store as amion_store
from services.amion_scraper.assessment import MonthPage, ScrapeOutcome, assess
from services.amion_scraper.handlers import ScrapeError, fetch
from services.amion_scraper.rows import months_of_period
from services.coverage.calculation import CalculationOptions, calculate_and_store
from services.ods_importer.handlers import prepare
from services.ods_importer.store import store_version
from shared.db.session import engine
from shared.kernel.contracts import ImportRequested, ImportTemplate, ScrapeAmion
from shared.kernel.findings import AMION_SCRAPE_FAILED, Finding
from shared.kernel.states import BatchState
from shared.settings import Settings


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


async def _scrape(request: ImportRequested, command: ScrapeAmion, settings: Settings) -> list[MonthPage] | Finding:
    account = settings.amion_accounts.get(request.amion_account)
    if account is None:
        return AMION_SCRAPE_FAILED(f"Unknown Amion account {request.amion_account!r}.")  # fmt: skip
    try:
        months = months_of_period(request.period.start, request.period.end)
        fetched = await fetch(request.amion_account, account, months)
    except ScrapeError as error:
        return AMION_SCRAPE_FAILED(str(error))
    return [MonthPage(f.month, f.page.body if f.page else None, f.error) for f in fetched]


def _store_scrape(
    session: Session, command: ScrapeAmion, scraped: list[MonthPage] | Finding, settings: Settings
) -> ScrapeOutcome | Finding:
    if isinstance(scraped, Finding):
        return scraped
    account = settings.amion_accounts[command.amion_account]
    batch_id = uuid.uuid4()
    amion_store.open_batch(session, batch_id, command.version_id, command.workflow_id, command.amion_account)
    people = amion_store.active_people(session)
    outcome = assess(scraped, command.period.start, command.period.end, account.role_mapping, people)
    amion_store.record_outcome(session, batch_id, command.version_id, outcome, settings.tz)
    return outcome


def dry_run(request: ImportRequested, settings: Settings) -> DryRunOutcome:
    workflow_id, version_id = uuid.uuid4(), uuid.uuid4()
    command = ImportTemplate(
        workflow_id=workflow_id, request_id=request.request_id, attempt=1, group=request.group,
        period=request.period, template=request.template, requested_by=request.requested_by,
    )  # fmt: skip
    prepared = prepare(command, settings)
    report = DryRunOutcome(template_findings=prepared.findings)
    if prepared.layout is None or prepared.parsed is None:
        return report
    report.layout = prepared.layout.value
    report.windows = len(prepared.parsed.windows)
    report.shifts_by_role = dict(Counter(s.role for s in prepared.shifts).most_common())
    scrape = ScrapeAmion(
        **command.context(),
        attempt=1,
        version_id=version_id,
        amion_account=request.amion_account,
    )
    scraped = asyncio.run(_scrape(request, scrape, settings))

    session = sessionmaker(engine())()
    try:
        store_version(
            session, version_id=version_id, workflow_id=workflow_id, group=request.group, period=request.period,
            layout=prepared.layout, template_name=request.template.filename, template_sha256="dry-run",
            windows=prepared.parsed.windows, shifts=prepared.shifts, findings=prepared.findings,
            actor=request.requested_by,
        )  # fmt: skip
        outcome = _store_scrape(session, scrape, scraped, settings)
        if isinstance(outcome, Finding):
            report.scrape_state, report.scrape_findings = BatchState.FAILED, [outcome]
        else:
            report.scrape_state, report.scrape_months = outcome.state, dict(outcome.months)
            report.scrape_findings, report.assignments = list(outcome.findings), len(outcome.assignments)
        calculate_and_store(session, version_id, uuid.uuid4(), CalculationOptions.from_settings(settings))
        report.coverage = latest_calculation(session, version_id)
    finally:
        session.rollback()
        session.close()
    return report
