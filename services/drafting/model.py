"""What a draft is made from and what it gives back: plain frozen dataclasses, no I/O.

The caller (the drafting worker, a test, the benchmark) turns the version's template, roster and settings
into a `Problem`:

- `role_dates`: for each schedule date of the period, every role but `DAY` that a window applying to that
  date marks (template layout: one person each), with the role's hours that date as tz-aware instants (the
  group's configured hours, else the span of the windows marking it). The flat layout (shift instances
  needing `DesiredCoverage` distinct people under a specialty constraint) is left for later: a
  `RoleDate` holds one person.
- `night_ok(day, {role: specialty or None})`: whether people of those specialties on that date's roles
  (None: the role unfilled) leave no `SPECIALTY_MISMATCH` cell. The caller derives it from the coverage
  rules themselves; the engine only enumerates it, once per kind of night when `night_kind` says which dates
  share the answers (the template's day type), else once per date.
- `kept`: assignments that stay (Amion's, manual, overrides, approved draft rows). Those on a role-date of
  the period hold it; the others (before or after the period, or a role that is not drafted such as `DAY`)
  are bookings: they take the person's date and count for overlap, rest and the runs of nights.
- `history`: per person, nights held and fair shares earned over the previous 12 months, per category.
"""

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from shared.kernel.states import Specialty

Interval = tuple[datetime, datetime]  # tz-aware, half-open: touching intervals do not overlap
NightOk = Callable[[date, Mapping[str, Specialty | None]], bool]
NightKind = Callable[[date], Hashable]  # dates of one kind get the same answers from `night_ok`


def each_date(day: date) -> Hashable:
    """Every date a kind of its own: `night_ok` is asked about each."""
    return day


DEFAULT_REST = timedelta(hours=10)
SHARE_UNIT = 1000  # fair shares and deviations are counted in thousandths of a night


@dataclass(frozen=True)
class Reader:
    """A person who may be drafted: active from `active_from` to `active_to` (both included; None: open)."""

    id: int
    name: str
    specialty: Specialty
    fte: float = 1.0
    active_from: date | None = None
    active_to: date | None = None

    def active_on(self, day: date) -> bool:
        return (self.active_from is None or self.active_from <= day) and (
            self.active_to is None or day <= self.active_to
        )


@dataclass(frozen=True)
class RoleDate:
    """A role to fill on a schedule date, with its hours that date (merged, sorted, never empty)."""

    day: date
    role: str
    hours: tuple[Interval, ...]
    mandatory: bool = True


@dataclass(frozen=True)
class Kept:
    """An assignment that stays. `hours`: its own (Amion's); empty: the role-date's hours."""

    day: date
    role: str
    person_id: int
    hours: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class Rotation:
    """A standing rotation: `person_id` holds `role` every `weekday` (Monday 0) from `start` to `end`."""

    weekday: int
    role: str
    person_id: int
    start: date
    end: date


@dataclass(frozen=True)
class RotationException:
    """One date's exception: another person on `role` that date, or nobody (None: the rotation is suspended
    and the role is drafted like any other)."""

    day: date
    role: str
    person_id: int | None


@dataclass(frozen=True)
class TimeOff:
    person_id: int
    days: frozenset[date]


@dataclass(frozen=True)
class Request:
    """A soft wish: `on` (hold at least one matching role) or off (hold none), for a date, a weekday
    (Monday 0) or the whole period, optionally one role; met requests add their weight."""

    person_id: int
    on: bool
    weight: int
    day: date | None = None
    weekday: int | None = None
    role: str | None = None

    def matches(self, day: date, role: str) -> bool:
        return (
            (self.day is None or self.day == day)
            and (self.weekday is None or self.weekday == day.weekday())
            and (self.role is None or self.role == role)
        )


@dataclass(frozen=True)
class Limits:
    """None: no limit. `nights`: per period, scaled by the person's FTE (rounded half up); `consecutive`: the
    longest run of nights; `free_between`: free days between two runs of nights; `weekends`: Saturday-Sunday
    pairs with a night on either day, per period (not scaled)."""

    nights: int | None = None
    consecutive: int | None = None
    free_between: int | None = None
    weekends: int | None = None

    def over(self, defaults: "Limits") -> "Limits":
        """These limits where set, else `defaults`'."""
        return Limits(
            self.nights if self.nights is not None else defaults.nights,
            self.consecutive if self.consecutive is not None else defaults.consecutive,
            self.free_between if self.free_between is not None else defaults.free_between,
            self.weekends if self.weekends is not None else defaults.weekends,
        )


class Category(StrEnum):
    """The fairness categories, in the order they are balanced."""

    HOLIDAYS = "holiday nights"
    WEEKENDS = "weekend nights"
    NIGHTS = "nights"


@dataclass(frozen=True)
class History:
    """Over the previous 12 months: nights held and fair shares earned (in nights), per category."""

    held: Mapping[Category, int] = field(default_factory=lambda: MappingProxyType({}))
    share: Mapping[Category, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Problem:
    start: date
    end: date
    role_dates: tuple[RoleDate, ...]
    readers: tuple[Reader, ...]
    night_ok: NightOk
    tz: ZoneInfo
    kept: tuple[Kept, ...] = ()
    rotations: tuple[Rotation, ...] = ()
    exceptions: tuple[RotationException, ...] = ()
    time_off: tuple[TimeOff, ...] = ()
    requests: tuple[Request, ...] = ()
    limits: Limits = Limits()
    person_limits: Mapping[int, Limits] = field(default_factory=dict)
    rest: timedelta = DEFAULT_REST
    holidays: frozenset[date] = frozenset()
    history: Mapping[int, History] = field(default_factory=dict)
    night_kind: NightKind = each_date


class Level(StrEnum):
    """The objective's levels. A draft solves them in `DRAFT_ORDER`; `KEPT_DROPPED` comes first only when the
    kept assignments cannot all hold (a repair puts it after `UNFILLED`: the fewest moved)."""

    KEPT_DROPPED = "kept assignments dropped"
    UNFILLED = "unfilled mandatory roles"
    ROTATIONS = "rotations honored"
    HOLIDAYS_MAX = "holiday nights: largest deviation"
    HOLIDAYS_SUM = "holiday nights: sum of deviations"
    WEEKENDS_MAX = "weekend nights: largest deviation"
    WEEKENDS_SUM = "weekend nights: sum of deviations"
    NIGHTS_MAX = "nights: largest deviation"
    NIGHTS_SUM = "nights: sum of deviations"
    REQUESTS = "weight of requests met"
    SPACING = "consecutive nights and weekends"

    @property
    def maximise(self) -> bool:
        return self in (Level.ROTATIONS, Level.REQUESTS)

    @property
    def in_share_units(self) -> bool:
        """Fairness levels count thousandths of a night."""
        return self.name.endswith(("_MAX", "_SUM"))


DRAFT_ORDER = (
    Level.UNFILLED,
    Level.ROTATIONS,
    Level.HOLIDAYS_MAX,
    Level.HOLIDAYS_SUM,
    Level.WEEKENDS_MAX,
    Level.WEEKENDS_SUM,
    Level.NIGHTS_MAX,
    Level.NIGHTS_SUM,
    Level.REQUESTS,
    Level.SPACING,
)
FAIRNESS_LEVELS: dict[Category, tuple[Level, Level]] = {
    Category.HOLIDAYS: (Level.HOLIDAYS_MAX, Level.HOLIDAYS_SUM),
    Category.WEEKENDS: (Level.WEEKENDS_MAX, Level.WEEKENDS_SUM),
    Category.NIGHTS: (Level.NIGHTS_MAX, Level.NIGHTS_SUM),
}

Assignment = Mapping[tuple[date, str], int]  # (schedule date, role) -> person id: a draft, kept rows included


@dataclass(frozen=True)
class LevelReport:
    level: Level
    value: int
    bound: int | None  # None: not known (the greedy draft)
    proven: bool
    seconds: float


@dataclass(frozen=True)
class Reason:
    """Why one person cannot hold one role-date: a predicate after their name ("is on time off"), its plural
    for several names ("are on time off"), and the rule's code."""

    rule: str
    text: str
    plural: str


@dataclass(frozen=True)
class Excluded:
    person_id: int
    name: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Unfilled:
    day: date
    role: str
    people: tuple[Excluded, ...]  # every person active in the period, by name
    text: str  # in a scheduler's words


@dataclass(frozen=True)
class Unhonored:
    """A rotation (or a one-date exception) the draft does not follow, and why."""

    day: date
    role: str
    person_id: int
    reasons: tuple[Reason, ...]
    text: str


@dataclass(frozen=True)
class FairShare:
    """One person's nights of one category against their fair share, over history and the period."""

    category: Category
    held_before: int  # nights held in history
    held: int  # nights held in the period, kept ones included
    share: int  # the fair share over history and period, in thousandths of a night


@dataclass(frozen=True)
class PersonFairness:
    person_id: int
    name: str
    fte: float
    shares: tuple[FairShare, ...]  # one per category, in `Category` order


@dataclass(frozen=True)
class Progress:
    """Where a solve stands: the level being solved (`number` of `levels`), its best value so far and CP-SAT's
    bound (None before the level's first solution), and the seconds left of the solve."""

    level: Level
    number: int
    levels: int
    value: int | None
    bound: int | None
    seconds_left: float


ProgressReport = Callable[[Progress], None]


class Outcome(StrEnum):
    OPTIMAL = "OPTIMAL"  # every level proven
    FEASIBLE = "FEASIBLE"  # a solver draft, some level not proven
    GREEDY = "GREEDY"  # the solver found nothing in time: the greedy draft stands


@dataclass(frozen=True)
class Draft:
    assignment: Assignment
    levels: tuple[LevelReport, ...]
    outcome: Outcome
    unfilled: tuple[Unfilled, ...]
    unhonored: tuple[Unhonored, ...]
    conflicts: tuple[str, ...]  # kept assignments that cannot all hold, in words
    dropped: tuple[Kept, ...]  # the kept assignments the draft could not keep
    seconds: float
    fairness: tuple[PersonFairness, ...] = ()  # per person active in the period, by name
