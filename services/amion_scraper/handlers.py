"""Phase 2: fetch the period's months from Amion, match people, store the assignments.

The fetch happens before the phase transaction; a message already in the inbox is skipped before any
request goes out, so a redelivered command does not scrape again.
"""

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from services.amion_scraper.client import AmionAuthError, AmionClient, AmionFetchError, FetchedPage, months_of_period
from services.amion_scraper.matching import MatchedAssignment, PersonRef, map_roles, match_people
from services.amion_scraper.report import AmionRow, parse_report
from shared import ids
from shared.contracts import AmionScraped, AmionScrapeFailed, ScrapeAmion
from shared.db.models import AmionPage, Assignment, Person, ScrapeBatch
from shared.db.session import transaction
from shared.findings import Finding, Severity, has_errors
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery, Handler
from shared.settings import AmionAccount, get_settings

log = logging.getLogger(__name__)

CONSUMER = "amion_scraper"


class ScrapeError(Exception):
    """The scrape cannot go on; the text is safe to show (it never holds the password)."""


def rows_of_pages(pages: Sequence[FetchedPage]) -> tuple[list[AmionRow], list[Finding], dict[str, str]]:
    rows: list[AmionRow] = []
    findings: list[Finding] = []
    outcomes: dict[str, str] = {}
    for page in pages:
        label = page.month.strftime("%Y-%m")
        if page.body.lstrip().startswith("NOFI=No file"):
            findings.append(
                Finding(
                    severity=Severity.WARNING,
                    code="EMPTY_MONTH",
                    text=f"Amion has no file for {label}.",
                    location=label,
                )
            )
            outcomes[label] = "EMPTY"
            continue
        parsed = parse_report(page.body, label)
        rows.extend(parsed.rows)
        findings.extend(parsed.findings)
        outcomes[label] = "ERROR" if has_errors(parsed.findings) else "OK"
    return rows, findings, outcomes


def active_people(session: Session) -> list[PersonRef]:
    found = session.execute(select(Person.id, Person.name, Person.aliases).where(Person.active)).all()
    return [PersonRef(id=pid, name=name, aliases=tuple(aliases)) for pid, name, aliases in found]


def store_scrape(
    command: ScrapeAmion, delivery: Delivery, batch_id: uuid.UUID, pages: list[FetchedPage], account: AmionAccount
) -> None:
    rows, findings, outcomes = rows_of_pages(pages)
    period_rows = [r for r in rows if command.period.start <= r.schedule_date <= command.period.end]
    mapped, role_findings = map_roles(period_rows, account.role_mapping)
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        matched, people_findings = match_people(mapped, active_people(session))
        all_findings = [*findings, *role_findings, *people_findings]
        state = "PARTIAL" if any(o == "ERROR" for o in outcomes.values()) else "COMPLETE"
        _store_batch(session, command, batch_id, state, outcomes, all_findings, pages)
        _replace_assignments(session, command.version_id, batch_id, matched)
        event = AmionScraped(
            workflow_id=command.workflow_id,
            version_id=command.version_id,
            batch_id=batch_id,
            state=state,
            assignments=len(matched),
            findings=all_findings,
        )
        outbox.add(
            session,
            event,
            message_id=ids.result_message_id(delivery.message_id),
            correlation_id=str(command.workflow_id),
        )


def _store_batch(
    session: Session,
    command: ScrapeAmion,
    batch_id: uuid.UUID,
    state: str,
    outcomes: dict[str, str],
    findings: list[Finding],
    pages: list[FetchedPage],
) -> None:
    session.add(
        ScrapeBatch(
            id=batch_id,
            version_id=command.version_id,
            workflow_id=command.workflow_id,
            account=command.amion_account,
            state=state,
            months=outcomes,
            findings=[f.model_dump(mode="json") for f in findings],
            finished_at=datetime.now(UTC),
        )
    )
    session.flush()
    if pages:
        session.execute(
            insert(AmionPage),
            [
                {
                    "batch_id": batch_id,
                    "month": p.month,
                    "url": p.url,
                    "status": p.status,
                    "fetched_at": p.fetched_at,
                    "sha256": p.sha256,
                    "body": p.body,
                }
                for p in pages
            ],
        )


def _replace_assignments(
    session: Session, version_id: uuid.UUID, batch_id: uuid.UUID, matched: list[MatchedAssignment]
) -> None:
    session.execute(delete(Assignment).where(Assignment.version_id == version_id, Assignment.source == "AMION"))
    if matched:
        session.execute(
            insert(Assignment),
            [
                {
                    "version_id": version_id,
                    "schedule_date": m.schedule_date,
                    "role": m.role,
                    "person_id": m.person_id,
                    "source": "AMION",
                    "scrape_batch_id": batch_id,
                    "label": m.label,
                }
                for m in matched
            ],
        )


def store_failure(command: ScrapeAmion, delivery: Delivery, batch_id: uuid.UUID, reason: str) -> None:
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        finding = Finding(severity=Severity.ERROR, code="AMION_SCRAPE_FAILED", text=reason)
        _store_batch(session, command, batch_id, "FAILED", {}, [finding], [])
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


async def fetch(account: AmionAccount, command: ScrapeAmion) -> list[FetchedPage]:
    try:
        password = account.password().get_secret_value()
    except (LookupError, OSError):
        raise ScrapeError(f"No password is configured for Amion account {command.amion_account!r}.") from None
    months = months_of_period(command.period.start, command.period.end)
    try:
        async with AmionClient(account.base_url, password) as client:
            return await client.fetch_months(months)
    except AmionAuthError:
        raise ScrapeError(f"Amion refused the password of account {command.amion_account!r}.") from None
    except AmionFetchError as error:
        raise ScrapeError(f"Amion could not be read: {error}") from None


async def scrape(command: ScrapeAmion, delivery: Delivery) -> None:
    if await asyncio.to_thread(_already_processed, delivery.message_id):
        log.info("skipping duplicate %s", delivery.message_id)
        return
    batch_id = ids.derived_id(delivery.message_id, "scrape-batch")
    account = get_settings().amion_accounts.get(command.amion_account)
    try:
        if account is None:
            raise ScrapeError(f"Unknown Amion account {command.amion_account!r}.")
        pages = await fetch(account, command)
    except ScrapeError as error:
        log.warning("scrape for %s failed: %s", command.workflow_id, error)
        await asyncio.to_thread(store_failure, command, delivery, batch_id, str(error))
        return
    await asyncio.to_thread(store_scrape, command, delivery, batch_id, pages, account)


HANDLERS: dict[type, Handler] = {ScrapeAmion: scrape}
