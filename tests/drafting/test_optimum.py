"""The solver's levels against the lexicographic optimum found by enumerating every draft of small problems."""

import random
from datetime import date, timedelta
from itertools import product

import pytest

from services.drafting.engine import draft, greedy_draft
from services.drafting.facts import Facts, lexicographic
from services.drafting.model import (
    DRAFT_ORDER,
    Category,
    History,
    Kept,
    Level,
    Limits,
    Outcome,
    Problem,
    Reader,
    Request,
    Rotation,
    TimeOff,
)
from services.drafting.solver import build, count_floor, term
from shared.kernel.states import Specialty
from tests.drafting.builders import TZ, not_two_body_only, role_dates

START = date(2026, 11, 20)  # a Friday: the three dates are Friday, Saturday (a holiday here) and Sunday
DAYS = 3
ROLES = ("EVE", "ON1")


def small_problem(seed: int) -> Problem:
    rng = random.Random(seed)
    days = [START + timedelta(days=i) for i in range(DAYS)]
    specialties = [Specialty.BOTH, Specialty.BOTH, rng.choice(list(Specialty)), rng.choice(list(Specialty))]
    readers = tuple(
        Reader(i, name, specialty, fte=rng.choice((1.0, 0.5)))
        for i, (name, specialty) in enumerate(zip("ABCD", specialties, strict=True), start=1)
    )
    history = {
        r.id: History(
            held={c: rng.randint(0, 4) for c in Category},
            share={c: rng.uniform(0, 4) for c in Category},
        )
        for r in readers
    }
    off_person = rng.choice(readers[2:]).id
    requests = (
        Request(rng.randint(1, 4), False, rng.randint(1, 3), day=rng.choice(days)),
        Request(rng.randint(1, 4), True, rng.randint(1, 3), day=rng.choice(days), role=rng.choice(ROLES)),
    )
    return Problem(
        start=START,
        end=days[-1],
        role_dates=role_dates(START, DAYS, ROLES),
        readers=readers,
        night_ok=not_two_body_only,
        tz=TZ,
        kept=(Kept(days[0], "EVE", 1),),
        rotations=(Rotation(days[1].weekday(), rng.choice(ROLES), rng.randint(1, 4), START, days[-1]),),
        time_off=(TimeOff(off_person, frozenset({rng.choice(days)})),),
        requests=requests,
        limits=Limits(nights=2, consecutive=2, weekends=1),
        holidays=frozenset({days[1]}),
        history=history,
    )


def optimum(problem: Problem) -> tuple[int, ...]:
    """The best lexicographic key over every draft that breaks no hard rule."""
    facts = Facts(problem)
    keys = [(s.day, s.role) for s in facts.slots]
    best = None
    for choice in product([None, *(r.id for r in problem.readers)], repeat=len(keys)):
        assignment = {key: pid for key, pid in zip(keys, choice, strict=True) if pid is not None}
        if facts.violations(assignment):
            continue
        key = lexicographic(facts.score(assignment), DRAFT_ORDER)
        best = key if best is None or key < best else best
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(4))
def test_every_level_is_the_enumerated_optimum(seed: int) -> None:
    problem = small_problem(seed)
    result = draft(problem, time_limit=20, workers=2)
    assert [r.level for r in result.levels] == list(DRAFT_ORDER)
    assert result.outcome is Outcome.OPTIMAL
    assert all(r.proven and r.bound == r.value for r in result.levels)
    values = {r.level: r.value for r in result.levels}
    assert lexicographic(values, DRAFT_ORDER) == optimum(problem)
    facts = Facts(problem)
    assert facts.violations(result.assignment) == []
    assert facts.score(result.assignment) | values == facts.score(result.assignment)


@pytest.mark.parametrize("seed", range(4))
def test_greedy_breaks_no_rule_and_is_never_better(seed: int) -> None:
    problem = small_problem(seed)
    facts = Facts(problem)
    baseline = greedy_draft(problem)
    assert facts.violations(baseline.assignment) == []
    assert lexicographic(facts.score(baseline.assignment), DRAFT_ORDER) >= optimum(problem)
    assert all(not r.proven and r.bound is None for r in baseline.levels)


@pytest.mark.parametrize("seed", range(4))
def test_bounds_from_counts_never_pass_the_enumerated_optimum(seed: int) -> None:
    problem = small_problem(seed)
    key = optimum(problem)
    best = {level: -v if level.maximise else v for level, v in zip(DRAFT_ORDER, key, strict=True)}
    dm = build(Facts(problem))
    dm.hold_kept()
    term(dm, Level.ROTATIONS)
    assert dm.best[Level.ROTATIONS] >= best[Level.ROTATIONS]
    fixed: dict[Level, int] = {}
    for level in DRAFT_ORDER:
        if level.in_share_units:
            assert count_floor(dm, level, fixed) <= best[level], level
        fixed[level] = best[level]
