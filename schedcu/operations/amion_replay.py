"""Rebuild a version's AMION assignments from a scrape batch's archived pages, without fetching anything."""

import uuid
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services.amion_scraper import store
from services.amion_scraper.assessment import MonthPage, ScrapeOutcome, assess
from services.amion_scraper.rows import months_of_period
from shared.db.models import ScheduleVersion, ScrapeBatch
from shared.kernel.states import BatchState
from shared.settings import AmionAccount


class ReplayError(Exception):
    """The batch cannot be re-parsed; the text says why."""


def reparse(session: Session, batch_id: uuid.UUID, accounts: Mapping[str, AmionAccount], tz: ZoneInfo) -> ScrapeOutcome:
    """Parse, map and match the batch's archived pages again (today's parser, role mapping and roster), and
    store the outcome as the batch's state and the version's AMION assignments, in the caller's transaction.
    A month with no archived page (it was never fetched) is an ERROR month, as it was in the scrape."""
    batch = session.get(ScrapeBatch, batch_id, with_for_update=True)
    if batch is None:
        raise ReplayError(f"no scrape batch {batch_id}")
    if batch.state == BatchState.PENDING:
        raise ReplayError(f"scrape batch {batch_id} is still PENDING: its pages are being fetched")
    account = accounts.get(batch.account)
    if account is None:
        raise ReplayError(f"Amion account {batch.account!r} is not configured; its role mapping is needed")
    version = session.get(ScheduleVersion, batch.version_id)
    if version is None:
        raise ReplayError(f"the version {batch.version_id} of scrape batch {batch_id} no longer exists")

    archived = store.archived_pages(session, batch_id)
    pages = [
        MonthPage(month, archived.get(month), None if month in archived else "no page of the month is archived")
        for month in months_of_period(version.period_start, version.period_end)
    ]
    people = store.active_people(session)
    outcome = assess(pages, version.period_start, version.period_end, account.role_mapping, people)
    store.record_outcome(session, batch_id, version.id, outcome, tz)
    return outcome
