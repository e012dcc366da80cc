"""Phase 2: fetch the period's months from Amion, archive every page, store the assignments, report.

A message already in the inbox is skipped before any request goes out, so a redelivered command does not
scrape again. The batch row is written as PENDING before the fetch, in the short transaction that checks the
inbox and the fence (visible while the fetch runs, and reused by a redelivery: its id derives from the message
id); the phase transaction then writes its final state, the pages, the assignments, the inbox row and the event
together.

Fencing: nothing is fetched for an attempt the saga has already moved past, the fetch is cancelled within
`FENCE_CHECK_S` once the saga times the attempt out (its batch ends `SUPERSEDED`), and the phase transaction
stores nothing unless the attempt is still current at commit. A request already sent when the fetch is
cancelled is abandoned: Amion may still answer it, nobody reads the answer, and it counted toward the
account's politeness like any other request.

A re-scrape (`months_from`, the watch's) fetches the months from that one on; the earlier months keep the pages
of the version's applied batch, archived again with the new batch and assessed with the fetched ones, so the
new batch is as complete as a full scrape. A check (`CheckAmion`, the watch's) fetches the months it names,
compares their content with the applied batch's pages (services/amion_scraper/changes.py) and answers
`AmionChecked`; it stores nothing. A near-term check (`near`: the next days) fetches only those dates, in one
request of the report (`Day`, `Days`; the grid has no such page: the months that hold them), and compares only
their rows.
"""

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services.amion_scraper import store
from services.amion_scraper.assessment import MonthPage, ScrapeOutcome, assess
from services.amion_scraper.changes import changed_in_span, changed_months
from services.amion_scraper.client import AmionAuthError, AmionClient, FetchedPage, MonthFetch, Politeness
from services.amion_scraper.rate_limit import SharedPoliteness
from services.amion_scraper.rows import month_key, months_of_period
from shared.db.session import engine, transaction
from shared.kernel import ids
from shared.kernel.contracts import (
    AmionChecked,
    AmionScraped,
    AmionScrapeFailed,
    CheckAmion,
    Contract,
    DateSpan,
    ScrapeAmion,
    VersionCheck,
    VersionChecked,
)
from shared.kernel.findings import AMION_SCRAPE_FAILED
from shared.kernel.states import BatchState, Phase, WatchOutcome
from shared.messaging import inbox
from shared.messaging.consumer import Delivery, Handler, given_settings
from shared.messaging.unit_of_work import Fence, superseded, unit_of_work
from shared.settings import AmionAccount, Settings

log = logging.getLogger(__name__)

CONSUMER = "amion_scraper"  # its inbox rows and its registry's queue are named by it

_POLITENESS: dict[str, Politeness] = {}
FENCE_CHECK_S = 2.0  # how often a running scrape asks whether the saga has moved past its attempt


class ScrapeError(Exception):
    """The scrape cannot go on; the text is safe to show (it never holds the password)."""

    def __init__(self, text: str, pages: tuple[FetchedPage, ...] = ()) -> None:
        super().__init__(text)
        self.pages = pages


def politeness_for(name: str, account: AmionAccount) -> Politeness:
    """The account's limits: request starts spaced across every scraper process (PostgreSQL), requests in
    flight counted per process."""
    if name not in _POLITENESS:
        _POLITENESS[name] = SharedPoliteness(
            name, engine(), account.max_in_flight, 1.0 / account.requests_per_s, account.arrival_margin_s
        )
    return _POLITENESS[name]


def _client(name: str, account: AmionAccount) -> AmionClient:
    try:
        password = account.password().get_secret_value()
    except (LookupError, OSError):
        raise ScrapeError(f"No password is configured for Amion account {name!r}.") from None
    return AmionClient(
        account.base_url,
        password,
        source=account.source,
        report=account.report,
        politeness=politeness_for(name, account),
        timeout=account.timeout_s,
        attempts=account.attempts,
        backoff_s=account.backoff_s,
    )


async def fetch(name: str, account: AmionAccount, months: list[date]) -> list[MonthFetch]:
    try:
        async with _client(name, account) as client:
            return await client.fetch_months(months)
    except AmionAuthError as error:
        raise ScrapeError(f"Amion refused the password of account {name!r}.", (error.page,)) from None


async def fetch_span(name: str, account: AmionAccount, span: DateSpan) -> list[MonthFetch]:
    """The dates of `span`: one request of the report (`Day`, `Days`); the months that hold them from the grid."""
    if account.source != "report":
        return await fetch(name, account, sorted({span.start.replace(day=1), span.end.replace(day=1)}))
    try:
        async with _client(name, account) as client:
            return [await client.fetch_days(span.start, span.days)]
    except AmionAuthError as error:
        raise ScrapeError(f"Amion refused the password of account {name!r}.", (error.page,)) from None


def _event(command: ScrapeAmion, batch_id: uuid.UUID, outcome: ScrapeOutcome) -> Contract:
    answer = {**command.context(), "attempt": command.attempt, "version_id": command.version_id,
              "batch_id": batch_id, "findings": outcome.findings}  # fmt: skip
    if outcome.state == BatchState.FAILED:
        return AmionScrapeFailed(**answer, reason=outcome.reason, retryable=outcome.retryable)
    return AmionScraped(**answer, state=outcome.state, assignments=len(outcome.assignments))


def fence_of(command: ScrapeAmion) -> Fence:
    return Fence(command.workflow_id, Phase.AMION_SCRAPE, command.attempt)


@dataclass(frozen=True)
class Kept:
    """What a re-scrape keeps of the version's applied batch: its pages of the months not fetched again."""

    batch_id: uuid.UUID | None = None
    pages: dict[date, str] = field(default_factory=dict)


def kept_pages(session: Session, command: ScrapeAmion) -> Kept:
    """A re-scrape's pages of the months before `months_from`, from the applied batch; nothing otherwise."""
    if command.months_from is None:
        return Kept()
    earlier = [m for m in months_of_period(command.period.start, command.period.end) if m < command.months_from]
    applied = store.applied_batch(session, command.version_id)
    if applied is None or not earlier:
        return Kept()
    return Kept(applied, store.archived_pages(session, applied, earlier))


Skip = Literal["duplicate", "superseded"]


def begin_scrape(command: ScrapeAmion, message_id: str, batch_id: uuid.UUID) -> Kept | Skip:
    """In one transaction: why nothing is to be fetched (the message was processed, or the saga has moved past this
    attempt), or else the batch opened as PENDING and what a re-scrape keeps."""
    with transaction() as session:
        if inbox.already_processed(session, CONSUMER, message_id):
            return "duplicate"
        if not fence_of(command).holds(session):
            return "superseded"
        store.open_batch(session, batch_id, command.version_id, command.workflow_id, command.amion_account)
        return kept_pages(session, command)


def store_scrape(
    command: ScrapeAmion,
    delivery: Delivery,
    batch_id: uuid.UUID,
    fetched: list[MonthFetch],
    account: AmionAccount,
    tz: ZoneInfo,
    kept: Kept | None = None,
) -> None:
    kept = kept or Kept()
    pages = [MonthPage(month, body) for month, body in kept.pages.items()]
    pages += [MonthPage(f.month, f.page.body if f.page else None, f.error) for f in fetched]
    pages.sort(key=lambda p: p.month)
    with unit_of_work(CONSUMER, delivery, fence_of(command)) as work:
        if work.skipped:
            return
        people = store.active_people(work.session)
        outcome = assess(pages, command.period.start, command.period.end, account.role_mapping, people)
        if kept.batch_id is not None:
            store.copy_pages(work.session, kept.batch_id, batch_id, sorted(kept.pages))
        store.archive(work.session, batch_id, [page for f in fetched for page in f.responses])
        store.record_outcome(work.session, batch_id, command.version_id, outcome, tz)
        work.publish(_event(command, batch_id, outcome))


def store_failure(command: ScrapeAmion, delivery: Delivery, batch_id: uuid.UUID, error: ScrapeError) -> None:
    reason = str(error)
    finding = AMION_SCRAPE_FAILED(reason)
    with unit_of_work(CONSUMER, delivery, fence_of(command)) as work:
        if work.skipped:
            return
        store.archive(work.session, batch_id, error.pages)
        store.finish_batch(work.session, batch_id, BatchState.FAILED, {}, [finding])
        work.publish(
            AmionScrapeFailed(
                **command.context(), attempt=command.attempt, version_id=command.version_id, batch_id=batch_id,
                reason=reason, findings=[finding],
            )
        )  # fmt: skip


async def _unless_superseded(command: ScrapeAmion, fetching: "asyncio.Task[list[MonthFetch]]") -> bool:
    """Wait for `fetching`; cancel it as soon as the saga has moved past this attempt. False when cancelled."""
    while True:
        done, _ = await asyncio.wait({fetching}, timeout=FENCE_CHECK_S)
        if done:
            return True
        if await asyncio.to_thread(superseded, fence_of(command)):
            fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetching
            return False


async def scrape(command: ScrapeAmion, delivery: Delivery, settings: Settings) -> None:
    batch_id = ids.derived_id(delivery.message_id, "scrape-batch")
    kept = await asyncio.to_thread(begin_scrape, command, delivery.message_id, batch_id)
    if isinstance(kept, str):
        log.info("not scraping for %s (%s)", delivery.message_id, kept)
        return
    account = settings.amion_accounts.get(command.amion_account)
    months = [m for m in months_of_period(command.period.start, command.period.end) if m not in kept.pages]
    try:
        if account is None:
            raise ScrapeError(f"Unknown Amion account {command.amion_account!r}.")
        fetching = asyncio.create_task(fetch(command.amion_account, account, months))
        if not await _unless_superseded(command, fetching):
            log.info("attempt %d for workflow %s is superseded; stopped fetching", command.attempt, command.workflow_id)
            await asyncio.to_thread(close_superseded_batch, batch_id)
            return
        fetched = fetching.result()
    except ScrapeError as error:
        log.warning("scrape for %s failed: %s", command.workflow_id, error)
        await asyncio.to_thread(store_failure, command, delivery, batch_id, error)
        return
    await asyncio.to_thread(store_scrape, command, delivery, batch_id, fetched, account, settings.tz, kept)


def close_superseded_batch(batch_id: uuid.UUID) -> None:
    with transaction() as session:
        store.finish_batch(session, batch_id, BatchState.SUPERSEDED, {}, [])


def _changed(version: VersionCheck, fetched: dict[date, str], stored: dict[date, str]) -> list[date]:
    span = version.near
    if span is None:
        return changed_months(fetched, stored)
    if len(fetched) == 1:  # the report of the span's dates
        return changed_in_span(next(iter(fetched.values())), stored, span.start, span.end)
    months = {span.start.replace(day=1), span.end.replace(day=1)}
    return [m for m in changed_months(fetched, stored) if m in months]  # the grid's months, compared whole


def _result(version: VersionCheck, outcome: WatchOutcome, **more: object) -> VersionChecked:
    return VersionChecked(group=version.group, version_id=version.version_id, near=version.near is not None,
                          outcome=outcome, **more)  # type: ignore[arg-type]  # fmt: skip


def answer_check(command: CheckAmion, delivery: Delivery, fetched: list[dict[date, str] | str]) -> None:
    """Compare each version's fetched pages (or the reason they could not be fetched) with its applied batch's and
    answer, in one transaction for the whole account; nothing but the answer is written."""
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        wanted = {
            v.version_id: sorted(pages) if v.near is None else sorted({v.near.start.replace(day=1),
                                                                      v.near.end.replace(day=1)})
            for v, pages in zip(command.versions, fetched, strict=True)
            if not isinstance(pages, str)
        }  # fmt: skip
        stored = store.applied_pages(work.session, wanted)
        results = []
        for version, pages in zip(command.versions, fetched, strict=True):
            if isinstance(pages, str):
                results.append(_result(version, WatchOutcome.FAILED, reason=pages))
                continue
            try:
                changed = _changed(version, pages, stored.get(version.version_id, {}))
            except ValueError as error:  # the span's page is not one we can read
                results.append(_result(version, WatchOutcome.FAILED, reason=f"Amion's page: {error}"))
                continue
            outcome = WatchOutcome.CHANGED if changed else WatchOutcome.UNCHANGED
            results.append(_result(version, outcome, changed_months=[month_key(m) for m in changed]))
        work.publish(AmionChecked(check_id=command.check_id, amion_account=command.amion_account, results=results))


async def _fetch_version(name: str, account: AmionAccount, version: VersionCheck) -> dict[date, str] | str:
    """The version's pages, month -> body, or why they could not be fetched."""
    try:
        if version.near is None:
            fetched = await fetch(name, account, version.months)
        else:
            fetched = await fetch_span(name, account, version.near)
    except ScrapeError as error:
        return str(error)
    failed = [f"{month_key(f.month)}: {f.error}" for f in fetched if f.page is None]
    if failed:
        return "; ".join(failed)
    return {f.month: f.page.body for f in fetched if f.page is not None}


async def check(command: CheckAmion, delivery: Delivery, settings: Settings) -> None:
    """The watch's question for one account's versions: has Amion's content changed since their applied batches?
    The versions' requests go out together, under the account's politeness."""
    if await asyncio.to_thread(_processed, delivery.message_id):
        log.info("not checking for %s (duplicate)", delivery.message_id)
        return
    account = settings.amion_accounts.get(command.amion_account)
    fetched: list[dict[date, str] | str]
    if account is None:
        fetched = [f"Unknown Amion account {command.amion_account!r}."] * len(command.versions)
    else:
        fetched = list(
            await asyncio.gather(*(_fetch_version(command.amion_account, account, v) for v in command.versions))
        )
    await asyncio.to_thread(answer_check, command, delivery, fetched)


def _processed(message_id: str) -> bool:
    with transaction() as session:
        return inbox.already_processed(session, CONSUMER, message_id)


HANDLERS: dict[type, Handler] = {ScrapeAmion: given_settings(scrape), CheckAmion: given_settings(check)}
