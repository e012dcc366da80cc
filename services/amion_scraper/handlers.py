"""Phase 2: fetch the period's months from Amion, archive every page, store the assignments, report.

A message already in the inbox is skipped before any request goes out, so a redelivered command does not
scrape again. The batch row is written as PENDING in its own short transaction before the fetch (visible
while it runs, and reused by a redelivery: its id derives from the message id); the phase transaction then
writes its final state, the pages, the assignments, the inbox row and the event together.
"""

import asyncio
import logging
import uuid

from services.amion_scraper import store
from services.amion_scraper.assessment import MonthPage, ScrapeOutcome, assess
from services.amion_scraper.client import AmionAuthError, AmionClient, FetchedPage, MonthFetch, Politeness
from services.amion_scraper.rate_limit import SharedPoliteness
from services.amion_scraper.rows import months_of_period
from shared import ids
from shared.contracts import AmionScraped, AmionScrapeFailed, Contract, ScrapeAmion
from shared.db.session import engine, transaction
from shared.findings import Finding, Severity
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery, Handler
from shared.settings import AmionAccount, get_settings

log = logging.getLogger(__name__)

CONSUMER = "amion_scraper"

_POLITENESS: dict[str, Politeness] = {}


class ScrapeError(Exception):
    """The scrape cannot go on; the text is safe to show (it never holds the password)."""

    def __init__(self, text: str, pages: tuple[FetchedPage, ...] = ()) -> None:
        super().__init__(text)
        self.pages = pages


def politeness_for(name: str, account: AmionAccount) -> Politeness:
    """The account's limits: request starts spaced across every scraper process (PostgreSQL), requests in
    flight counted per process."""
    if name not in _POLITENESS:
        _POLITENESS[name] = SharedPoliteness(name, engine(), account.max_in_flight, 1.0 / account.requests_per_s)
    return _POLITENESS[name]


async def fetch(name: str, account: AmionAccount, command: ScrapeAmion) -> list[MonthFetch]:
    try:
        password = account.password().get_secret_value()
    except (LookupError, OSError):
        raise ScrapeError(f"No password is configured for Amion account {name!r}.") from None
    client = AmionClient(
        account.base_url,
        password,
        source=account.source,
        report=account.report,
        politeness=politeness_for(name, account),
        timeout=account.timeout_s,
        attempts=account.attempts,
        backoff_s=account.backoff_s,
    )
    try:
        async with client:
            return await client.fetch_months(months_of_period(command.period.start, command.period.end))
    except AmionAuthError as error:
        raise ScrapeError(f"Amion refused the password of account {name!r}.", (error.page,)) from None


def _event(command: ScrapeAmion, batch_id: uuid.UUID, outcome: ScrapeOutcome) -> Contract:
    if outcome.state == "FAILED":
        return AmionScrapeFailed(
            workflow_id=command.workflow_id,
            version_id=command.version_id,
            batch_id=batch_id,
            reason=outcome.reason,
            retryable=outcome.retryable,
            findings=outcome.findings,
        )
    return AmionScraped(
        workflow_id=command.workflow_id,
        version_id=command.version_id,
        batch_id=batch_id,
        state=outcome.state,
        assignments=len(outcome.assignments),
        findings=outcome.findings,
    )


def open_batch(command: ScrapeAmion, batch_id: uuid.UUID) -> None:
    with transaction() as session:
        store.open_batch(session, batch_id, command.version_id, command.workflow_id, command.amion_account)


def store_scrape(
    command: ScrapeAmion, delivery: Delivery, batch_id: uuid.UUID, fetched: list[MonthFetch], account: AmionAccount
) -> None:
    pages = [MonthPage(f.month, f.page.body if f.page else None, f.error) for f in fetched]
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        people = store.active_people(session)
        outcome = assess(pages, command.period.start, command.period.end, account.role_mapping, people)
        store.archive(session, batch_id, [page for f in fetched for page in f.responses])
        store.record_outcome(session, batch_id, command.version_id, outcome)
        outbox.add(
            session,
            _event(command, batch_id, outcome),
            message_id=ids.result_message_id(delivery.message_id),
            correlation_id=str(command.workflow_id),
        )


def store_failure(command: ScrapeAmion, delivery: Delivery, batch_id: uuid.UUID, error: ScrapeError) -> None:
    reason = str(error)
    finding = Finding(severity=Severity.ERROR, code="AMION_SCRAPE_FAILED", text=reason)
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        store.archive(session, batch_id, error.pages)
        store.finish_batch(session, batch_id, "FAILED", {}, [finding])
        event = AmionScrapeFailed(
            workflow_id=command.workflow_id,
            version_id=command.version_id,
            batch_id=batch_id,
            reason=reason,
            findings=[finding],
        )
        outbox.add(
            session,
            event,
            message_id=ids.result_message_id(delivery.message_id),
            correlation_id=str(command.workflow_id),
        )


def _already_processed(message_id: str) -> bool:
    with transaction() as session:
        return inbox.already_processed(session, CONSUMER, message_id)


async def scrape(command: ScrapeAmion, delivery: Delivery) -> None:
    if await asyncio.to_thread(_already_processed, delivery.message_id):
        log.info("skipping duplicate %s", delivery.message_id)
        return
    batch_id = ids.derived_id(delivery.message_id, "scrape-batch")
    await asyncio.to_thread(open_batch, command, batch_id)
    account = get_settings().amion_accounts.get(command.amion_account)
    try:
        if account is None:
            raise ScrapeError(f"Unknown Amion account {command.amion_account!r}.")
        fetched = await fetch(command.amion_account, account, command)
    except ScrapeError as error:
        log.warning("scrape for %s failed: %s", command.workflow_id, error)
        await asyncio.to_thread(store_failure, command, delivery, batch_id, error)
        return
    await asyncio.to_thread(store_scrape, command, delivery, batch_id, fetched, account)


HANDLERS: dict[type, Handler] = {ScrapeAmion: scrape}
