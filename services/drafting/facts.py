"""The rules of a draft worked out once per problem, shared by the solver, the greedy baseline, the checks and
the explanations, so that all of them judge a draft alike. Pure, no I/O.

- Who could hold a role-date (and so earns a fair share of it): active that date, not on time off, and of a
  specialty that `night_ok` allows on that role in some combination of the date's other roles (each unfilled
  or held by someone of any specialty). Judged with the other roles unfilled, a reader whom the template allows
  on a role only beside a partner would never be drafted there nor earn a share of it.
- Two shifts of one person clash when their hours overlap (touching ends do not) or when one ends in the
  morning (05:00-12:00 local, both included) and the other starts less than the rest period after that end
  (shared/kernel/rest.py says the same for coverage).
- A night is a schedule date on which the person holds a role other than `DAY`; limits count nights, kept
  bookings around the period included for the runs of nights.
- A weekend is the Saturday-Sunday pair of a Saturday from the day before the period to its end; it is
  worked when the person holds a night in the period on either day.
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import combinations, product

from services.drafting.model import (
    FAIRNESS_LEVELS,
    SHARE_UNIT,
    Assignment,
    Category,
    FairShare,
    Kept,
    Level,
    Limits,
    PersonFairness,
    Problem,
    Reason,
    RoleDate,
)
from shared.kernel.roles import DAY
from shared.kernel.states import Specialty

MORNING_START, MORNING_END = time(5), time(12)
SPECIALTIES = (Specialty.BODY_ONLY, Specialty.NEURO_ONLY, Specialty.BOTH)
SPECIALTY_GROUPS = tuple(frozenset(group) for n in range(1, len(SPECIALTIES)) for group in combinations(SPECIALTIES, n))
Hours = tuple[tuple[datetime, datetime], ...]


def dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def hours_text(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split()  # noqa: SIM905
_NUMBERS = "no one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905


def ordinal(n: int) -> str:
    if 1 <= n <= len(_ORDINALS):
        return _ORDINALS[n - 1]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def number(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def names_text(names: Sequence[str]) -> str:
    """`A`, `A and B`, `A, B and C`."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def reason(rule: str, text: str, plural: str | None = None) -> Reason:
    return Reason(rule, text, text if plural is None else plural)


def fair_limits(limits: Limits, fte: float) -> Limits:
    """Nights per period scaled by FTE, rounded half up."""
    if limits.nights is None:
        return limits
    return Limits(int(limits.nights * fte + 0.5), limits.consecutive, limits.free_between, limits.weekends)


class Facts:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._first_of_kind: dict[Hashable, date] = {}
        self._possible_of: dict[tuple[Hashable, tuple[str, ...]], frozenset[tuple[int, Specialty]]] = {}
        self._most_of: dict[tuple[Hashable, tuple[str, ...]], dict[frozenset[Specialty], int]] = {}
        self.tz, self.rest = problem.tz, problem.rest
        self.days = dates(problem.start, problem.end)
        in_period = [rd for rd in problem.role_dates if problem.start <= rd.day <= problem.end]
        self.slots: tuple[RoleDate, ...] = tuple(sorted(in_period, key=lambda rd: rd.day))
        self.index = {(rd.day, rd.role): i for i, rd in enumerate(self.slots)}
        self.on_day: dict[date, list[int]] = defaultdict(list)
        for i, rd in enumerate(self.slots):
            self.on_day[rd.day].append(i)
        self.readers = {r.id: r for r in problem.readers}
        self.active = tuple(
            sorted(
                (r for r in problem.readers if any(r.active_on(d) for d in self.days)),
                key=lambda r: (r.name.casefold(), r.id),
            )
        )
        self.off: dict[int, set[date]] = defaultdict(set)
        for t in problem.time_off:
            self.off[t.person_id] |= t.days
        self.limits = {
            r.id: fair_limits(problem.person_limits.get(r.id, Limits()).over(problem.limits), r.fte)
            for r in problem.readers
        }
        # kept rows on a role-date of the period hold it; the others are bookings of their person
        self.kept_on: dict[int, list[Kept]] = defaultdict(list)
        self.bookings: dict[int, list[Kept]] = defaultdict(list)
        for k in problem.kept:
            if (k.day, k.role) in self.index:
                self.kept_on[self.index[(k.day, k.role)]].append(k)
            else:
                self.bookings[k.person_id].append(k)
        self.booked_nights = {pid: frozenset(k.day for k in ks if k.role != DAY) for pid, ks in self.bookings.items()}
        self.booked_days = {pid: frozenset(k.day for k in ks) for pid, ks in self.bookings.items()}
        self.custom_hours = {
            (self.index[(k.day, k.role)], k.person_id): k.hours for ks in self.kept_on.values() for k in ks if k.hours
        }
        self.eligible: list[tuple[int, ...]] = [
            tuple(
                r.id
                for r in self.active
                if r.active_on(rd.day) and rd.day not in self.off[r.id] and self.could(i, r.specialty)
            )
            for i, rd in enumerate(self.slots)
        ]
        self.near: list[list[int]] = [[] for _ in self.slots]  # later slots whose hours may clash
        self.reach = 2 + self.rest.days  # in days: farther apart, two shifts neither overlap nor cut a rest
        for i, a in enumerate(self.slots):
            for j in range(i + 1, len(self.slots)):
                b = self.slots[j]
                if (b.day - a.day).days > self.reach:
                    break
                if b.day != a.day:
                    self.near[i].append(j)
        self.shares = self._shares()
        self.rotation_targets = self._rotation_targets()
        self.weekends = [d for d in dates(problem.start - timedelta(days=1), problem.end) if d.weekday() == 5]

    # --- specialty -------------------------------------------------------------------------------------

    def night_ok(self, day: date, combo: tuple[tuple[str, Specialty | None], ...]) -> bool:
        """`combo`: every role of the date with the specialty on it (None: unfilled). Answers are kept per kind of
        night (`Problem.night_kind`), judged on the first date of its kind asked about."""
        kind = self.problem.night_kind(day)
        self._first_of_kind.setdefault(kind, day)
        return self._night_ok(kind, combo)

    @cache  # noqa: B019 - one Facts per problem, kept for the run
    def _night_ok(self, kind: Hashable, combo: tuple[tuple[str, Specialty | None], ...]) -> bool:
        return self.problem.night_ok(self._first_of_kind[kind], dict(combo))

    def combo(self, day: date, on: Mapping[str, Specialty | None]) -> tuple[tuple[str, Specialty | None], ...]:
        return tuple((self.slots[i].role, on.get(self.slots[i].role)) for i in self.on_day[day])

    def _possible(self, day: date) -> frozenset[tuple[int, Specialty]]:
        """(position among the date's roles, specialty) pairs that some allowed combination holds, kept per kind of
        night and roles."""
        key = (self.problem.night_kind(day), tuple(self.slots[i].role for i in self.on_day[day]))
        if key not in self._possible_of:
            every = [[None, *SPECIALTIES]] * len(self.on_day[day])
            self._possible_of[key] = frozenset(
                (n, v) for values in self.allowed_combos(day, every) for n, v in enumerate(values) if v
            )
        return self._possible_of[key]

    def most_of(self, day: date) -> dict[frozenset[Specialty], int]:
        """Per group of specialties (every non-empty one but all of them): the most of the date's roles that people
        of the group hold together in an allowed combination. Kept per kind of night and roles."""
        key = (self.problem.night_kind(day), tuple(self.slots[i].role for i in self.on_day[day]))
        if key not in self._most_of:
            every = [[None, *SPECIALTIES]] * len(self.on_day[day])
            combos = self.allowed_combos(day, every)
            self._most_of[key] = {
                group: max((sum(v in group for v in values) for values in combos), default=0)
                for group in SPECIALTY_GROUPS
            }
        return self._most_of[key]

    def could(self, slot: int, specialty: Specialty) -> bool:
        """Some combination of the date's other roles lets `specialty` hold `slot`."""
        rd = self.slots[slot]
        return (self.on_day[rd.day].index(slot), specialty) in self._possible(rd.day)

    def allowed_combos(self, day: date, options: Sequence[Sequence[Specialty | None]]) -> list[tuple]:
        """The allowed specialty tuples of the date's roles (in `on_day` order), each role's among `options`."""
        roles = [self.slots[i].role for i in self.on_day[day]]
        return [values for values in product(*options) if self.night_ok(day, tuple(zip(roles, values, strict=True)))]

    # --- hours -----------------------------------------------------------------------------------------

    def hours_of(self, slot: int, pid: int) -> Hours:
        return self.custom_hours.get((slot, pid), self.slots[slot].hours)

    def morning_end(self, end: datetime) -> bool:
        return MORNING_START <= end.astimezone(self.tz).time() <= MORNING_END

    def clash(self, a: Hours, b: Hours) -> bool:
        if any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b):
            return True
        a_start, a_end, b_start, b_end = a[0][0], a[-1][1], b[0][0], b[-1][1]
        return (self.morning_end(a_end) and a_end <= b_start < a_end + self.rest) or (
            self.morning_end(b_end) and b_end <= a_start < b_end + self.rest
        )

    def clash_reason(self, hours: Hours, other: Hours, what: str) -> Reason | None:
        """Why a shift at `hours` cannot sit beside `other` (described as `what`); None when it can."""
        if any(s1 < e2 and s2 < e1 for s1, e1 in hours for s2, e2 in other):
            return reason(
                "overlap", f"is booked at overlapping hours: {what}", f"are booked at overlapping hours: {what}"
            )
        start, end, o_start, o_end = hours[0][0], hours[-1][1], other[0][0], other[-1][1]
        if self.morning_end(o_end) and o_end <= start < o_end + self.rest:
            return reason(
                "rest",
                f"would get {hours_text(start - o_end)} of rest after {what}, which ends at "
                f"{o_end.astimezone(self.tz):%H:%M} (rest {hours_text(self.rest)})",
            )
        if self.morning_end(end) and end <= o_start < end + self.rest:
            return reason(
                "rest",
                f"would start {what} {hours_text(o_start - end)} after this shift ends at "
                f"{end.astimezone(self.tz):%H:%M} (rest {hours_text(self.rest)})",
            )
        return None

    def shift_text(self, slot: int) -> str:
        rd = self.slots[slot]
        return f"{rd.role} on {rd.day.isoformat()}"

    # --- fairness --------------------------------------------------------------------------------------

    def categories(self, day: date) -> tuple[Category, ...]:
        found = [Category.NIGHTS]
        if day.weekday() >= 5:
            found.append(Category.WEEKENDS)
        if day in self.problem.holidays:
            found.append(Category.HOLIDAYS)
        return tuple(found)

    def _shares(self) -> dict[int, dict[Category, int]]:
        """Per active person and category: the fair share over history and period, in thousandths of a night.
        Each role-date of the period is shared among those who could hold it, in proportion to FTE."""
        earned: dict[int, dict[Category, float]] = {r.id: defaultdict(float) for r in self.active}
        for i, rd in enumerate(self.slots):
            total = sum(self.readers[pid].fte for pid in self.eligible[i])
            if total <= 0:
                continue
            for pid in self.eligible[i]:
                for category in self.categories(rd.day):
                    earned[pid][category] += self.readers[pid].fte / total
        result = {}
        for r in self.active:
            history = self.problem.history.get(r.id)
            result[r.id] = {
                c: round(SHARE_UNIT * (earned[r.id][c] + (history.share.get(c, 0.0) if history else 0.0)))
                for c in Category
            }
        return result

    def held_before(self, pid: int, category: Category) -> int:
        history = self.problem.history.get(pid)
        return history.held.get(category, 0) if history else 0

    def slots_in(self, category: Category) -> list[int]:
        return [i for i, rd in enumerate(self.slots) if category in self.categories(rd.day)]

    # --- rotations -------------------------------------------------------------------------------------

    def _rotation_targets(self) -> list[tuple[int, int]]:
        """(slot, person) for every rotation date in the period, an exception replacing the rotation's person
        that date (an exception to nobody suspends it)."""
        exceptions = {(e.day, e.role): e.person_id for e in self.problem.exceptions}
        targets: list[tuple[int, int]] = []
        for i, rd in enumerate(self.slots):
            key = (rd.day, rd.role)
            if key in exceptions:
                if exceptions[key] is not None:
                    targets.append((i, exceptions[key]))
                continue
            targets.extend(
                (i, rot.person_id)
                for rot in self.problem.rotations
                if rot.role == rd.role and rot.weekday == rd.day.weekday() and rot.start <= rd.day <= rot.end
            )
        return targets

    # --- judging a draft -------------------------------------------------------------------------------

    def nights_of(self, pid: int, held: Iterable[int]) -> set[date]:
        return {self.slots[i].day for i in held if self.slots[i].role != DAY} | self.booked_nights.get(pid, set())

    def limit_reasons(self, pid: int, nights: set[date], day: date) -> list[Reason]:
        """What adding a night on `day` to `nights` (the person's, without it) would break."""
        limits = self.limits[pid]
        found: list[Reason] = []
        start, end = self.problem.start, self.problem.end
        if limits.nights is not None:
            count = sum(start <= d <= end for d in nights) + 1
            if count > limits.nights:
                found.append(
                    reason("limit", f"would work a {ordinal(count)} night in the period (limit {limits.nights})")
                )
        if limits.consecutive is not None:
            run = 1
            while day - timedelta(days=run) in nights:
                run += 1
            after = 1
            while day + timedelta(days=after) in nights:
                after += 1
            run += after - 1
            if run > limits.consecutive:
                found.append(
                    reason("limit", f"would work a {ordinal(run)} night in a row (limit {limits.consecutive})")
                )
        if limits.free_between:
            before = [
                d for d in nights if d < day - timedelta(days=1) and day - d <= timedelta(days=limits.free_between)
            ]
            after_ = [
                d for d in nights if d > day + timedelta(days=1) and d - day <= timedelta(days=limits.free_between)
            ]
            if before and day - timedelta(days=1) not in nights:
                gap = (day - max(before)).days - 1
                found.append(
                    reason(
                        "limit",
                        f"would have {number(gap)} free day{'s' * (gap != 1)} after nights ending "
                        f"{max(before).isoformat()} (at least {limits.free_between})",
                    )
                )
            if after_ and day + timedelta(days=1) not in nights:
                gap = (min(after_) - day).days - 1
                found.append(
                    reason(
                        "limit",
                        f"would have {number(gap)} free day{'s' * (gap != 1)} before nights starting "
                        f"{min(after_).isoformat()} (at least {limits.free_between})",
                    )
                )
        if limits.weekends is not None and day.weekday() >= 5 and start <= day <= end:
            sat = day - timedelta(days=day.weekday() - 5)
            worked = self.weekends_worked(nights)
            if sat not in worked and len(worked) + 1 > limits.weekends:
                found.append(
                    reason("limit", f"would work a {ordinal(len(worked) + 1)} weekend (limit {limits.weekends})")
                )
        return found

    def weekends_worked(self, nights: set[date]) -> set[date]:
        start, end = self.problem.start, self.problem.end
        one = timedelta(days=1)
        return {
            sat
            for sat in self.weekends
            if (start <= sat <= end and sat in nights) or (sat + one <= end and sat + one in nights)
        }

    def reasons(self, pid: int, slot: int, held: Mapping[int, set[int]], at: Mapping[int, int]) -> list[Reason]:
        """Every hard rule that keeps `pid` off `slot`, given who holds what (`held`: person -> slots;
        `at`: slot -> person; the slot itself is ignored in both)."""
        rd, person = self.slots[slot], self.readers[pid]
        if not person.active_on(rd.day):
            return [reason("inactive", "is not active that date", "are not active that date")]
        found: list[Reason] = []
        if rd.day in self.off[pid]:
            found.append(reason("time off", "is on time off", "are on time off"))
        if not self.could(slot, person.specialty):
            found.append(
                reason("specialty", f"may not hold it as {person.specialty}, whoever holds the night's other roles")
            )
        mine = [i for i in held.get(pid, ()) if i != slot]
        for i in mine:
            if self.slots[i].day == rd.day:
                role = self.slots[i].role
                found.append(reason("same date", f"holds {role} that night", f"hold {role} that night"))
        for k in self.bookings.get(pid, ()):
            if k.day == rd.day:
                found.append(reason("same date", f"holds {k.role} that date", f"hold {k.role} that date"))
        if not any(r.rule == "specialty" for r in found):
            on = {
                self.slots[i].role: self.readers[at[i]].specialty for i in self.on_day[rd.day] if i in at and i != slot
            }
            on[rd.role] = person.specialty
            if not self.night_ok(rd.day, self.combo(rd.day, on)):
                others = [
                    f"{self.readers[at[i]].name} ({self.readers[at[i]].specialty}) on {self.slots[i].role}"
                    for i in self.on_day[rd.day]
                    if i in at and i != slot
                ]
                beside = f"beside {names_text(others)}" if others else "with the night's other roles open"
                found.append(
                    reason(
                        "variant",
                        f"as {person.specialty} would leave a worklist nobody may read {beside} under the night's "
                        "variant",
                    )
                )
        hours = self.hours_of(slot, pid)
        for i in mine:
            if self.slots[i].day != rd.day and abs((self.slots[i].day - rd.day).days) <= self.reach:
                r = self.clash_reason(hours, self.hours_of(i, pid), self.shift_text(i))
                if r is not None:
                    found.append(r)
        for k in self.bookings.get(pid, ()):
            if k.hours and k.day != rd.day:
                r = self.clash_reason(hours, k.hours, f"{k.role} on {k.day.isoformat()}")
                if r is not None:
                    found.append(r)
        if rd.role != DAY:
            found.extend(self.limit_reasons(pid, self.nights_of(pid, mine), rd.day))
        return found

    def holdings(self, assignment: Assignment) -> tuple[dict[int, set[int]], dict[int, int]]:
        held: dict[int, set[int]] = defaultdict(set)
        at: dict[int, int] = {}
        for key, pid in assignment.items():
            held[pid].add(self.index[key])
            at[self.index[key]] = pid
        return held, at

    def violations(self, assignment: Assignment) -> list[str]:
        """Every hard rule the draft breaks, in words (empty for a correct draft)."""
        found = [
            f"{day.isoformat()} {role} is no role to fill" for day, role in assignment if (day, role) not in self.index
        ]
        found += [f"person {pid} is unknown" for pid in set(assignment.values()) if pid not in self.readers]
        if found:
            return found
        held, at = self.holdings(assignment)
        for slot, pid in sorted(at.items()):
            for r in self.reasons(pid, slot, held, at):
                found.append(f"{self.readers[pid].name} on {self.shift_text(slot)} {r.text}")
        for slot, ks in self.kept_on.items():
            found += [
                f"kept {self.readers[k.person_id].name} on {self.shift_text(slot)} is dropped"
                for k in ks
                if at.get(slot) != k.person_id
            ]
        return found

    # --- the levels ------------------------------------------------------------------------------------

    def deviations(self, held: Mapping[int, set[int]], category: Category) -> list[int]:
        inside = set(self.slots_in(category))
        return [
            SHARE_UNIT * (self.held_before(r.id, category) + len(held.get(r.id, set()) & inside))
            - self.shares[r.id][category]
            for r in self.active
        ]

    def fairness(self, assignment: Assignment) -> tuple[PersonFairness, ...]:
        """Per person active in the period and category: nights held before and in the period, and the share."""
        held, _ = self.holdings(assignment)
        inside = {c: set(self.slots_in(c)) for c in Category}
        return tuple(
            PersonFairness(r.id, r.name, r.fte, tuple(self._fair_share(r.id, c, held, inside[c]) for c in Category))
            for r in self.active
        )

    def _fair_share(self, pid: int, category: Category, held: Mapping[int, set[int]], inside: set[int]) -> FairShare:
        return FairShare(category, self.held_before(pid, category), len(held.get(pid, set()) & inside),
                         self.shares[pid][category])  # fmt: skip

    def request_met(self, held: Mapping[int, set[int]]) -> int:
        total = 0
        for q in self.problem.requests:
            hit = any(q.matches(self.slots[i].day, self.slots[i].role) for i in held.get(q.person_id, ()))
            total += q.weight if hit == q.on else 0
        return total

    def spacing(self, held: Mapping[int, set[int]]) -> int:
        total = 0
        one = timedelta(days=1)
        for r in self.active:
            nights = {
                d for d in self.nights_of(r.id, held.get(r.id, ())) if self.problem.start <= d <= self.problem.end
            }
            total += sum(d + one in nights for d in nights)
            worked = self.weekends_worked(nights)
            total += sum(sat + 7 * one in worked for sat in worked)
        return total

    def score(self, assignment: Assignment) -> dict[Level, int]:
        held, at = self.holdings(assignment)
        values = {
            Level.KEPT_DROPPED: sum(at.get(s) != k.person_id for s, ks in self.kept_on.items() for k in ks),
            Level.UNFILLED: sum(rd.mandatory and i not in at for i, rd in enumerate(self.slots)),
            Level.ROTATIONS: sum(at.get(s) == pid for s, pid in self.rotation_targets),
            Level.REQUESTS: self.request_met(held),
            Level.SPACING: self.spacing(held),
        }
        for category, (most, total) in FAIRNESS_LEVELS.items():
            devs = [abs(d) for d in self.deviations(held, category)]
            values[most], values[total] = max(devs, default=0), sum(devs)
        return values


def lexicographic(values: Mapping[Level, int], order: Sequence[Level]) -> tuple[int, ...]:
    """A key that sorts better drafts first."""
    return tuple(-values[level] if level.maximise else values[level] for level in order)
