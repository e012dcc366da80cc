"""A re-scrape keeps the applied batch's pages of the months it does not fetch again (services/amion_scraper/
store.py): the applied batch is the COMPLETE or PARTIAL one that finished last, and its pages are archived
again with the new batch, so every batch holds the pages its assignments come from."""

import uuid
from datetime import date

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from services.amion_scraper import store
from shared.db.models import AmionPage, ScrapeBatch
from tests.conftest import Services
from tests.schedcu.test_coverage_queries import template_version

pytestmark = pytest.mark.integration

JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


def batch(
    session: Session, version_id: uuid.UUID, state: str, finished: str | None, pages: dict[date, str]
) -> uuid.UUID:
    batch_id = uuid.uuid4()
    finished_at = None if finished is None else func.now() - text(f"interval '{finished}'")
    session.execute(
        insert(ScrapeBatch).values(id=batch_id, version_id=version_id, workflow_id=uuid.uuid4(), account="test",
                                   state=state, months={}, findings=[], finished_at=finished_at)
    )  # fmt: skip
    for month, body in pages.items():
        session.execute(
            insert(AmionPage).values(batch_id=batch_id, month=month, url="https://amion/ocs?Lo=***", status=200,
                                     fetched_at=func.now(), sha256="0" * 64, body=body)
        )  # fmt: skip
    return batch_id


def test_the_applied_batchs_earlier_pages_are_archived_again_with_the_new_batch(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, JAN, date(2026, 3, 31))  # with a COMPLETE batch finished now
        older = batch(session, version_id, "COMPLETE", "2 hours", {JAN: "old jan", FEB: "old feb", MAR: "old mar"})
        applied = batch(session, version_id, "PARTIAL", "-1 minute", {JAN: "jan", FEB: "feb", MAR: "mar"})
        batch(session, version_id, "FAILED", "-2 minutes", {JAN: "NOFI=Bad password"})
        batch(session, version_id, "PENDING", None, {})
        assert older != applied
        assert store.applied_batch(session, version_id) == applied
        assert store.archived_pages(session, applied, [JAN, FEB]) == {JAN: "jan", FEB: "feb"}

        rescrape = batch(session, version_id, "PENDING", None, {MAR: "new mar"})
        store.copy_pages(session, applied, rescrape, [JAN, FEB])
        assert store.archived_pages(session, rescrape) == {JAN: "jan", FEB: "feb", MAR: "new mar"}
        urls = session.scalars(select(AmionPage.url).where(AmionPage.batch_id == rescrape)).all()
        assert all("Lo=***" in url for url in urls)
