"""Progress on a solve: the engine reports each level as it starts and each solution it finds through the callable
it is given (best value so far, bound, seconds left), and the worker's recorder stores it on the running run, at
most once a second within a level and at once when a new level starts, and goes on solving when it cannot
reach the database."""

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from schedcu.runtime.infra import free_port
from services.drafting.engine import draft
from services.drafting.facts import Facts
from services.drafting.model import DRAFT_ORDER, Level, Progress
from services.drafting.runs import ProgressRecorder
from shared.db.models import DraftRun
from shared.settings import get_settings
from tests.conftest import Services
from tests.drafting.stored import draft_version
from tests.drafting.test_optimum import small_problem

TIME_LIMIT = 20.0


def test_the_solve_reports_each_level_and_its_improving_solutions() -> None:
    problem = small_problem(3)
    heard: list[Progress] = []

    result = draft(problem, time_limit=TIME_LIMIT, workers=1, progress=heard.append)

    solved = [r.level for r in result.levels]
    assert solved == list(DRAFT_ORDER)
    starts = [p for p in heard if p.value is None]
    # every level the solver searched was announced, in order, numbered out of the whole order
    assert [p.level for p in starts] == [lvl for lvl in solved if lvl in {p.level for p in heard}]
    assert [(p.number, p.levels) for p in starts] == [(solved.index(p.level) + 1, len(solved)) for p in starts]
    assert {Level.UNFILLED, Level.ROTATIONS, Level.SPACING} <= {p.level for p in starts}
    lefts = [p.seconds_left for p in heard]
    assert all(0 <= left <= TIME_LIMIT for left in lefts) and lefts == sorted(lefts, reverse=True)
    for report in result.levels:
        found = [p for p in heard if p.level == report.level and p.value is not None]
        if not found:
            continue
        values = [p.value for p in found]
        # each solution is no worse than the one before; the last is the level's value, within its bound
        assert values == sorted(values, reverse=not report.level.maximise)
        assert values[-1] == report.value
        last = found[-1]
        assert last.bound is not None
        assert (last.bound >= last.value) if report.level.maximise else (last.bound <= last.value)
    assert Facts(problem).score(result.assignment)[Level.UNFILLED] == result.levels[0].value


@pytest.fixture
def on_test_database(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", services.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stored(services: Services, run_id: uuid.UUID) -> dict[str, Any]:
    with Session(services.engine) as session:
        found = session.scalar(select(DraftRun.progress).where(DraftRun.id == run_id))
    assert found is not None
    return found


@pytest.mark.integration
def test_the_recorder_stores_progress_at_most_every_second_and_at_each_new_level(
    services: Services, on_test_database: None
) -> None:
    run_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        version_id = draft_version(session, date(2026, 8, 3), date(2026, 8, 9))
        session.execute(insert(DraftRun).values(id=run_id, version_id=version_id, state="running", actor="tests",
                                                time_limit_s=30, workers=2))  # fmt: skip
    clock = Clock()
    record = ProgressRecorder(run_id, every_s=1.0, clock=clock)

    record(Progress(Level.UNFILLED, 1, 10, None, None, 29.0))
    first = stored(services, run_id)
    assert datetime.fromisoformat(first.pop("at")).tzinfo is not None
    assert first == {"level": "unfilled mandatory roles", "number": 1, "levels": 10, "value": None, "bound": None,
                     "seconds_left": 29.0}  # fmt: skip
    clock.now += 0.4
    record(Progress(Level.UNFILLED, 1, 10, 3, 0, 28.6))  # within the second: not stored
    assert stored(services, run_id)["value"] is None
    clock.now += 0.7
    record(Progress(Level.UNFILLED, 1, 10, 1, 0, 27.9))
    assert (stored(services, run_id)["value"], stored(services, run_id)["seconds_left"]) == (1, 27.9)
    clock.now += 0.1
    record(Progress(Level.ROTATIONS, 2, 10, None, None, 27.8))  # a new level: stored at once
    assert stored(services, run_id)["level"] == "rotations honored"

    with Session(services.engine) as session, session.begin():
        session.execute(DraftRun.__table__.update().where(DraftRun.id == run_id).values(state="completed"))
    clock.now += 5
    record(Progress(Level.ROTATIONS, 2, 10, 4, 4, 20.0))  # the run has ended: left as it was
    assert stored(services, run_id)["value"] is None


def test_a_database_out_of_reach_stops_no_solve(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
    get_settings.cache_clear()
    run_id = uuid.uuid4()
    try:
        result = draft(small_problem(3), time_limit=5, workers=1, progress=ProgressRecorder(run_id))
    finally:
        get_settings.cache_clear()

    assert [r.level for r in result.levels] == list(DRAFT_ORDER)
    assert f"draft run {run_id}: progress not recorded (OperationalError)" in caplog.text
