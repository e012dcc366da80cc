"""The drafting handler in this process, on the test database: a run keeps the version's own assignments and
stores only its own rows; a version that cannot be drafted ends its run `failed`; a redelivery of a command
whose run has ended does nothing."""

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from services.drafting.handlers import draft_schedule
from shared.contracts import DraftSchedule
from shared.db.models import AssignmentRow
from shared.ids import draft_run_id as run_id_for
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services
from tests.schedcu.test_coverage_queries import flat_version, template_version

pytestmark = pytest.mark.integration


@pytest.fixture
def on_test_database(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", services.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(version_id: uuid.UUID) -> tuple[Delivery, uuid.UUID]:
    delivery = Delivery(f"draft:{uuid.uuid4()}", None, DraftSchedule.routing_key, False)
    command = DraftSchedule(version_id=version_id, requested_by="tests", reason="handler", time_limit_s=5, workers=1)
    draft_schedule(command, delivery)
    return delivery, run_id_for(delivery.message_id)


def one(services: Services, sql: str, **params: Any) -> tuple[Any, ...] | None:
    with services.engine.connect() as conn:
        row = conn.execute(text(sql), params).first()
        return None if row is None else tuple(row)


def test_a_run_drafts_around_the_kept_assignments(services: Services, on_test_database: None) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, date(2026, 6, 1), date(2026, 6, 7))  # every role held by Amion
        session.execute(
            delete(AssignmentRow).where(
                AssignmentRow.version_id == version_id, AssignmentRow.schedule_date >= date(2026, 6, 5)
            )
        )
    delivery, run_id = run(version_id)

    state = one(services, "SELECT state, to_fill, filled, kept, attempts, actor, reason, explanations FROM draft_runs "
                "WHERE id = :r", r=run_id)  # fmt: skip
    assert state is not None and state[0] == "completed"
    to_fill, filled, kept = state[1:4]
    assert (to_fill, state[4:7]) == (7 * 5, (1, "tests", "handler"))
    # the demo rota breaks a hard rule on some nights (a BODY_ONLY reader on ON1): those rows are reported in
    # conflict and dropped; every other one of the four nights' 20 rows stays
    dropped = state[7]["dropped"]
    assert kept + len(dropped) == 4 * 5 and (not dropped or state[7]["conflicts"])
    assert {d["date"] for d in dropped} <= {f"2026-06-0{d}" for d in range(1, 5)}
    drafted = one(services, "SELECT count(*), count(*) FILTER (WHERE schedule_date < '2026-06-05') FROM draft_rows "
                  "WHERE run_id = :r", r=run_id)  # fmt: skip
    assert drafted is not None and drafted[0] == filled - kept and drafted[1] <= len(dropped)
    assert one(services, "SELECT 1 FROM inbox WHERE consumer = 'drafting' AND message_id = :m", m=delivery.message_id)

    draft_schedule(DraftSchedule(version_id=version_id, requested_by="tests"), delivery)  # redelivered
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r", r=run_id) == (filled - kept,)
    assert one(services, "SELECT attempts FROM draft_runs WHERE id = :r", r=run_id) == (1,)


def test_a_version_that_cannot_be_drafted_ends_its_run_failed(services: Services, on_test_database: None) -> None:
    with Session(services.engine) as session, session.begin():
        flat = flat_version(session, date(2026, 6, 1), date(2026, 6, 7))
    delivery, run_id = run(flat)
    assert one(services, "SELECT state, error FROM draft_runs WHERE id = :r", r=run_id) == (
        "failed", f"Version {flat} has the flat layout, which drafting does not support yet."
    )  # fmt: skip
    assert one(services, "SELECT 1 FROM inbox WHERE consumer = 'drafting' AND message_id = :m", m=delivery.message_id)

    missing, missing_run = run(uuid.uuid4())
    assert one(services, "SELECT 1 FROM draft_runs WHERE id = :r", r=missing_run) is None
    assert one(services, "SELECT 1 FROM inbox WHERE consumer = 'drafting' AND message_id = :m", m=missing.message_id)


def test_a_run_whose_every_attempt_died_ends_crashed(services: Services, on_test_database: None) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, date(2026, 6, 8), date(2026, 6, 14))
    delivery = Delivery(f"draft:{uuid.uuid4()}", None, DraftSchedule.routing_key, True)
    run_id = run_id_for(delivery.message_id)
    with services.engine.begin() as conn:  # as two attempts killed mid-solve leave it (SCHEDCU_DRAFT_ATTEMPTS 2)
        conn.execute(
            text("INSERT INTO draft_runs (id, version_id, state, actor, time_limit_s, workers, attempts) "
                 "VALUES (:r, :v, 'running', 'tests', 5, 1, 2)"), {"r": run_id, "v": version_id},
        )  # fmt: skip
    draft_schedule(DraftSchedule(version_id=version_id, requested_by="tests"), delivery)

    assert one(services, "SELECT state, error, attempts FROM draft_runs WHERE id = :r", r=run_id) == (
        "crashed", "every one of its 2 attempts ended without a result: its worker stopped mid-solve", 2
    )  # fmt: skip
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r", r=run_id) == (0,)
    assert one(services, "SELECT 1 FROM inbox WHERE consumer = 'drafting' AND message_id = :m", m=delivery.message_id)
