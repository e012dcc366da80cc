"""Scrape batches, the archive of fetched pages, and the AMION assignments of a version, in PostgreSQL."""

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.models import AmionPage, Assignment, Person, ScrapeBatch
from shared.kernel.amion_data import MonthResult
from shared.kernel.findings import Finding
from shared.kernel.people import PersonRef
from shared.kernel.states import APPLIED_BATCH_STATES, AssignmentSource, BatchState

from .assessment import ScrapeOutcome
from .client import FetchedPage
from .matching import MatchedAssignment


def open_batch(
    session: Session, batch_id: uuid.UUID, version_id: uuid.UUID, workflow_id: uuid.UUID, account: str
) -> None:
    """The batch as PENDING; a redelivered command finds it there and goes on with it."""
    session.execute(
        pg_insert(ScrapeBatch)
        .values(id=batch_id, version_id=version_id, workflow_id=workflow_id, account=account, state=BatchState.PENDING)
        .on_conflict_do_nothing(index_elements=[ScrapeBatch.id])
    )


def finish_batch(
    session: Session, batch_id: uuid.UUID, state: str, months: Mapping[str, MonthResult], findings: Sequence[Finding]
) -> None:
    """The batch's final state, each month's outcome with the reason a month has no data, and the findings."""
    session.execute(
        update(ScrapeBatch)
        .where(ScrapeBatch.id == batch_id)
        .values(
            state=state,
            months={month: result.to_json() for month, result in months.items()},
            findings=[f.model_dump(mode="json") for f in findings],
            finished_at=datetime.now(UTC),
        )
    )


def archive(session: Session, batch_id: uuid.UUID, pages: Iterable[FetchedPage]) -> None:
    """Every response received, kept with its batch (the URLs hold `Lo=***`, never the password)."""
    values = [
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
    ]
    if values:
        session.execute(insert(AmionPage), values)


def archived_pages(session: Session, batch_id: uuid.UUID, months: Sequence[date] | None = None) -> dict[date, str]:
    """Each month's page to parse: the last response with status 200 archived for it in the batch (`months`:
    only those)."""
    query = select(AmionPage.month, AmionPage.body).where(AmionPage.batch_id == batch_id, AmionPage.status == 200)
    if months is not None:
        query = query.where(AmionPage.month.in_(months))
    found = session.execute(query.order_by(AmionPage.fetched_at, AmionPage.id))
    return {month: body for month, body in found}


def applied_batch(session: Session, version_id: uuid.UUID) -> uuid.UUID | None:
    """The batch whose AMION assignments the version holds: of its COMPLETE or PARTIAL ones, the last to finish."""
    return session.scalar(
        select(ScrapeBatch.id)
        .where(
            ScrapeBatch.version_id == version_id,
            ScrapeBatch.state.in_([s.value for s in APPLIED_BATCH_STATES]),
            ScrapeBatch.finished_at.is_not(None),
        )
        .order_by(ScrapeBatch.finished_at.desc())
        .limit(1)
    )


def applied_pages(session: Session, months: Mapping[uuid.UUID, Sequence[date]]) -> dict[uuid.UUID, dict[date, str]]:
    """For each version, its applied batch's page of each of its `months` (as `applied_batch` and
    `archived_pages`), in one statement for all of them."""
    if not months:
        return {}
    applied = (
        select(ScrapeBatch.version_id, ScrapeBatch.id)
        .distinct(ScrapeBatch.version_id)
        .where(
            ScrapeBatch.version_id.in_(list(months)),
            ScrapeBatch.state.in_([s.value for s in APPLIED_BATCH_STATES]),
            ScrapeBatch.finished_at.is_not(None),
        )
        .order_by(ScrapeBatch.version_id, ScrapeBatch.finished_at.desc())
        .subquery()
    )
    wanted = sorted({m for ms in months.values() for m in ms})
    found = session.execute(
        select(applied.c.version_id, AmionPage.month, AmionPage.body)
        .join(AmionPage, AmionPage.batch_id == applied.c.id)
        .where(AmionPage.status == 200, AmionPage.month.in_(wanted))
        .order_by(AmionPage.fetched_at, AmionPage.id)
    )
    pages: dict[uuid.UUID, dict[date, str]] = {}
    for version_id, month, body in found:
        if month in months[version_id]:
            pages.setdefault(version_id, {})[month] = body
    return pages


def copy_pages(session: Session, from_batch: uuid.UUID, to_batch: uuid.UUID, months: Sequence[date]) -> None:
    """The archived responses of `months` in `from_batch` archived again with `to_batch`: a re-scrape keeps the
    pages it did not fetch again, so each batch holds every page its assignments come from."""
    if not months:
        return
    columns = (AmionPage.month, AmionPage.url, AmionPage.status, AmionPage.fetched_at, AmionPage.sha256, AmionPage.body)
    session.execute(
        insert(AmionPage).from_select(
            ["batch_id", "month", "url", "status", "fetched_at", "sha256", "body"],
            select(literal(to_batch), *columns)
            .where(AmionPage.batch_id == from_batch, AmionPage.month.in_(months))
            .order_by(AmionPage.id),
        )
    )


def active_people(session: Session) -> list[PersonRef]:
    found = session.execute(select(Person.id, Person.name, Person.aliases).where(Person.active))
    return [PersonRef(id=pid, name=name, aliases=tuple(aliases)) for pid, name, aliases in found]


# One statement for all of a version's assignments: they travel as one JSON array of arrays. An executemany
# sends a statement per row, with SQLAlchemy's and psycopg's work for each: a fifth of the scraper's CPU.
_INSERT_ASSIGNMENTS = text(
    """
    INSERT INTO assignments
        (version_id, scrape_batch_id, source, schedule_date, role, person_id, label, note, starts_at, ends_at)
    SELECT :version_id, :batch_id, :source, (a->>0)::date, a->>1, (a->>2)::integer, a->>3, a->>4,
           (a->>5)::timestamptz, (a->>6)::timestamptz
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS a
    """
)


def replace_assignments(
    session: Session,
    version_id: uuid.UUID,
    batch_id: uuid.UUID,
    matched: Sequence[MatchedAssignment],
    tz: ZoneInfo,
) -> None:
    """The version's AMION assignments become `matched`, each with the hours Amion gives it as instants in
    the group's zone `tz` (the `time_zone` setting), NULL where Amion gives none."""
    session.execute(
        delete(Assignment).where(Assignment.version_id == version_id, Assignment.source == AssignmentSource.AMION)
    )
    if not matched:
        return
    rows = []
    for m in matched:
        starts_at, ends_at = m.interval(tz) or (None, None)
        rows.append([m.schedule_date.isoformat(), m.role, m.person_id, m.label, m.note,
                     starts_at and starts_at.isoformat(), ends_at and ends_at.isoformat()])  # fmt: skip
    session.execute(
        _INSERT_ASSIGNMENTS,
        {"version_id": version_id, "batch_id": batch_id, "source": AssignmentSource.AMION, "rows": json.dumps(rows)},
    )


def record_outcome(
    session: Session, batch_id: uuid.UUID, version_id: uuid.UUID, outcome: ScrapeOutcome, tz: ZoneInfo
) -> None:
    """The batch's final state; unless it FAILED, the version's AMION assignments become the outcome's (their hours
    instants in the group's zone `tz`)."""
    months = {month: MonthResult(result, outcome.reasons.get(month)) for month, result in outcome.months.items()}
    finish_batch(session, batch_id, outcome.state, months, outcome.findings)
    if outcome.state != BatchState.FAILED:
        replace_assignments(session, version_id, batch_id, outcome.assignments, tz)
