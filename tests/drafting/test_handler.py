"""The drafting handler in this process, on the test database: a run keeps the version's own assignments and
stores only its own rows; a version that cannot be drafted ends its run `failed`; a redelivery of a command
whose run has ended does nothing; a DRAFT workflow that gave up waiting (its draft phase timed out by the saga)
ends its run `failed` with the reason, whether its answer comes late, its command does, or the saga gives up while
it solves (the solve then stops)."""

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from services.drafting import handlers
from services.drafting.handlers import GAVE_UP, draft_schedule
from services.drafting.model import Draft, Progress, ProgressReport
from services.drafting.solver import Stopped
from services.versions import starts, sweeper
from shared.db.models import Assignment
from shared.kernel import ids
from shared.kernel.contracts import DraftSchedule, RequestDraft
from shared.kernel.ids import draft_run_id as run_id_for
from shared.kernel.states import Phase
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import Fence, superseded
from shared.settings import get_settings
from tests.conftest import Services, provisioned
from tests.schedcu.test_coverage_queries import flat_version, template_version

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """A database of its own: these tests time out DRAFT phases, which the sweeper of the session's pipeline (in a
    full run) would otherwise retry on the session's database while a test looks at the run."""
    with provisioned(f"schedcu_test_draft_handler_{uuid.uuid4().hex[:8]}") as own:
        yield own


@pytest.fixture
def on_test_database(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", services.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(version_id: uuid.UUID) -> tuple[Delivery, uuid.UUID]:
    delivery = Delivery(f"draft:{uuid.uuid4()}", None, DraftSchedule.routing_key, False)
    command = DraftSchedule(version_id=version_id, requested_by="tests", reason="handler", time_limit_s=5, workers=1)
    draft_schedule(command, delivery, get_settings())
    return delivery, run_id_for(delivery.message_id)


def one(services: Services, sql: str, **params: Any) -> tuple[Any, ...] | None:
    with services.engine.connect() as conn:
        row = conn.execute(text(sql), params).first()
        return None if row is None else tuple(row)


def test_a_run_drafts_around_the_kept_assignments(services: Services, on_test_database: None) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, date(2026, 6, 1), date(2026, 6, 7))  # every role held by Amion
        session.execute(
            delete(Assignment).where(Assignment.version_id == version_id, Assignment.schedule_date >= date(2026, 6, 5))
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

    draft_schedule(DraftSchedule(version_id=version_id, requested_by="tests"), delivery, get_settings())  # redelivered
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
    draft_schedule(DraftSchedule(version_id=version_id, requested_by="tests"), delivery, get_settings())

    assert one(services, "SELECT state, error, attempts FROM draft_runs WHERE id = :r", r=run_id) == (
        "crashed", "every one of its 2 attempts ended without a result: its worker stopped mid-solve", 2
    )  # fmt: skip
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r", r=run_id) == (0,)
    assert one(services, "SELECT 1 FROM inbox WHERE consumer = 'drafting' AND message_id = :m", m=delivery.message_id)


def draft_workflow(services: Services, start: date, end: date) -> tuple[uuid.UUID, DraftSchedule, Delivery]:
    """A DRAFT workflow started by the saga, and its draft phase's command as the drafting worker receives it."""
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, start, end)
    asked = Delivery(f"draft:{version_id}:{uuid.uuid4()}", None, RequestDraft.routing_key, False)
    starts.start_draft(RequestDraft(version_id=version_id, requested_by="tests"), asked, get_settings())
    workflow_id = ids.workflow_id_for(starts.draft_request_id(asked.message_id))
    command = DraftSchedule(
        workflow_id=workflow_id, attempt=1, version_id=version_id, requested_by="tests", time_limit_s=5, workers=1
    )
    message_id = ids.command_message_id(workflow_id, Phase.DRAFT, 1)
    return workflow_id, command, Delivery(message_id, None, DraftSchedule.routing_key, False)


def past_deadline(services: Services, workflow_id: uuid.UUID, by: timedelta) -> None:
    with services.engine.begin() as conn:
        conn.execute(
            text("UPDATE workflow_phases SET deadline_at = now() - :by WHERE workflow_id = :w"),
            {"w": workflow_id, "by": by},
        )


def time_out_draft_phase(services: Services, workflow_id: uuid.UUID) -> None:
    """The saga's sweep finds the draft phase past its deadline and fails it, and so the workflow."""
    past_deadline(services, workflow_id, sweeper.RESULT_GRACE + timedelta(seconds=1))
    assert sweeper.sweep_timeouts(get_settings()) == 1
    assert one(services, "SELECT state FROM workflows WHERE id = :w", w=workflow_id) == ("FAILED",)


def test_past_its_deadline_an_attempt_stores_nothing_and_the_sweeper_waits_a_grace_for_results_in_flight(
    services: Services, on_test_database: None
) -> None:
    """A result committed just before the deadline reaches the saga before the phase is retried, and none can
    commit after it: an attempt never stores its work once its successor may have started."""
    workflow_id, command, _ = draft_workflow(services, date(2026, 7, 6), date(2026, 7, 12))
    fence = Fence(workflow_id, Phase.DRAFT, command.attempt)
    assert not superseded(fence)
    past_deadline(services, workflow_id, timedelta(seconds=1))
    assert superseded(fence)
    assert sweeper.sweep_timeouts(get_settings()) == 0  # within the grace: a result may be on its way
    assert one(services, "SELECT state FROM workflows WHERE id = :w", w=workflow_id) == ("RUNNING",)
    time_out_draft_phase(services, workflow_id)


def test_a_run_whose_workflow_timed_out_mid_solve_ends_failed_when_its_answer_is_fenced_out(
    services: Services, on_test_database: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id, command, delivery = draft_workflow(services, date(2026, 6, 15), date(2026, 6, 21))
    solve = handlers.draft

    def slow_solve(*args: Any, **kwargs: Any) -> Draft:
        result = solve(*args, **kwargs)
        time_out_draft_phase(services, workflow_id)  # the saga gives up while the solver still runs
        return result

    monkeypatch.setattr(handlers, "draft", slow_solve)
    draft_schedule(command, delivery, get_settings())

    run_id = run_id_for(delivery.message_id)
    assert one(services, "SELECT state, error FROM draft_runs WHERE id = :r", r=run_id) == ("failed", GAVE_UP)
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r", r=run_id) == (0,)
    assert one(services, "SELECT count(*) FROM outbox WHERE message_id = :m", m=f"{delivery.message_id}:result") == (0,)


def test_a_run_whose_workflow_times_out_as_it_solves_stops_solving_and_ends_failed(
    services: Services, on_test_database: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id, command, delivery = draft_workflow(services, date(2026, 6, 8), date(2026, 6, 14))
    solve = handlers.draft
    stopped: list[Stopped] = []

    def timed_out_as_it_solves(*args: Any, progress: ProgressReport, **kwargs: Any) -> Draft:
        def heard(p: Progress) -> None:
            if p.number == 1 and p.value is None:  # the first level starts: the saga gives up
                time_out_draft_phase(services, workflow_id)
            progress(p)

        try:
            return solve(*args, progress=heard, **kwargs)
        except Stopped as error:
            stopped.append(error)
            raise

    monkeypatch.setattr(handlers, "draft", timed_out_as_it_solves)
    draft_schedule(command, delivery, get_settings())

    run_id = run_id_for(delivery.message_id)
    assert len(stopped) == 1, "the solve stopped instead of running its course"
    assert one(services, "SELECT state, error FROM draft_runs WHERE id = :r", r=run_id) == ("failed", GAVE_UP)
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r", r=run_id) == (0,)
    assert one(services, "SELECT count(*) FROM outbox WHERE message_id = :m", m=f"{delivery.message_id}:result") == (0,)
    draft_schedule(command, delivery, get_settings())  # redelivered: the run has ended
    assert one(services, "SELECT state, attempts FROM draft_runs WHERE id = :r", r=run_id) == ("failed", 1)


def test_a_command_that_comes_after_its_workflow_timed_out_ends_its_run_failed_without_solving(
    services: Services, on_test_database: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id, command, delivery = draft_workflow(services, date(2026, 6, 22), date(2026, 6, 28))
    time_out_draft_phase(services, workflow_id)

    def no_solve(*args: Any, **kwargs: Any) -> Draft:
        raise AssertionError("a run nobody waits for is not solved")

    monkeypatch.setattr(handlers, "draft", no_solve)
    draft_schedule(command, delivery, get_settings())

    run_id = run_id_for(delivery.message_id)
    assert one(services, "SELECT state, error FROM draft_runs WHERE id = :r", r=run_id) == ("failed", GAVE_UP)
    draft_schedule(command, delivery, get_settings())  # redelivered: the run has ended
    assert one(services, "SELECT state, attempts FROM draft_runs WHERE id = :r", r=run_id) == ("failed", 1)
