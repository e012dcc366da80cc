"""A solve nobody waits for any more stops: asked between levels and every `HALT_EVERY_S` seconds within one, the
engine stops the CP-SAT search in progress and raises `Stopped`, long before its time limit."""

import random
import time
from datetime import date, timedelta

import pytest

from services.drafting.engine import draft
from services.drafting.model import Category, History, Level, Limits, Problem, Progress, Reader, Request
from services.drafting.solver import HALT_EVERY_S, Stopped
from shared.kernel.states import Specialty
from tests.drafting.builders import TZ, anybody, role_dates

START = date(2026, 3, 2)
TIME_LIMIT = 120.0


def four_weeks() -> Problem:
    """Twelve readers over four weeks: its sum of night deviations takes the solver more than ten seconds to prove."""
    rng = random.Random(1)
    days = [START + timedelta(days=i) for i in range(28)]
    readers = tuple(Reader(i, f"R{i:02d}", Specialty.BOTH, fte=rng.choice((1.0, 0.8, 0.5))) for i in range(1, 13))
    history = {
        r.id: History(held={c: rng.randint(0, 9) for c in Category}, share={c: rng.uniform(0, 9) for c in Category})
        for r in readers
    }
    requests = tuple(
        Request(rng.randint(1, 12), rng.random() < 0.5, rng.randint(1, 5), day=rng.choice(days)) for _ in range(24)
    )
    return Problem(
        start=START,
        end=days[-1],
        role_dates=role_dates(START, 28, ("ON1", "ON2", "EVE")),
        readers=readers,
        night_ok=anybody,
        tz=TZ,
        requests=requests,
        limits=Limits(consecutive=2, free_between=2),
        history=history,
        holidays=frozenset(days[::9]),
    )


def test_a_solve_whose_waiter_gives_up_mid_level_stops_within_seconds() -> None:
    gave_up: list[float] = []

    def progress(p: Progress) -> None:
        if p.level is Level.NIGHTS_SUM and not gave_up:  # the level starts: the workflow gives up as it solves
            gave_up.append(time.monotonic())

    began = time.monotonic()
    with pytest.raises(Stopped):
        draft(four_weeks(), time_limit=TIME_LIMIT, workers=1, progress=progress, given_up=lambda: bool(gave_up))
    assert gave_up, "the solve reached the sum of night deviations"
    assert time.monotonic() - gave_up[0] < 2 * HALT_EVERY_S + 1
    assert time.monotonic() - began < TIME_LIMIT / 2


def test_a_solve_whose_waiter_gave_up_before_it_starts_solves_nothing() -> None:
    heard: list[Progress] = []
    with pytest.raises(Stopped):
        draft(four_weeks(), time_limit=TIME_LIMIT, workers=1, progress=heard.append, given_up=lambda: True)
    assert heard == []
