"""Drafting a period: `draft` (the solver, with the greedy draft as its first hint and its fallback) and
`greedy_draft` (the baseline alone). Pure: a `Problem` in, a `Draft` out.

Kept assignments are first tried together as assumptions. When they cannot all hold, the smallest conflicting
set found (the solver's sufficient assumptions, shrunk one by one) is reported in words, and the draft keeps as
many as it can: `Level.KEPT_DROPPED` is solved before every other level. A run never ends as a bare
"infeasible": apart from kept rows, every rule can be met by leaving roles unfilled, and each unfilled role
is explained.
"""

import time
from collections.abc import Callable, Sequence

from ortools.sat.python import cp_model

from services.drafting.explain import kept_conflict, unfilled, unhonored
from services.drafting.facts import Facts
from services.drafting.greedy import greedy
from services.drafting.model import (
    DRAFT_ORDER,
    Assignment,
    Draft,
    Kept,
    Level,
    LevelReport,
    Outcome,
    Problem,
    ProgressReport,
)
from services.drafting.solver import DraftModel, Halt, build, solve_levels


def _feasible(
    dm: DraftModel, kept: Sequence[Kept], seconds: float, workers: int
) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
    dm.model.ClearAssumptions()
    dm.model.AddAssumptions([dm.keep[k] for k in kept])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    return dm.halt.solve(solver, dm.model, None), solver


def kept_conflicts(
    dm: DraftModel, seconds: float, workers: int, rows: Sequence[Kept] | None = None
) -> tuple[list[list[Kept]], bool]:
    """Smallest conflicting sets of kept rows (`rows`, else all), one after another (each shrunk by removing rows
    while the rest of it still conflicts), and whether the rows left are proven to hold together."""
    remaining = list(dm.keep if rows is None else rows)
    if not remaining:
        return [], True
    by_index = {dm.keep[k].Index(): k for k in remaining}
    cores: list[list[Kept]] = []
    deadline = time.monotonic() + seconds
    hold = False
    while remaining:
        status, solver = _feasible(dm, remaining, max(0.1, deadline - time.monotonic()), workers)
        if status != cp_model.INFEASIBLE:
            hold = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
            break
        core = [by_index[i] for i in solver.SufficientAssumptionsForInfeasibility()]
        if not core:  # infeasible whatever is kept: `night_ok` refuses even an empty night
            break
        for k in list(core):
            smaller = [c for c in core if c is not k]
            if (
                smaller
                and _feasible(dm, smaller, max(0.1, deadline - time.monotonic()), workers)[0] == cp_model.INFEASIBLE
            ):
                core = smaller
        cores.append(core)
        remaining = [k for k in remaining if k not in core]
    dm.model.ClearAssumptions()
    return cores, hold or not remaining


def _reports(facts: Facts, assignment: Assignment, order: Sequence[Level], seconds: float) -> tuple[LevelReport, ...]:
    values = facts.score(assignment)
    return tuple(LevelReport(level, values[level], None, False, seconds) for level in order)


def _draft(
    facts: Facts,
    assignment: Assignment,
    levels: tuple[LevelReport, ...],
    outcome: Outcome,
    conflicts: tuple[str, ...],
    began: float,
) -> Draft:
    dropped = tuple(k for ks in facts.kept_on.values() for k in ks if assignment.get((k.day, k.role)) != k.person_id)
    return Draft(
        assignment=dict(assignment),
        levels=levels,
        outcome=outcome,
        unfilled=unfilled(facts, assignment),
        unhonored=unhonored(facts, assignment),
        conflicts=conflicts,
        dropped=dropped,
        seconds=time.monotonic() - began,
        fairness=facts.fairness(assignment),
    )


def greedy_draft(problem: Problem, order: Sequence[Level] = DRAFT_ORDER) -> Draft:
    began = time.monotonic()
    facts = Facts(problem)
    assignment = greedy(facts)
    levels = _reports(facts, assignment, order, time.monotonic() - began)
    return _draft(facts, assignment, levels, Outcome.GREEDY, (), began)


def draft(
    problem: Problem,
    time_limit: float = 30.0,
    workers: int = 2,
    order: Sequence[Level] = DRAFT_ORDER,
    progress: ProgressReport | None = None,
    given_up: Callable[[], bool] | None = None,
) -> Draft:
    """The lexicographic draft within about `time_limit` seconds on `workers` CP-SAT workers; `progress` hears
    how the solve goes (`solve_levels`). Once `given_up()` says that nobody waits for the draft any more (asked
    between solves and every `HALT_EVERY_S` seconds within one), the solve stops and `Stopped` is raised."""
    began = time.monotonic()
    facts = Facts(problem)
    baseline = greedy(facts)
    with Halt(given_up) as halt:
        dm = build(facts, halt)
        cores, hold = kept_conflicts(dm, time_limit / 4, workers)
        conflicts = tuple(kept_conflict(facts, core) for core in cores)
        if hold and not cores:
            dm.hold_kept()
        else:
            order = (Level.KEPT_DROPPED, *order)
        left = time_limit - (time.monotonic() - began)
        solved = solve_levels(dm, order, left, workers, hint=baseline, progress=progress)
    if solved.assignment is None:
        levels = _reports(facts, baseline, order, time.monotonic() - began)
        return _draft(facts, baseline, levels, Outcome.GREEDY, conflicts, began)
    outcome = Outcome.OPTIMAL if all(r.proven for r in solved.levels) else Outcome.FEASIBLE
    return _draft(facts, solved.assignment, solved.levels, outcome, conflicts, began)
