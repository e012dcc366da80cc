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

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from services.drafting.engine import kept_conflicts
from services.drafting.explain import kept_conflict, unfilled
from services.drafting.facts import Facts
from services.drafting.model import (
    FAIRNESS_LEVELS,
    Assignment,
    Category,
    Level,
    LevelReport,
    Problem,
    TimeOff,
    Unfilled,
)
from services.drafting.solver import DraftModel, build, solve_levels, term

REPAIR_ORDER = (
    Level.UNFILLED,
    Level.KEPT_DROPPED,
    *(level for pair in FAIRNESS_LEVELS.values() for level in pair),
    Level.SPACING,
)
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
        what = f"{'the open' if old is None else _name(facts, old) + chr(39) + 's'} {rd.role} on {rd.day.isoformat()}"
        head = f"{_name(facts, new)} takes {what}" if new is not None else f"{what[0].upper()}{what[1:]} stays open"
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


def _restricted(facts: Facts, targets: Collection[int], first: date, last: date) -> DraftModel:
    """The model where only role-dates from `first` to `last` change hands and only the targets among the open
    ones are filled, with each level's trivial best: the open role-dates that stay open, the kept rows nobody may
    keep (their person is away)."""
    dm = build(facts)
    slots = facts.slots
    before = {s: ks[0].person_id for s, ks in facts.kept_on.items()}
    for (pid, s), var in dm.x.items():
        if (pid != before[s] and not first <= slots[s].day <= last) if s in before else s not in targets:
            dm.model.Add(var == 0)
    term(dm, Level.UNFILLED)
    dm.best[Level.UNFILLED] = sum(rd.mandatory for s, rd in enumerate(slots) if s not in before and s not in targets)
    term(dm, Level.KEPT_DROPPED)
    dm.best[Level.KEPT_DROPPED] = sum(
        k.person_id not in facts.eligible[s] for s, ks in facts.kept_on.items() for k in ks
    )
    return dm


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
    facts = Facts(problem)
    targets = _targets(facts, away, gaps)
    if not targets:
        kept = {(facts.slots[s].day, facts.slots[s].role): ks[0].person_id for s, ks in facts.kept_on.items()}
        return Repair(kept, (), (), 0, 0, (), (), _fairness(facts, kept, kept), (), time.monotonic() - began, 0.0)
    days = [facts.slots[s].day for s in targets]
    first = max(min(days) - timedelta(days=reach), earliest or problem.start)
    last = max(days) + timedelta(days=reach)
    dm = _restricted(facts, targets, first, last)
    standing = [k for ks in facts.kept_on.values() for k in ks if (k.person_id, k.day) not in away]
    cores, _ = kept_conflicts(dm, time_limit / 4, workers, standing)
    conflicts = tuple(kept_conflict(facts, core) for core in cores)
    if cores:
        frozen = {(k.day, k.role) for core in cores for k in core}
        problem = replace(problem, role_dates=tuple(rd for rd in problem.role_dates if (rd.day, rd.role) not in frozen))
        facts = Facts(problem)
        targets = _targets(facts, away, gaps)
        dm = _restricted(facts, targets, first, last)
    slots = facts.slots
    key = {s: (rd.day, rd.role) for s, rd in enumerate(slots)}
    before = {s: ks[0].person_id for s, ks in facts.kept_on.items()}
    kept_assignment = {key[s]: pid for s, pid in before.items()}
    hint = {key[s]: pid for s, pid in before.items() if s not in targets}
    solve_began = time.monotonic()
    solved = solve_levels(dm, REPAIR_ORDER, time_limit - (time.monotonic() - began), workers, hint=hint)
    solve_seconds = time.monotonic() - solve_began
    after_assignment = solved.assignment if solved.assignment is not None else hint
    after = {facts.index[k]: pid for k, pid in after_assignment.items()}
    moves = _moves(facts, before, after, away, why)
    filled_gaps = sum(before.get(s) is None and s in after for s in targets)  # changes KEPT_DROPPED does not count
    dropped = next((r for r in solved.levels if r.level is Level.KEPT_DROPPED), None)
    bound = None if dropped is None or dropped.bound is None else dropped.bound + filled_gaps
    target_keys = {key[s] for s in targets}
    return Repair(
        assignment=after_assignment,
        targets=tuple(sorted(target_keys)),
        moves=moves,
        changes=len(moves),
        lower_bound=bound,
        levels=solved.levels,
        unfilled=tuple(u for u in unfilled(facts, after_assignment) if (u.day, u.role) in target_keys),
        fairness=_fairness(facts, kept_assignment, after_assignment),
        conflicts=conflicts,
        seconds=time.monotonic() - began,
        solve_seconds=solve_seconds,
    )
