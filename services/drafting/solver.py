"""The CP-SAT model of a draft and its lexicographic solve. Pure: inputs in, assignments and figures out.

Variables: `x[p, s]` = person p holds role-date s, made only for those who could hold it (and for the kept
person of a kept role-date, whatever the rules say, so that a kept row that breaks one shows as a conflict
rather than vanishing). Each kept row has a literal `keep[k]` that forces its `x`; a draft makes them hard
unless they cannot all hold, a repair may leave them soft and count the dropped ones (`Level.KEPT_DROPPED`).

Hard constraints: a role-date holds at most one person; one role per person per date; shifts of one person
whose hours overlap or cut the rest after a morning end exclude each other (kept bookings around the period
included); per date, the specialties on its roles (0 unfilled, else the person's) form a combination
`night_ok` allows (AddAllowedAssignments over the combinations of the specialties present); limits on
nights per period, runs of nights, free days between runs and weekends.

Levels (`model.Level`), each an integer expression:
- UNFILLED: mandatory role-dates without a person;
- ROTATIONS: (role-date, person) rotation targets held (maximised);
- per fairness category (holidays, weekends, nights), over the people active in the period: with
  dev = 1000 x (nights held in history and period) - fair share in thousandths, the largest |dev|, then
  the sum of |dev|;
- REQUESTS: the weight of requests met (maximised);
- SPACING: pairs of consecutive nights plus pairs of consecutive weekends worked, per person.

`solve_levels` optimises them one after the other, each with its share of the time left; it then fixes the
level at its optimum (or the best value found) and hints the next level with the solution so far. A level's
search stops at its bound when it reaches it: the trivial best, for rotations each person's reachable targets,
for fairness, requests and spacing the bound from counts and each person's own rules (`count_bound`).

Every solve goes through the model's `Halt`: once whoever waits for the draft has given up, the solve in progress
stops and `Stopped` is raised.
"""

import itertools
import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from types import TracebackType

from ortools.sat.python import cp_model

from services.drafting.facts import SPECIALTIES, SPECIALTY_GROUPS, Facts
from services.drafting.model import (
    FAIRNESS_LEVELS,
    SHARE_UNIT,
    Assignment,
    Category,
    Kept,
    Level,
    LevelReport,
    Progress,
    ProgressReport,
    Request,
)
from shared.kernel.roles import DAY
from shared.kernel.states import Specialty

_CODE: dict[Specialty | None, int] = {None: 0} | {s: i + 1 for i, s in enumerate(SPECIALTIES)}
Expr = cp_model.LinearExprT


Bit = cp_model.IntVar | int  # a 0/1 variable, or a constant where the rules or the bookings decide
HALT_EVERY_S = 2.0


class Stopped(Exception):
    """The solve was stopped before its end: whoever waited for the draft has given up."""


class Halt:
    """Stops a run's solves once `given_up()` says so. While the run solves (inside `with`), a thread of its own asks
    every `every_s` seconds and stops the CP-SAT search in progress; each solve then raises `Stopped`, and so does
    the next one asked for. Without `given_up` nothing is asked and the solves run their course."""

    def __init__(self, given_up: Callable[[], bool] | None = None, every_s: float = HALT_EVERY_S) -> None:
        self.given_up, self.every_s = given_up, every_s
        self.stopped = threading.Event()
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._current: cp_model.CpSolver | None = None
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> "Halt":
        if self.given_up is not None:
            self._watcher = threading.Thread(target=self._watch, name="draft-halt", daemon=True)
            self._watcher.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._ended.set()
        if self._watcher is not None:
            self._watcher.join()

    def _watch(self) -> None:
        assert self.given_up is not None
        while not self._ended.wait(self.every_s):
            if not self.stopped.is_set() and self.given_up():
                self.stopped.set()
            if self.stopped.is_set():
                with self._lock:  # again at every turn: a search that began as the flag was set stops too
                    if self._current is not None:
                        self._current.stop_search()

    def check(self) -> None:
        """Ask now (between two solves): `Stopped` once whoever waits has given up."""
        if not self.stopped.is_set() and self.given_up is not None and self.given_up():
            self.stopped.set()
        if self.stopped.is_set():
            raise Stopped

    def solve(
        self, solver: cp_model.CpSolver, model: cp_model.CpModel, callback: cp_model.CpSolverSolutionCallback | None
    ) -> cp_model.CpSolverStatus:
        with self._lock:
            if self.stopped.is_set():
                raise Stopped
            self._current = solver
        try:
            status = solver.Solve(model, callback)
        finally:
            with self._lock:
                self._current = None
        if self.stopped.is_set():
            raise Stopped
        return status


@dataclass
class DraftModel:
    facts: Facts
    model: cp_model.CpModel
    x: dict[tuple[int, int], cp_model.IntVar]  # (person, slot) -> held
    keep: dict[Kept, cp_model.IntVar]  # kept row on a role-date of the period -> it holds
    by_person: dict[int, list[int]] = field(default_factory=dict)  # person -> the slots they may hold
    by_slot: dict[int, list[cp_model.IntVar]] = field(default_factory=dict)  # slot -> its x
    terms: dict[Level, Expr] = field(default_factory=dict)  # built when a level is first solved
    best: dict[Level, int] = field(default_factory=dict)  # each level's trivial best: no draft does better
    halt: Halt = field(default_factory=Halt)  # every solve of the model goes through it
    kept_hold: bool = False  # every kept row holds: `hold_kept`
    rotation_reach: dict[int, int] = field(default_factory=dict)  # person -> the most of their targets they can hold
    ranges: dict[Category, list[range]] = field(default_factory=dict)  # per active person: counts the levels allow
    _counts: dict[tuple[Category, int | None], list[tuple[int, int, int]]] = field(default_factory=dict)
    _works: dict[tuple[int, date], Bit] = field(default_factory=dict)
    _weekends: dict[tuple[int, date], Bit] = field(default_factory=dict)

    def assignment(self, solver: cp_model.CpSolver) -> dict[tuple[date, str], int]:
        slots = self.facts.slots
        return {(slots[s].day, slots[s].role): p for (p, s), var in self.x.items() if solver.BooleanValue(var)}

    def hint(self, assignment: Assignment, workers: int, seconds: float) -> None:
        """Hint every variable: the draft's `x` and `keep`, and the values they imply for the rest (found by a
        solve with `x` fixed). A complete feasible hint is the next level's first solution; when the draft
        breaks a rule (a kept row in conflict) only `x` and `keep` are hinted."""
        slots = self.facts.slots
        held = {v.Index(): int(assignment.get((slots[s].day, slots[s].role)) == p) for (p, s), v in self.x.items()}
        held |= {v.Index(): int(assignment.get((k.day, k.role)) == k.person_id) for k, v in self.keep.items()}
        completion = self.model.Clone()
        completion.ClearObjective()
        completion.ClearHints()
        for index, value in held.items():
            completion.Add(completion.GetIntVarFromProtoIndex(index) == value)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = seconds
        solver.parameters.num_workers = workers
        status = self.halt.solve(solver, completion, None)
        self.model.ClearHints()
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            for index in range(len(completion.Proto().variables)):
                var = self.model.GetIntVarFromProtoIndex(index)
                self.model.AddHint(var, solver.Value(completion.GetIntVarFromProtoIndex(index)))
        else:
            for index, value in held.items():
                self.model.AddHint(self.model.GetIntVarFromProtoIndex(index), value)

    def hold_kept(self) -> None:
        """Every kept row holds, as a hard rule."""
        for lit in self.keep.values():
            self.model.Add(lit == 1)
        self.kept_hold = True

    def works(self, p: int, day: date) -> Bit:
        """The person's night on `day`: a variable within the period, a constant from the bookings."""
        key = (p, day)
        if key not in self._works:
            facts = self.facts
            nights = [
                self.x[(p, s)] for s in facts.on_day.get(day, ()) if (p, s) in self.x and facts.slots[s].role != DAY
            ]
            if day in facts.booked_nights.get(p, ()):
                self._works[key] = 1
            elif not nights:
                self._works[key] = 0
            elif len(nights) == 1:
                self._works[key] = nights[0]
            else:
                w = self.model.NewBoolVar(f"w{p}_{day}")
                self.model.Add(w == sum(nights))
                self._works[key] = w
        return self._works[key]

    def weekend(self, p: int, sat: date) -> Bit:
        """The person works the weekend of `sat`: a night in the period on the Saturday or the Sunday."""
        key = (p, sat)
        if key not in self._weekends:
            facts = self.facts
            days = [d for d in (sat, sat + timedelta(days=1)) if facts.problem.start <= d <= facts.problem.end]
            values = [self.works(p, d) for d in days]
            variables = [v for v in values if not isinstance(v, int)]
            if 1 in [v for v in values if isinstance(v, int)]:
                self._weekends[key] = 1
            elif not variables:
                self._weekends[key] = 0
            else:
                wk = self.model.NewBoolVar(f"wk{p}_{sat}")
                self.model.AddMaxEquality(wk, variables)
                self._weekends[key] = wk
        return self._weekends[key]


def build(facts: Facts, halt: Halt | None = None) -> DraftModel:
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for s, eligible in enumerate(facts.eligible):
        for p in (*eligible, *(k.person_id for k in facts.kept_on.get(s, ()))):
            if (p, s) not in x:
                x[(p, s)] = m.NewBoolVar(f"x{p}_{s}")
                if p not in eligible:
                    m.Add(x[(p, s)] == 0)
    keep: dict[Kept, cp_model.IntVar] = {}
    for s, ks in facts.kept_on.items():
        for k in ks:
            keep[k] = m.NewBoolVar(f"keep{k.person_id}_{s}")
            m.AddImplication(keep[k], x[(k.person_id, s)])
    by_person: dict[int, list[int]] = defaultdict(list)
    by_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (p, s), var in x.items():
        by_person[p].append(s)
        by_slot[s].append(var)
    dm = DraftModel(facts, m, x, keep, dict(by_person), dict(by_slot), halt=halt or Halt())
    for holders in by_slot.values():
        m.AddAtMostOne(holders)
    for p, slots in by_person.items():
        _person_rules(dm, p, sorted(slots))
    _specialties(dm)
    return dm


def _person_rules(dm: DraftModel, p: int, slots: list[int]) -> None:
    facts, m, x = dm.facts, dm.model, dm.x
    mine = set(slots)
    per_day: dict[date, list[int]] = defaultdict(list)
    for s in slots:
        per_day[facts.slots[s].day].append(s)
    for day, on_day in per_day.items():
        if day in facts.booked_days.get(p, ()):
            for s in on_day:
                m.Add(x[(p, s)] == 0)
        m.AddAtMostOne(x[(p, s)] for s in on_day)
    for s in slots:
        hours = facts.hours_of(s, p)
        if any(k.hours and facts.clash(hours, k.hours) for k in facts.bookings.get(p, ())):
            m.Add(x[(p, s)] == 0)
        later: dict[date, list[int]] = defaultdict(list)
        for t in facts.near[s]:
            if t in mine and facts.clash(hours, facts.hours_of(t, p)):
                later[facts.slots[t].day].append(t)
        for group in later.values():
            m.Add(x[(p, s)] + sum(x[(p, t)] for t in group) <= 1)
    limits = facts.limits[p]
    start, end = facts.problem.start, facts.problem.end
    one = timedelta(days=1)
    if limits.nights is not None:
        m.Add(sum(dm.works(p, d) for d in facts.days) <= limits.nights)
    if limits.consecutive is not None:
        c = limits.consecutive
        for first in _span(start - c * one, end):
            window = [dm.works(p, first + i * one) for i in range(c + 1)]
            if not all(isinstance(w, int) for w in window):
                m.Add(sum(window) <= c)
    if limits.free_between:
        for d in _span(start - (limits.free_between + 1) * one, end):
            for j in range(2, limits.free_between + 1):
                bits = (dm.works(p, d), dm.works(p, d + one), dm.works(p, d + j * one))
                if not all(isinstance(b, int) for b in bits):
                    m.Add(bits[0] - bits[1] + bits[2] <= 1)
    if limits.weekends is not None:
        m.Add(sum(dm.weekend(p, sat) for sat in facts.weekends) <= limits.weekends)


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _specialties(dm: DraftModel) -> None:
    """Per date, the specialties on its roles form an allowed combination. Only the specialties of people who
    may hold each role are enumerated."""
    facts, m, x = dm.facts, dm.model, dm.x
    for day, slots in facts.on_day.items():
        codes: list[cp_model.IntVar] = []
        options: list[list[Specialty | None]] = []
        for s in slots:
            holders = [p for p in facts.readers if (p, s) in x]
            present = {facts.readers[p].specialty for p in holders}
            options.append([None, *(sp for sp in SPECIALTIES if sp in present)])
            code = m.NewIntVar(0, len(SPECIALTIES), f"sp{s}")
            m.Add(code == sum(_CODE[facts.readers[p].specialty] * x[(p, s)] for p in holders))
            codes.append(code)
        allowed = facts.allowed_combos(day, options)
        m.AddAllowedAssignments(codes, [[_CODE[v] for v in values] for values in allowed])
        # the same rule, as sums the LP sees: e.g. at most one BODY_ONLY reader a night
        for group, most in facts.most_of(day).items():
            held = [
                [x[(p, s)] for p in facts.readers if (p, s) in x and facts.readers[p].specialty in group] for s in slots
            ]
            if sum(1 for h in held if h) > most:
                m.Add(sum(sum(h) for h in held) <= most)


def term(dm: DraftModel, level: Level) -> Expr:
    """The level's expression, its variables and constraints added to the model the first time (so that the
    earlier levels search a smaller model)."""
    if level not in dm.terms:
        _BUILDERS[level](dm)
    return dm.terms[level]


def _kept(dm: DraftModel) -> None:
    dm.terms[Level.KEPT_DROPPED] = sum(1 - lit for lit in dm.keep.values())
    dm.best[Level.KEPT_DROPPED] = 0


def _unfilled(dm: DraftModel) -> None:
    m = dm.model
    open_slots = []
    for s, rd in enumerate(dm.facts.slots):
        if rd.mandatory:
            u = m.NewBoolVar(f"open{s}")
            m.Add(u + sum(dm.by_slot.get(s, [])) == 1)
            open_slots.append(u)
    unfilled = m.NewIntVar(0, len(open_slots), "unfilled")
    m.Add(unfilled == sum(open_slots))
    dm.terms[Level.UNFILLED], dm.best[Level.UNFILLED] = unfilled, 0


def _rotations(dm: DraftModel) -> None:
    """The targets held. No draft holds more than, per person, their targets' dates (less those another
    person's kept row holds, once kept rows are hard) or their nights limit."""
    facts = dm.facts
    targets = [(s, p) for s, p in facts.rotation_targets if (p, s) in dm.x]
    dates: dict[int, set[date]] = defaultdict(set)
    for s, p in targets:
        if not (dm.kept_hold and any(k.person_id != p for k in facts.kept_on.get(s, ()))):
            dates[p].add(facts.slots[s].day)
    limit = {p: facts.limits[p].nights for p in dates}
    dm.rotation_reach = {p: len(d) if limit[p] is None else min(len(d), limit[p]) for p, d in dates.items()}
    dm.terms[Level.ROTATIONS] = sum(dm.x[(p, s)] for s, p in targets)
    dm.best[Level.ROTATIONS] = sum(dm.rotation_reach.values())


def _fairness(dm: DraftModel) -> None:
    facts, m, x = dm.facts, dm.model, dm.x
    for category, (most, total) in FAIRNESS_LEVELS.items():
        inside = set(facts.slots_in(category))
        absolute: list[Expr] = []
        constants: list[int] = []
        bounds: list[int] = []
        for r in facts.active:
            held = [x[(r.id, s)] for s in dm.by_person.get(r.id, ()) if s in inside]
            constant = SHARE_UNIT * facts.held_before(r.id, category) - facts.shares[r.id][category]
            if not held:
                constants.append(abs(constant))
                continue
            bound = abs(constant) + SHARE_UNIT * len(held)
            dev = m.NewIntVar(-bound, bound, f"dev{r.id}_{category.name}")
            m.Add(dev == SHARE_UNIT * sum(held) + constant)
            a = m.NewIntVar(0, bound, f"abs{r.id}_{category.name}")
            m.AddAbsEquality(a, dev)
            # |dev| only takes its values at whole nights: the chord between the two counts around its
            # minimum lets the LP see that (without it the LP bound is the fractional optimum, far too low)
            k = -constant // SHARE_UNIT
            low, high = abs(SHARE_UNIT * k + constant), abs(SHARE_UNIT * (k + 1) + constant)
            m.Add(a >= low + (high - low) * (sum(held) - k))
            absolute.append(a)
            bounds.append(bound)
        if absolute:
            floor = max(constants, default=0)
            top = m.NewIntVar(min(floor, max(bounds)), max(floor, *bounds), f"max{category.name}")
            m.AddMaxEquality(top, [*absolute, *([floor] if constants else [])])
            dm.terms[most] = top
        else:
            dm.terms[most] = max(constants, default=0)
        dm.terms[total] = sum(absolute) + sum(constants)
        dm.best |= {most: max(constants, default=0), total: sum(constants)}


def count_bound(dm: DraftModel, level: Level, fixed: Mapping[Level, int], seconds: float = math.inf) -> int:
    """A bound on a fairness level, on requests or on spacing, from counts and each person's own rules, given the
    values of the levels `fixed` before it: below a minimised level, above requests.

    A person's deviation in a category depends only on k, the nights of the category they hold (`_count_model`).
    Over those counts, with the category's levels fixed before, a small model finds the least largest |dev| or the
    least sum. For requests and spacing, each person's own rules hold, with their count in every category kept within
    what the fixed levels allow (`_ranges`): requests, the most of their own requests' weight they can meet, summed
    (`_requests_ceiling`); spacing, the fewest pairs they can have for each count of weekend nights
    (`_fewest_pairs`), and the model of weekend counts finds the least total. Every bound stands even when a solve is
    cut short."""
    if level is Level.SPACING:
        return _spacing_floor(dm, fixed, time.monotonic() + seconds)
    if level is Level.REQUESTS:
        return _requests_ceiling(dm, fixed, time.monotonic() + seconds)
    return _fairness_floor(dm, level, fixed, None)[0]


def _fairness_floor(
    dm: DraftModel, level: Level, fixed: Mapping[Level, int], near: Assignment | None
) -> tuple[int, list[int] | None]:
    """`count_bound` of a fairness level, and per active person a count of the category at which the model of counts
    meets it, the closest to their count in the draft `near` (None: the floor is not proven, or no draft is near)."""
    category = _category(level)
    counted = _count_model(dm, category, fixed)
    if counted is None:
        return 0, None
    m, held, deviations = counted
    if level is FAIRNESS_LEVELS[category][0]:
        objective = m.NewIntVar(0, cp_model.INT32_MAX, "top")
        m.AddMaxEquality(objective, deviations)
    else:
        objective = sum(deviations)
    m.Minimize(objective)
    status, solver = _solve_counts(dm.halt, m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return 0, None
    floor = math.ceil(solver.BestObjectiveBound() - 1e-6)
    if status != cp_model.OPTIMAL or near is None:
        return floor, None
    m.Add(objective <= floor)
    slots = dm.facts.slots
    inside = set(dm.facts.slots_in(category))
    now = Counter(p for s, p in ((s, near.get((slots[s].day, slots[s].role))) for s in inside) if p is not None)
    moves = []
    for r, k in zip(dm.facts.active, held, strict=True):
        move = m.NewIntVar(0, len(inside), "")
        m.AddAbsEquality(move, k - now[r.id])
        moves.append(move)
    m.Minimize(sum(moves))
    status, solver = _solve_counts(dm.halt, m)
    if status != cp_model.OPTIMAL:
        return floor, None
    return floor, [solver.Value(k) for k in held]


def _category(level: Level) -> Category:
    return next(c for c, pair in FAIRNESS_LEVELS.items() if level in pair)


def _count_model(
    dm: DraftModel, category: Category, fixed: Mapping[Level, int]
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], list[cp_model.IntVar]] | None:
    """Per active person, k between a least and a most (`_counts`) and |dev| = |1000 k + constant|. The people
    together hold at most every role-date of the category and at least its mandatory ones less the unfilled level's
    value; the people of a group of specialties hold at most, date by date, the most of the date's roles an allowed
    combination gives their group (`Facts.most_of`). The category's levels in `fixed` hold. None: no count fits."""
    facts = dm.facts
    most, total = FAIRNESS_LEVELS[category]
    inside = facts.slots_in(category)
    key = (category, fixed.get(Level.ROTATIONS))
    if key not in dm._counts:
        dm._counts[key] = _counts(dm, category, fixed.get(Level.ROTATIONS))
    people = dm._counts[key]
    if not people or any(least > cap for _, least, cap in people):
        return None
    m = cp_model.CpModel()
    held = [m.NewIntVar(least, cap, f"k{n}") for n, (_, least, cap) in enumerate(people)]
    deviations = []
    for k, (constant, least, cap) in zip(held, people, strict=True):
        values = [abs(SHARE_UNIT * n + constant) for n in range(least, cap + 1)]
        a = m.NewIntVar(min(values), max(values), "")
        m.AddAbsEquality(a, SHARE_UNIT * k + constant)
        deviations.append(a)
    mandatory = sum(facts.slots[s].mandatory for s in inside)
    m.Add(sum(held) <= len(inside))
    m.Add(sum(held) >= mandatory - fixed.get(Level.UNFILLED, mandatory))
    days = {facts.slots[s].day for s in inside}
    for group in SPECIALTY_GROUPS:
        members = [k for r, k in zip(facts.active, held, strict=True) if r.specialty in group]
        if members:
            m.Add(sum(members) <= sum(facts.most_of(day)[group] for day in days))
    if most in fixed:
        for a in deviations:
            m.Add(a <= fixed[most])
    if total in fixed:
        m.Add(sum(deviations) <= fixed[total])
    return m, held, deviations


def _solve_counts(halt: Halt, model: cp_model.CpModel) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
    """A solve of a model of counts (tens of integers): one worker, `_COUNTS_S` at most."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = _COUNTS_S
    solver.parameters.num_workers = 1
    return halt.solve(solver, model, None), solver


def _least(halt: Halt, model: cp_model.CpModel) -> int | None:
    """The model's minimum, or a bound below it when the solve is cut short; None when it finds nothing."""
    status, solver = _solve_counts(halt, model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return math.ceil(solver.BestObjectiveBound() - 1e-6)


def _ranges(dm: DraftModel, category: Category, fixed: Mapping[Level, int]) -> list[range] | None:
    """Per active person, the counts of the category that the model of counts allows."""
    counted = _count_model(dm, category, fixed)
    if counted is None:
        return None
    m, held, _ = counted
    found = []
    for k in held:
        m.Minimize(k)
        least = _least(dm.halt, m)
        m.Minimize(-k)
        most = _least(dm.halt, m)
        if least is None or most is None or least > -most:
            return None
        found.append(range(least, -most + 1))
    return found


def _spacing_floor(dm: DraftModel, fixed: Mapping[Level, int], deadline: float) -> int:
    ranges = {category: dm.ranges.get(category) or _ranges(dm, category, fixed) for category in Category}
    counted = _count_model(dm, Category.WEEKENDS, fixed)
    if counted is None or any(r is None for r in ranges.values()):
        return 0
    m, held, _ = counted
    # requests left unmet, over everyone: at most the trivial best less the level's value
    slack = None
    if Level.REQUESTS in fixed:
        term(dm, Level.REQUESTS)
        slack = dm.best[Level.REQUESTS] - fixed[Level.REQUESTS]
    pairs, unmet = [], []
    for n, (r, k) in enumerate(zip(dm.facts.active, held, strict=True)):
        within = {category: found[n] for category, found in ranges.items()}
        fewest = _fewest_pairs(dm, r.id, fixed.get(Level.ROTATIONS), within, slack, deadline)
        forced = m.NewIntVar(0, max((f for _, _, f in fewest), default=0), "")
        left = m.NewIntVar(0, slack or 0, "")
        m.AddAllowedAssignments([k, left, forced], fewest)
        pairs.append(forced)
        unmet.append(left)
    m.Add(sum(unmet) <= (slack or 0))
    m.Minimize(sum(pairs))
    return _least(dm.halt, m) or 0


def _counts(dm: DraftModel, category: Category, rotations: int | None) -> list[tuple[int, int, int]]:
    """Per active person: the constant of their deviation, and the least and the most nights of the category they
    can hold. The least counts what they must hold in the category (`_must_hold`); the most counts dates and limits
    (`_cap`), then comes from a short solve of the person's own rules holding what they must (CP-SAT's bound, so it
    stands even when the solve is cut short): for everyone once kept rows are hard (a draft), else (a repair, whose
    5 s are its search's) for those who must hold rotation targets."""
    facts = dm.facts
    inside = set(facts.slots_in(category))
    found = []
    for r in facts.active:
        constant = SHARE_UNIT * facts.held_before(r.id, category) - facts.shares[r.id][category]
        must = _must_hold(dm, r.id, rotations)
        least, most = must.least(facts, inside), _cap(facts, r.id, inside)
        if most > 0 and (dm.kept_hold or must.need > 0):
            own = _own_model(facts, r.id, must)
            own.model.Maximize(sum(own.x[(r.id, s)] for s in own.by_person[r.id] if s in inside))
            _, bound = _own_solve(dm.halt, own.model)
            if bound is not None:
                most = min(most, math.floor(bound + 1e-6))
        found.append((constant, least, most))
    return found


@dataclass(frozen=True)
class Must:
    """What one person holds in every draft that meets the levels fixed so far: their kept role-dates (once kept
    rows are hard) and at least `need` of their rotation `targets`."""

    kept: frozenset[int]
    targets: frozenset[int]
    need: int

    def least(self, facts: Facts, inside: set[int]) -> int:
        """The fewest role-dates `inside` this makes the person hold."""
        outside = {facts.slots[s].day for s in self.targets} - {facts.slots[s].day for s in self.targets & inside}
        return max(len(self.kept & inside), self.need - len(outside))


def _must_hold(dm: DraftModel, pid: int, rotations: int | None) -> Must:
    """With the rotations level fixed at a value, each person holds at least that value less what the others can
    hold (`rotation_reach`) of their own targets."""
    facts = dm.facts
    kept = frozenset(s for s, ks in facts.kept_on.items() if dm.kept_hold and any(k.person_id == pid for k in ks))
    need = dm.rotation_reach.get(pid, 0) - (dm.best.get(Level.ROTATIONS, 0) - rotations) if rotations is not None else 0
    if need <= 0:
        return Must(kept, frozenset(), 0)
    return Must(kept, frozenset(s for s, p in facts.rotation_targets if p == pid and (p, s) in dm.x), need)


def _own_model(facts: Facts, pid: int, must: Must) -> DraftModel:
    """A model of one person's own rules (dates, limits, runs, rest), holding what they must."""
    slots = [s for s in range(len(facts.slots)) if pid in facts.eligible[s] or s in must.kept]
    m = cp_model.CpModel()
    x = {(pid, s): m.NewBoolVar(f"x{pid}_{s}") for s in slots}
    own = DraftModel(facts, m, x, {}, {pid: slots}, {s: [x[(pid, s)]] for s in slots})
    _person_rules(own, pid, slots)
    for s in must.kept:
        m.Add(x[(pid, s)] == 1)
    if must.need > 0:
        m.Add(sum(x[(pid, s)] for s in must.targets if (pid, s) in x) >= must.need)
    return own


def _own_solve(halt: Halt, model: cp_model.CpModel) -> tuple[cp_model.CpSolverStatus, float | None]:
    """The status of a short solve of a person's model, and CP-SAT's bound once it has found a solution."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = _OWN_RULES_S
    solver.parameters.num_workers = 1
    solver.parameters.cp_model_presolve = False
    status = halt.solve(solver, model, None)
    return status, solver.BestObjectiveBound() if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None


def _own_counts(own: DraftModel, pid: int, within: Mapping[Category, range]) -> dict[Category, cp_model.IntVar]:
    """In a person's own model, their count of each category, kept within its range."""
    counts = {}
    for category, allowed in within.items():
        inside = set(own.facts.slots_in(category))
        counts[category] = own.model.NewIntVar(allowed.start, allowed.stop - 1, category.name)
        own.model.Add(counts[category] == sum(own.x[(pid, s)] for s in own.by_person[pid] if s in inside))
    return counts


def _fewest_pairs(
    dm: DraftModel,
    pid: int,
    rotations: int | None,
    within: Mapping[Category, range],
    slack: int | None,
    deadline: float,
) -> list[tuple[int, int, int]]:
    """(k, u, pairs) for each count k of weekend nights within its range and each weight u of the person's requests
    left unmet up to `slack` (None: requests not fixed, u is 0): a bound on the person's spacing pairs, by their own
    rules, holding what they must and a count of each other category within its range. A (k, u) their rules do not
    allow is left out. Past the `deadline` each bound is the trivial 0."""
    facts = dm.facts
    own = _own_model(facts, pid, _must_hold(dm, pid, rotations))
    counts = _own_counts(own, pid, within)
    unmet = own.model.NewIntVar(0, slack or 0, "unmet")
    if slack is not None:
        met = term(own, Level.REQUESTS)
        own.model.Add(own.best[Level.REQUESTS] - met <= unmet)
    own.model.Minimize(sum(_pairs(own, pid)))

    def fewest(k: int, u: int) -> int | None:
        if time.monotonic() >= deadline:
            return 0
        exactly = own.model.Clone()
        exactly.Add(exactly.GetIntVarFromProtoIndex(counts[Category.WEEKENDS].Index()) == k)
        exactly.Add(exactly.GetIntVarFromProtoIndex(unmet.Index()) == u)
        status, bound = _own_solve(dm.halt, exactly)
        if status == cp_model.INFEASIBLE:
            return None
        return 0 if bound is None else max(0, math.ceil(bound - 1e-6))

    found = []
    most = slack or 0
    for k in within[Category.WEEKENDS]:
        strict, loose = fewest(k, 0), fewest(k, most)
        # fewer pairs for more requests left unmet: the bound for each weight between (none when they agree: the
        # true fewest pairs only fall as u grows)
        values = {u: fewest(k, u) for u in range(1, most)} | {0: strict, most: loose} if strict != loose else {}
        found += [(k, u, values.get(u, loose)) for u in range(most + 1) if values.get(u, loose) is not None]
    return found


def _cap(facts: Facts, pid: int, inside: Collection[int]) -> int:
    """The most nights of the role-dates `inside` the person could hold, counting dates and limits only."""
    days = {facts.slots[s].day for s in inside if pid in facts.eligible[s]} - facts.booked_days.get(pid, frozenset())
    limits = facts.limits[pid]
    cap = len(days)
    if limits.nights is not None:
        cap = min(cap, limits.nights)
    if limits.weekends is not None and all(d.weekday() >= 5 for d in days):  # then at most its best weekends
        per_weekend = [len(days & {sat, sat + timedelta(days=1)}) for sat in facts.weekends]
        cap = min(cap, sum(sorted(per_weekend, reverse=True)[: limits.weekends]))
    return cap


def _requests(dm: DraftModel) -> None:
    dm.terms[Level.REQUESTS], dm.best[Level.REQUESTS] = _met(dm, dm.facts.problem.requests)


def _met(dm: DraftModel, requests: Sequence[Request]) -> tuple[Expr, int]:
    """The weight of the `requests` met, and its most: every one met."""
    facts, m, x = dm.facts, dm.model, dm.x
    met: list[Expr] = []
    best = 0
    for q in requests:
        matches = [
            x[(q.person_id, s)]
            for s in dm.by_person.get(q.person_id, ())
            if q.matches(facts.slots[s].day, facts.slots[s].role)
        ]
        if not matches:
            met.append(0 if q.on else q.weight)
            best += 0 if q.on else q.weight
            continue
        hit = m.NewBoolVar("")
        if q.on:
            m.Add(hit <= sum(matches))
        else:
            for var in matches:
                m.AddImplication(var, hit.Not())
        met.append(q.weight * hit)
        best += q.weight
    return sum(met), best


def _requests_ceiling(dm: DraftModel, fixed: Mapping[Level, int], deadline: float) -> int:
    """An upper bound on the weight of requests met: per person, the most of their own requests' weight that their
    own rules allow, holding what they must, with their count of each category within what the fixed levels allow
    (`_ranges`). Past the `deadline`, a person's bound is every request of theirs met."""
    facts = dm.facts
    ranges = {category: dm.ranges.get(category) or _ranges(dm, category, fixed) for category in Category}
    if any(r is None for r in ranges.values()):
        term(dm, Level.REQUESTS)
        return dm.best[Level.REQUESTS]
    by_person: dict[int, list[Request]] = defaultdict(list)
    for q in facts.problem.requests:
        by_person[q.person_id].append(q)
    active = {r.id: n for n, r in enumerate(facts.active)}
    ceiling = 0
    for pid, requests in by_person.items():
        if pid not in active:
            ceiling += _met(dm, requests)[1]
            continue
        own = _own_model(facts, pid, _must_hold(dm, pid, fixed.get(Level.ROTATIONS)))
        _own_counts(own, pid, {category: found[active[pid]] for category, found in ranges.items()})
        met, best = _met(own, requests)
        if isinstance(met, int) or time.monotonic() >= deadline:
            ceiling += best
            continue
        own.model.Maximize(met)
        status, bound = _own_solve(dm.halt, own.model)
        if status != cp_model.INFEASIBLE:
            ceiling += best if bound is None else min(best, math.floor(bound + 1e-6))
    return ceiling


def _spacing(dm: DraftModel) -> None:
    dm.terms[Level.SPACING] = sum(sum(_pairs(dm, r.id)) for r in dm.facts.active)
    dm.best[Level.SPACING] = 0


def _pairs(dm: DraftModel, pid: int) -> list[Expr]:
    """The person's pairs of consecutive nights and of consecutive weekends worked, with the cuts that let the LP
    see the pairs their limits force."""
    facts, m = dm.facts, dm.model
    one = timedelta(days=1)
    nights = [dm.works(pid, d) for d in facts.days]
    consecutive = [_both(m, a, b) for a, b in itertools.pairwise(nights)]
    weekends = [_both(m, dm.weekend(pid, sat), dm.weekend(pid, sat + 7 * one)) for sat in facts.weekends[:-1]]
    # a weekend worked on both nights is a pair of consecutive nights
    for sat in facts.weekends:
        i = (sat - facts.problem.start).days
        if 0 <= i < len(nights) - 1:
            both = (nights[i], nights[i + 1], dm.weekend(pid, sat), consecutive[i])
            if not all(isinstance(b, int) for b in both):
                m.Add(both[0] + both[1] <= both[2] + both[3])
    # n nights in at most `runs` runs make at least n - runs consecutive pairs
    gap = facts.limits[pid].free_between or 0
    runs = (len(facts.days) - 1) // (gap + 1) + 1
    m.Add(sum(consecutive) >= sum(nights) - runs)
    return consecutive + weekends


_BUILDERS = {
    Level.KEPT_DROPPED: _kept,
    Level.UNFILLED: _unfilled,
    Level.ROTATIONS: _rotations,
    Level.REQUESTS: _requests,
    Level.SPACING: _spacing,
} | dict.fromkeys([level for pair in FAIRNESS_LEVELS.values() for level in pair], _fairness)


def _both(m: cp_model.CpModel, a: Bit, b: Bit) -> Expr:
    """At least a AND b (the spacing level is minimised, so it is exactly that at an optimum)."""
    if isinstance(a, int):
        return b if a else 0
    if isinstance(b, int):
        return a if b else 0
    z = m.NewBoolVar("")
    m.Add(z >= a + b - 1)
    return z


# the subsolvers on 2 workers, measured on the benchmark's instances: max_lp and core prove the unfilled level
# and the fairness sums in seconds where CP-SAT's default pair stops at a wide gap, and they reach a largest
# deviation's bound from counts sooner than default_lp and core (the month's nights: in 2 s, where default_lp and
# core had not in 8 s)
TWO_WORKERS = ("max_lp", "core")
# shares of the time left, by how hard the level is to prove (measured on the benchmark's instances)
_SHARE = {Level.KEPT_DROPPED: 2, Level.UNFILLED: 6} | {
    level: share for most, total in FAIRNESS_LEVELS.values() for level, share in ((most, 2), (total, 3))
}


_OWN_RULES_S = 0.5  # the most a person can hold by their own rules: a short solve, its bound is enough
# spacing, once there are at least three groups of people: the whole model is searched for this part of the level's
# time, then a few people at a time (on the benchmark's quarter, 40 people, groups of 7 reached 56 pairs in about
# 45 s where the whole model's search was at 58 after 60; in its month, 14 people, the whole model's search proves
# the optimum in about 14 s)
_SPACING_WHOLE = 0.25
_PEOPLE, _PEOPLE_S = 7, 2.5
_COUNTS_S = 5.0  # the model of counts: tens of integers, solved in milliseconds
# with less time left than this, a level skips what only pays in a long search (counts pinned, the first try at the
# counts, the bounds of requests and spacing from each person's rules, spacing's search by people): a repair (5 s)
# would spend more on them than on its search
_ROOMY_S = 10.0
_FLOOR_SHARE = 0.25  # of the time left, the most a level's bound from counts may take (spacing's: about 6 s)


def _bound(level: Level, bound: float, best: int) -> int:
    """CP-SAT's bound as a whole value, or the level's trivial best where that is better: CP-SAT's can be weaker
    (the presolved objective loses its domain)."""
    return min(math.floor(bound + 1e-6), best) if level.maximise else max(math.ceil(bound - 1e-6), best)


class StopAt(cp_model.CpSolverSolutionCallback):
    """At each solution: tells `report` (when given) its value and CP-SAT's bound, and stops the search at a
    solution as good as the trivial best (nothing better exists)."""

    def __init__(self, best: int, maximise: bool, report: Callable[[int, float], None] | None = None) -> None:
        super().__init__()
        self.best, self.maximise, self.report = best, maximise, report

    def on_solution_callback(self) -> None:
        value = round(self.ObjectiveValue())
        if self.report is not None:
            self.report(value, self.BestObjectiveBound())
        if (value >= self.best) if self.maximise else (value <= self.best):
            self.StopSearch()


def _reporter(
    at: Progress, best: int, deadline: float, progress: ProgressReport | None
) -> Callable[[int, float], None] | None:
    """What tells `progress` of each solution of the level `at` describes: its value, the bound, the time left."""
    if progress is None:
        return None

    def report(value: int, bound: float) -> None:
        whole = _bound(at.level, bound, best)
        progress(replace(at, value=value, bound=whole, seconds_left=max(0.0, deadline - time.monotonic())))

    return report


@dataclass(frozen=True)
class Solved:
    assignment: dict[tuple[date, str], int] | None  # None: no solution within the time
    levels: tuple[LevelReport, ...]


def solve_levels(
    dm: DraftModel,
    order: Sequence[Level],
    time_limit: float,
    workers: int,
    hint: Assignment | None = None,
    progress: ProgressReport | None = None,
) -> Solved:
    """Each level in turn, with its share of the time left (levels that finish early leave theirs to the next),
    fixed at its value before the next. `progress` hears of each level as it starts and of each solution found."""
    deadline = time.monotonic() + time_limit
    current: dict[tuple[date, str], int] | None = None
    reports: list[LevelReport] = []
    fixed: dict[Level, int] = {}
    for n, level in enumerate(order):
        dm.halt.check()
        began = time.monotonic()
        expr = term(dm, level)
        if current is not None or hint is not None:
            dm.hint(current if current is not None else hint, workers, max(0.1, min(10.0, deadline - began)))
        if isinstance(expr, int):
            reports.append(LevelReport(level, expr, expr, True, 0.0))
            continue
        at = Progress(level, n + 1, len(order), None, None, max(0.0, deadline - time.monotonic()))
        if progress is not None:
            progress(at)
        if level.maximise:
            dm.model.Maximize(expr)
        else:
            dm.model.Minimize(expr)
        best, counts = dm.best[level], None
        roomy = deadline - time.monotonic() >= _ROOMY_S
        if level in (Level.REQUESTS, Level.SPACING) and roomy:
            found = count_bound(dm, level, fixed, (deadline - time.monotonic()) * _FLOOR_SHARE)
            best = min(best, found) if level.maximise else max(best, found)
        elif level.in_share_units:
            floor, counts = _fairness_floor(dm, level, fixed, current if roomy else None)
            best = max(best, floor)
        shares = [_SHARE.get(later, 1) for later in order[n:]]
        share = shares[0] / sum(shares)
        report = _reporter(at, best, deadline, progress)
        status, solver = cp_model.UNKNOWN, None
        if counts is not None:
            # first, half the time for a draft with counts at which the bound is met, the closest to the draft so
            # far: such a draft ends the level, and with each person's count given the search is close to a matching
            at_bound = dm.model.Clone()
            _within(at_bound, dm, _category(level), [range(k, k + 1) for k in counts])
            stop = StopAt(best, level.maximise, report)
            status, solver = _solve(dm, at_bound, (deadline - time.monotonic()) * share / 2, workers, stop)
        searched = _SPACING_WHOLE if level is Level.SPACING and roomy and len(dm.facts.active) >= 3 * _PEOPLE else 1.0
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            stop = StopAt(best, level.maximise, report)
            status, solver = _solve(dm, dm.model, (deadline - time.monotonic()) * share * searched, workers, stop)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            current = dm.assignment(solver)
            value = round(solver.ObjectiveValue())
            bound_value = _bound(level, solver.BestObjectiveBound(), best)
            proven = status == cp_model.OPTIMAL or value == bound_value
        elif current is None:
            return Solved(None, tuple(reports))
        else:  # nothing found in the time: the draft so far stands, against the level's own bound
            value, bound_value = dm.facts.score(current)[level], best
            proven = value == bound_value
        if not proven and searched < 1.0:
            left = (deadline - time.monotonic()) * share
            current, value = _improve_by_people(dm, level, current, bound_value, left, workers, report)
            proven = value == bound_value
        reports.append(LevelReport(level, value, bound_value, proven, time.monotonic() - began))
        fixed[level] = value
        dm.model.Add(expr >= value if level.maximise else expr <= value)
        if deadline - time.monotonic() >= _ROOMY_S:
            _pin_counts(dm, level, fixed)
    return Solved(current, tuple(reports))


def _improve_by_people(
    dm: DraftModel,
    level: Level,
    current: Assignment,
    best: int,
    seconds: float,
    workers: int,
    report: Callable[[int, float], None] | None,
) -> tuple[dict[tuple[date, str], int], int]:
    """A large neighbourhood search over people, for a minimised level: again and again, every person but a few
    drawn at random keeps their nights, and the few are solved again among themselves (the levels fixed before
    still hold), until the level's bound or the time. `report` hears of each better draft. Returns the best draft
    found and its value."""
    facts = dm.facts
    rng = random.Random(0)
    people = [r.id for r in facts.active]
    draft, value = dict(current), facts.score(current)[level]
    deadline = time.monotonic() + seconds
    while value > best and deadline - time.monotonic() > _PEOPLE_S / 2:
        group = set(rng.sample(people, min(_PEOPLE, len(people))))
        part = dm.model.Clone()
        part.ClearHints()
        part.Minimize(term(dm, level))
        for (p, s), var in dm.x.items():
            held = int(draft.get((facts.slots[s].day, facts.slots[s].role)) == p)
            if p in group:
                part.AddHint(var, held)
            else:
                domain = part.Proto().variables[var.Index()].domain
                domain[0], domain[1] = held, held
        seconds_left = min(_PEOPLE_S, deadline - time.monotonic())
        status, solver = _solve(dm, part, seconds_left, workers, StopAt(best, level.maximise))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and round(solver.ObjectiveValue()) < value:
            draft, value = dm.assignment(solver), round(solver.ObjectiveValue())
            if report is not None:
                report(value, best)
    return draft, value


def _solve(
    dm: DraftModel, model: cp_model.CpModel, seconds: float, workers: int, stop: "StopAt"
) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, seconds)
    solver.parameters.num_workers = workers
    if workers == 2:
        solver.parameters.subsolvers.extend(TWO_WORKERS)
    return dm.halt.solve(solver, model, stop), solver


def _pin_counts(dm: DraftModel, level: Level, fixed: Mapping[Level, int]) -> None:
    """Once a category's sum of deviations is fixed: each person's count of the category within what the model of
    counts allows (`_ranges`), added to the model. Implied by the levels fixed, they let the later levels' search
    see it at once."""
    if not level.in_share_units or level is FAIRNESS_LEVELS[_category(level)][0]:
        return
    category = _category(level)
    found = _ranges(dm, category, fixed)
    if found is None:
        return
    dm.ranges[category] = found
    _within(dm.model, dm, category, found)


def _within(model: cp_model.CpModel, dm: DraftModel, category: Category, ranges: Sequence[range]) -> None:
    """Each active person's count of the category within their range, in `model` (the draft's, or a copy)."""
    inside = set(dm.facts.slots_in(category))
    for r, allowed in zip(dm.facts.active, ranges, strict=True):
        held = [dm.x[(r.id, s)] for s in dm.by_person.get(r.id, ()) if s in inside]
        if held:
            model.AddLinearConstraint(sum(held), allowed.start, allowed.stop - 1)
