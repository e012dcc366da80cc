"""Scrape batches, the archive of fetched pages, and the AMION assignments of a version, in PostgreSQL."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.amion_data import MonthResult
from shared.db.models import AmionPage, AssignmentRow, PersonRow, ScrapeBatch
from shared.findings import Finding
from shared.people import PersonRef
from shared.settings import get_settings
from shared.states import AssignmentSource, BatchState

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


def archived_pages(session: Session, batch_id: uuid.UUID) -> dict[date, str]:
    """Each month's page to parse: the last response with status 200 archived for it in the batch."""
    found = session.execute(
        select(AmionPage.month, AmionPage.body)
        .where(AmionPage.batch_id == batch_id, AmionPage.status == 200)
        .order_by(AmionPage.fetched_at, AmionPage.id)
    )
    return dict(found.tuples().all())


def active_people(session: Session) -> list[PersonRef]:
    found = session.execute(select(PersonRow.id, PersonRow.name, PersonRow.aliases).where(PersonRow.active))
    return [PersonRef(id=pid, name=name, aliases=tuple(aliases)) for pid, name, aliases in found]


def replace_assignments(
    session: Session,
    version_id: uuid.UUID,
    batch_id: uuid.UUID,
    matched: Sequence[MatchedAssignment],
    tz: ZoneInfo | None = None,
) -> None:
    """The version's AMION assignments become `matched`, each with the hours Amion gives it as instants in
    the group's zone `tz` (default: the `time_zone` setting), NULL where Amion gives none."""
    zone = tz or get_settings().tz
    session.execute(
        delete(AssignmentRow).where(
            AssignmentRow.version_id == version_id, AssignmentRow.source == AssignmentSource.AMION
        )
    )
    if matched:
        values = []
        for m in matched:
            starts_at, ends_at = m.interval(zone) or (None, None)
            values.append(
                {
                    "version_id": version_id,
                    "schedule_date": m.schedule_date,
                    "role": m.role,
                    "person_id": m.person_id,
                    "source": AssignmentSource.AMION,
                    "scrape_batch_id": batch_id,
                    "label": m.label,
                    "note": m.note,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                }
            )
        # the table's insert, not the entity's: one multi-row statement without the ORM's work per row
        session.execute(insert(AssignmentRow.__table__), values)


def record_outcome(session: Session, batch_id: uuid.UUID, version_id: uuid.UUID, outcome: ScrapeOutcome) -> None:
    """The batch's final state; unless it FAILED, the version's AMION assignments become the outcome's."""
    months = {month: MonthResult(result, outcome.reasons.get(month)) for month, result in outcome.months.items()}
    finish_batch(session, batch_id, outcome.state, months, outcome.findings)
    if outcome.state != BatchState.FAILED:
        replace_assignments(session, version_id, batch_id, outcome.assignments)
