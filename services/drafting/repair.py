"""Repairing a published schedule when someone becomes unavailable (domain §6 "Repair"). Pure: a `Problem` whose
kept assignments are the version's, the people unavailable and the open gaps in; a chain of moves out.

- The role-dates to fill (the targets) are those an unavailable person holds on their dates, and the open gaps
  named. Every other role-date stays as it is unless a fix must move it: each kept assignment is a soft keep,
  and dropping one counts one change. A role-date without a kept assignment that is not a target stays open.
- Only role-dates within `reach` days of the targets (and not before `earliest`: the past stays) may change
  hands; the others can only keep their person, so that the solver searches a few days, not the quarter.
- Levels, in order: unfilled targets, kept assignments dropped (the fewest changes), fairness (holidays,
  weekends, nights: largest deviation, then sum), spacing. The change count is proven minimal when the
  solver's bound equals it; otherwise the report carries the gap.
- Each move names the assignment it displaces and the rule that made it necessary: the sick call for the first
  move, and for each later one the rule its displaced person would break by keeping it beside their new role
  ("B takes A's ON2 on 2026-11-05: A would work a fourth night in a row (limit 3)"). A target left open lists
  every person with the rule that blocks them (services/drafting/explain.py).
"""

import math
import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from ortools.sat.python import cp_model

from services.drafting.engine import kept_conflicts
from services.drafting.explain import kept_conflict, unfilled
from services.drafting.facts import Facts
from services.drafting.model import (
    FAIRNESS_LEVELS,
    SHARE_UNIT,
    Assignment,
    Category,
    History,
    Level,
    LevelReport,
    Limits,
    Problem,
    TimeOff,
    Unfilled,
)
from services.drafting.solver import TWO_WORKERS, DraftModel, StopAt, build, solve_levels, term
from shared.kernel.roles import DAY

REPAIR_ORDER = (
    Level.UNFILLED,
    Level.KEPT_DROPPED,
    *(level for pair in FAIRNESS_LEVELS.values() for level in pair),
    Level.SPACING,
)
LATER_LEVELS = REPAIR_ORDER[2:]  # after the first two, which `_fewest` solves together
DEFAULT_REACH_DAYS = 7
UNAVAILABLE = "unavailable"  # the rule of a move off an unavailable person's role
OPEN_GAP = "gap"  # the rule of a move onto a role-date nobody held


@dataclass(frozen=True)
class Move:
    """`person_id` takes `role` on `day` from `displaced_id` (None: it was open); None as `person_id`: it stays
    open. `after`: the index of the move that made this one necessary (its displaced person took that role)."""

    day: date
    role: str
    person_id: int | None
    displaced_id: int | None
    rule: str
    text: str
    after: int | None


@dataclass(frozen=True)
class FairnessEffect:
    """A category's largest and summed deviation before and after the repair, in thousandths of a night."""

    category: Category
    max_before: int
    max_after: int
    sum_before: int
    sum_after: int


@dataclass(frozen=True)
class Repair:
    assignment: Assignment  # the repaired schedule (every role-date of the period)
    targets: tuple[tuple[date, str], ...]
    moves: tuple[Move, ...]
    changes: int  # role-dates whose person differs from before
    lower_bound: int | None  # the fewest changes any repair needs (None: not known)
    levels: tuple[LevelReport, ...]
    unfilled: tuple[Unfilled, ...]  # targets left open, with every person's reason
    fairness: tuple[FairnessEffect, ...]
    conflicts: tuple[str, ...]  # the published schedule's own conflicts, left as they are
    seconds: float
    solve_seconds: float

    @property
    def proven(self) -> bool:
        return self.lower_bound is not None and self.lower_bound == self.changes


def _name(facts: Facts, pid: int | None) -> str:
    return "nobody" if pid is None else facts.readers[pid].name


def _moves(
    facts: Facts, before: dict[int, int], after: dict[int, int], away: Collection[tuple[int, date]], why: str
) -> tuple[Move, ...]:
    """The changed role-dates as a chain: the targets first, then each move whose displaced person took an
    earlier move's role."""
    held: dict[int, set[int]] = {}
    for s, pid in after.items():
        held.setdefault(pid, set()).add(s)
    changed = sorted(s for s in set(before) | set(after) if before.get(s) != after.get(s))
    ordered: list[int] = []
    cause: dict[int, int | None] = {}
    roots = [s for s in changed if before.get(s) is None or (before[s], facts.slots[s].day) in away]
    for s in roots:
        ordered.append(s)
        cause[s] = None
    while True:
        taken = {after[s]: n for n, s in enumerate(ordered) if s in after}
        follow = [s for s in changed if s not in cause and before.get(s) in taken]
        if not follow:
            break
        for s in follow:
            ordered.append(s)
            cause[s] = taken[before[s]]
    for s in changed:
        if s not in cause:
            ordered.append(s)
            cause[s] = None
    moves = []
    for s in ordered:
        rd = facts.slots[s]
        old, new = before.get(s), after.get(s)
        if old is None:
            rule, because = OPEN_GAP, "nobody held it"
        elif (old, rd.day) in away:
            rule, because = UNAVAILABLE, f"{_name(facts, old)} is unavailable ({why})"
        else:
            reasons = facts.reasons(old, s, held, after)
            rule = reasons[0].rule if reasons else "none"
            because = (
                f"{_name(facts, old)} {reasons[0].text}" if reasons else f"{_name(facts, old)} gives it up for fairness"
            )
        owner = "the open" if old is None else f"{_name(facts, old)}'s"
        what = f"{owner} {rd.role} on {rd.day.isoformat()}"
        head = f"{_name(facts, new)} takes {what}" if new is not None else f"{what} stays open"
        moves.append(Move(rd.day, rd.role, new, old, rule, f"{head}: {because}.", cause[s]))
    return tuple(moves)


def _fairness(facts: Facts, before: Assignment, after: Assignment) -> tuple[FairnessEffect, ...]:
    was, now = facts.score(before), facts.score(after)
    return tuple(
        FairnessEffect(category, was[most], now[most], was[total], now[total])
        for category, (most, total) in FAIRNESS_LEVELS.items()
    )


def _targets(facts: Facts, away: Collection[tuple[int, date]], gaps: Collection[tuple[date, str]]) -> list[int]:
    held = {s: ks[0].person_id for s, ks in facts.kept_on.items()}
    return sorted(
        {s for s, pid in held.items() if (pid, facts.slots[s].day) in away}
        | {facts.index[g] for g in gaps if g in facts.index and facts.index[g] not in held}
    )


def _window(full: Facts, first: date, last: date, frozen: Collection[tuple[date, str]]) -> Facts:
    """The facts of the role-dates from `first` to `last` (less the `frozen` ones), judged as in the whole period:
    the kept rows outside are bookings (overlap, rest, runs of nights); what they hold and the shares their
    role-dates earn pass into each person's history, so that deviations are the period's; and the limits per
    period are what the rows outside leave (never below what a person holds inside already)."""
    problem = full.problem
    inside = tuple(rd for rd in problem.role_dates if first <= rd.day <= last and (rd.day, rd.role) not in frozen)
    inside_keys = {(rd.day, rd.role) for rd in inside}
    earned: dict[int, dict[Category, float]] = defaultdict(lambda: defaultdict(float))
    held_out: dict[int, dict[Category, int]] = defaultdict(lambda: defaultdict(int))
    nights_in: dict[int, set[date]] = defaultdict(set)
    nights_out: dict[int, set[date]] = defaultdict(set)
    for s, rd in enumerate(full.slots):
        if (rd.day, rd.role) in inside_keys:
            total = sum(full.readers[pid].fte for pid in full.eligible[s])
            for pid in full.eligible[s]:
                for category in full.categories(rd.day):
                    earned[pid][category] += full.readers[pid].fte / total
        for k in full.kept_on.get(s, ())[:1]:
            if (rd.day, rd.role) not in inside_keys:  # frozen rows inside are bookings: they count here too
                for category in full.categories(rd.day):
                    held_out[k.person_id][category] += 1
            if rd.role != DAY:
                (nights_in if first <= rd.day <= last else nights_out)[k.person_id].add(rd.day)
    history = {}
    for r in full.active:
        before = problem.history.get(r.id, History())
        history[r.id] = History(
            held={c: before.held.get(c, 0) + held_out[r.id][c] for c in Category},
            share={c: full.shares[r.id][c] / SHARE_UNIT - earned[r.id][c] for c in Category},
        )
    window = Facts(replace(problem, start=first, end=last, role_dates=inside, history=history))
    for pid, limits in full.limits.items():
        nights, weekends = limits.nights, limits.weekends
        if nights is not None:
            nights = max(nights - len(nights_out[pid]), len(nights_in[pid]))
        if weekends is not None:
            outside = full.weekends_worked(nights_out[pid]) - full.weekends_worked(nights_in[pid])
            weekends = max(weekends - len(outside), len(window.weekends_worked(nights_in[pid])))
        window.limits[pid] = Limits(nights, limits.consecutive, limits.free_between, weekends)
    return window


def _restricted(facts: Facts, targets: Collection[int]) -> DraftModel:
    """The model where only the targets among the open role-dates are filled, with each level's trivial best: the
    open role-dates that stay open, the kept rows nobody may keep (their person is away)."""
    dm = build(facts)
    before = {s: ks[0].person_id for s, ks in facts.kept_on.items()}
    for (_, s), var in dm.x.items():
        if s not in before and s not in targets:
            dm.model.Add(var == 0)
    term(dm, Level.UNFILLED)
    dm.best[Level.UNFILLED] = sum(
        rd.mandatory for s, rd in enumerate(facts.slots) if s not in before and s not in targets
    )
    term(dm, Level.KEPT_DROPPED)
    dm.best[Level.KEPT_DROPPED] = sum(
        k.person_id not in facts.eligible[s] for s, ks in facts.kept_on.items() for k in ks
    )
    return dm


def _fewest(
    dm: DraftModel, seconds: float, workers: int, hint: Assignment
) -> tuple[dict[tuple[date, str], int] | None, tuple[LevelReport, LevelReport]]:
    """The first two levels in one solve, weighted so that one more role filled outweighs every kept row (the
    lexicographic order), then fixed: near the published schedule the solver finds the fewest changes far sooner
    than by first filling the roles anyhow and then moving rows back."""
    began = time.monotonic()
    unfilled_, dropped = term(dm, Level.UNFILLED), term(dm, Level.KEPT_DROPPED)
    weight = len(dm.keep) + 1
    dm.hint(hint, workers, max(0.1, seconds / 4))
    dm.model.Minimize(weight * unfilled_ + dropped)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, seconds - (time.monotonic() - began))
    solver.parameters.num_workers = workers
    if workers == 2:
        solver.parameters.subsolvers.extend(TWO_WORKERS)
    best_u, best_d = dm.best[Level.UNFILLED], dm.best[Level.KEPT_DROPPED]
    status = dm.halt.solve(solver, dm.model, StopAt(weight * best_u + best_d, maximise=False))
    took = time.monotonic() - began
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, (LevelReport(Level.UNFILLED, best_u, None, False, took),
                      LevelReport(Level.KEPT_DROPPED, best_d, None, False, took))  # fmt: skip
    u, d = divmod(round(solver.ObjectiveValue()), weight)
    if status == cp_model.OPTIMAL or (u, d) == (best_u, best_d):
        bound_u, bound_d = u, d
    else:
        total = math.ceil(solver.BestObjectiveBound() - 1e-6)
        bound_u = max(best_u, total // weight)
        bound_d = max(best_d, total - weight * u) if bound_u == u else best_d
    dm.model.Add(unfilled_ <= u)
    dm.model.Add(dropped <= d)
    return dm.assignment(solver), (
        LevelReport(Level.UNFILLED, u, bound_u, bound_u == u, took),
        LevelReport(Level.KEPT_DROPPED, d, bound_d, bound_d == d, took),
    )


def repair(
    problem: Problem,
    unavailable: Sequence[TimeOff],
    why: str = "sick call",
    gaps: Collection[tuple[date, str]] = (),
    earliest: date | None = None,
    reach: int = DEFAULT_REACH_DAYS,
    time_limit: float = 5.0,
    workers: int = 2,
) -> Repair:
    """Fill the roles `unavailable` people hold on their dates, and the open `gaps`, with the fewest changes.
    `why` names the unavailability in the first moves' text; `earliest`: nothing before it changes.

    Kept rows that break a rule among themselves already (the published schedule's own conflicts, found as the
    drafting engine finds them) are not the sick call's to mend: their role-dates leave the model and the rows
    stay as bookings of their people, reported in `conflicts`."""
    began = time.monotonic()
    problem = replace(problem, time_off=(*problem.time_off, *unavailable))
    away = {(t.person_id, day) for t in unavailable for day in t.days}
    full = Facts(problem)
    before = {s: ks[0].person_id for s, ks in full.kept_on.items()}
    kept = {(full.slots[s].day, full.slots[s].role): pid for s, pid in before.items()}
    targets = _targets(full, away, gaps)
    if not targets:
        return Repair(kept, (), (), 0, 0, (), (), _fairness(full, kept, kept), (), time.monotonic() - began, 0.0)
    target_keys = {(full.slots[s].day, full.slots[s].role) for s in targets}
    days = [day for day, _ in target_keys]
    first = max(min(days) - timedelta(days=reach), earliest or problem.start, problem.start)
    last = min(max(days) + timedelta(days=reach), problem.end)
    facts = _window(full, first, last, ())
    dm = _restricted(facts, _targets(facts, away, gaps))
    standing = [k for ks in facts.kept_on.values() for k in ks if (k.person_id, k.day) not in away]
    cores, _ = kept_conflicts(dm, time_limit / 4, workers, standing)
    if cores:
        facts = _window(full, first, last, {(k.day, k.role) for core in cores for k in core})
        dm = _restricted(facts, _targets(facts, away, gaps))
    hint = {key: pid for key, pid in kept.items() if key in facts.index and key not in target_keys}
    solve_began = time.monotonic()
    found, fewest = _fewest(dm, time_limit - (time.monotonic() - began), workers, hint)
    solved = solve_levels(dm, LATER_LEVELS, time_limit - (time.monotonic() - began), workers, hint=found or hint)
    solve_seconds = time.monotonic() - solve_began
    levels = (*fewest, *solved.levels)
    inside = solved.assignment if solved.assignment is not None else found or hint
    after_assignment = {key: pid for key, pid in kept.items() if key not in facts.index} | dict(inside)
    after = {full.index[key]: pid for key, pid in after_assignment.items()}
    moves = _moves(full, before, after, away, why)
    left_open = tuple(u for u in unfilled(full, after_assignment) if (u.day, u.role) in target_keys)
    if found is None:  # no answer is not an impossible one: the reasons only say why nobody is free as things stand
        ran_out = (
            f"no fill found within {time_limit:g} s (the solver ran out of time; a longer time limit may find one)"
        )
        left_open = tuple(replace(u, text=f"{ran_out}; {u.text}") for u in left_open)
    filled_gaps = sum(before.get(s) is None and s in after for s in targets)  # changes KEPT_DROPPED does not count
    bound = None if fewest[1].bound is None else fewest[1].bound + filled_gaps
    return Repair(
        assignment=after_assignment,
        targets=tuple(sorted(target_keys)),
        moves=moves,
        changes=len(moves),
        lower_bound=bound,
        levels=levels,
        unfilled=left_open,
        fairness=_fairness(full, kept, after_assignment),
        conflicts=tuple(kept_conflict(full, core) for core in cores),
        seconds=time.monotonic() - began,
        solve_seconds=solve_seconds,
    )
