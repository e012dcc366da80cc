"""The solver's levels against the lexicographic optimum found by enumerating every draft of small problems."""

import random
from collections.abc import Mapping
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
from services.drafting.solver import _improve_by_people, build, count_bound, term
from shared.kernel.states import Specialty
from tests.drafting.builders import TZ, anybody, not_two_body_only, role_dates

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
        if level.in_share_units or level is Level.SPACING:
            assert count_bound(dm, level, fixed) <= best[level], level
        elif level is Level.REQUESTS:
            assert count_bound(dm, level, fixed) >= best[level]
        fixed[level] = best[level]


def never_two_body_only(day: date, on: Mapping[str, Specialty | None]) -> bool:
    return list(on.values()).count(Specialty.BODY_ONLY) < 2


def test_the_bound_from_counts_knows_that_two_body_only_readers_may_not_share_a_night() -> None:
    """Two nights of ON1 and ON2, never both BODY_ONLY: Cy (BOTH), already a night over his share, still holds a role
    each night, 1.667 nights over his share. Each reader alone could hold every role, so only the night's rule shows
    it."""
    monday = date(2026, 11, 2)
    readers = (
        Reader(1, "Ann", Specialty.BODY_ONLY),
        Reader(2, "Bea", Specialty.BODY_ONLY),
        Reader(3, "Cy", Specialty.BOTH),
    )
    problem = Problem(
        start=monday,
        end=monday + timedelta(days=1),
        role_dates=role_dates(monday, 2, ("ON1", "ON2")),
        readers=readers,
        night_ok=never_two_body_only,
        tz=TZ,
        history={3: History(held={Category.NIGHTS: 1}, share={Category.NIGHTS: 0.0})},
    )
    result = draft(problem, time_limit=10, workers=2)
    nights_max = next(r for r in result.levels if r.level is Level.NIGHTS_MAX)
    assert nights_max.value == 1667 and nights_max.proven
    dm = build(Facts(problem))
    dm.hold_kept()
    assert count_bound(dm, Level.NIGHTS_MAX, {Level.UNFILLED: 0}) == 1667


def test_the_spacing_bound_counts_the_pairs_that_a_weekends_limit_forces() -> None:
    """Two weekends of one role, two readers allowed one weekend each: each works both nights of a weekend, two
    pairs of consecutive nights, and the bound from counts says so before any search."""
    saturday = date(2026, 11, 7)
    problem = Problem(
        start=saturday,
        end=saturday + timedelta(days=8),
        role_dates=tuple(rd for rd in role_dates(saturday, 9, ("ON",)) if rd.day.weekday() >= 5),
        readers=(Reader(1, "Ann", Specialty.BOTH), Reader(2, "Bea", Specialty.BOTH)),
        night_ok=anybody,
        tz=TZ,
        limits=Limits(weekends=1),
    )
    result = draft(problem, time_limit=10, workers=2)
    values = {r.level: r.value for r in result.levels}
    assert values[Level.UNFILLED] == 0 and values[Level.SPACING] == 2
    dm = build(Facts(problem))
    dm.hold_kept()
    term(dm, Level.ROTATIONS)
    fixed = {level: values[level] for level in DRAFT_ORDER[: DRAFT_ORDER.index(Level.SPACING)]}
    assert count_bound(dm, Level.SPACING, fixed) == 2


def test_the_requests_bound_counts_what_a_persons_own_rules_let_them_meet() -> None:
    """Ann asks for both nights of ON, and may not work two nights in a row: the bound says she can meet one of her
    requests, the weightier, before any search."""
    monday = date(2026, 11, 2)
    problem = Problem(
        start=monday,
        end=monday + timedelta(days=1),
        role_dates=role_dates(monday, 2, ("ON",)),
        readers=(Reader(1, "Ann", Specialty.BOTH), Reader(2, "Bea", Specialty.BOTH)),
        night_ok=anybody,
        tz=TZ,
        requests=(Request(1, True, 3, day=monday), Request(1, True, 2, day=monday + timedelta(days=1))),
        limits=Limits(consecutive=1),
    )
    result = draft(problem, time_limit=10, workers=2)
    values = {r.level: r.value for r in result.levels}
    assert values[Level.REQUESTS] == 3 and result.assignment[(monday, "ON")] == 1
    dm = build(Facts(problem))
    dm.hold_kept()
    term(dm, Level.ROTATIONS)
    fixed = {level: values[level] for level in DRAFT_ORDER[: DRAFT_ORDER.index(Level.REQUESTS)]}
    term(dm, Level.REQUESTS)
    assert dm.best[Level.REQUESTS] == 5
    assert count_bound(dm, Level.REQUESTS, fixed) == 3


def test_the_search_over_a_few_people_at_a_time_spreads_the_nights_and_keeps_every_rule() -> None:
    """Ann holds the first week and Bea the second, every night in a row: solving a few of the ten readers at a time
    again, with the unfilled level fixed, ends with nobody working two nights in a row and every night held."""
    monday = date(2026, 11, 2)
    readers = tuple(Reader(i, f"Reader {i}", Specialty.BOTH) for i in range(1, 11))
    problem = Problem(
        start=monday,
        end=monday + timedelta(days=13),
        role_dates=role_dates(monday, 14, ("ON",)),
        readers=readers,
        night_ok=anybody,
        tz=TZ,
    )
    facts = Facts(problem)
    start = {(monday + timedelta(days=i), "ON"): 1 if i < 7 else 2 for i in range(14)}
    assert facts.score(start)[Level.SPACING] == 12
    dm = build(facts)
    dm.hold_kept()
    dm.model.Add(term(dm, Level.UNFILLED) <= 0)
    term(dm, Level.SPACING)
    found, value = _improve_by_people(dm, Level.SPACING, start, 0, 20.0, 2, None)
    assert value == 0 == facts.score(found)[Level.SPACING]
    assert facts.violations(found) == [] and set(found) == set(start)
