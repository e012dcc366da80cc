"""What a draft needs from the template, worked out with the coverage rules themselves
(shared/kernel/coverage_rules.py): the roles to fill on each date with their hours, and the night's allowed specialty
combinations. Pure."""

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache, partial
from zoneinfo import ZoneInfo

from services.drafting.model import Interval, NightOk, RoleDate
from shared.kernel.coverage_rules import Assignment, Person, calculate, template_role_hours
from shared.kernel.roles import DAY, MID_BODY, MID_NEURO, ON_BODY, ON_NEURO
from shared.kernel.schedule_days import dates_between, day_type
from shared.kernel.states import CellStatus, Specialty
from shared.kernel.template_model import Window

# roles a window marks that nobody is assigned to as written: the effective roles of the Body and Neuro sheets,
# and DAY, which a draft never fills
NOT_DRAFTED = frozenset({MID_BODY, MID_NEURO, ON_BODY, ON_NEURO, DAY})
NOON = time(12)


def configured_interval(day: date, start: time, end: time, tz: ZoneInfo) -> Interval:
    """A group's configured hours for a role on schedule date `day`, read as the template reads a window: a start
    before noon is in the early hours of the next day, an end at or before the start on the day after the start."""
    start_day = day + timedelta(days=1) if start < NOON else day
    end_day = start_day + timedelta(days=1) if end <= start else start_day
    return datetime.combine(start_day, start, tzinfo=tz), datetime.combine(end_day, end, tzinfo=tz)


def role_dates(
    windows: Sequence[Window],
    start: date,
    end: date,
    holidays: Collection[date],
    tz: ZoneInfo,
    configured: Mapping[str, tuple[time, time]],
) -> tuple[RoleDate, ...]:
    """Every role (not DAY, not an effective role) that a window applying to the date marks, with the group's
    configured hours for it where set, else the span of the windows marking it that date."""
    template_hours = template_role_hours(windows, holidays, tz)
    found = []
    for day in dates_between(start, end):
        kind = day_type(day, holidays)
        roles = dict.fromkeys(
            role for w in windows if w.day_type in (None, kind) for role in w.roles if role not in NOT_DRAFTED
        )
        for role in roles:
            hours = (
                (configured_interval(day, *configured[role], tz),) if role in configured else template_hours(day, role)
            )
            found.append(RoleDate(day, role, hours))
    return tuple(found)


def night_kind(holidays: Collection[date]) -> Callable[[date], Hashable]:
    """The day type, which alone decides the template's answer to `night_ok`."""
    return partial(day_type, holidays=frozenset(holidays))


def night_ok_from_rules(windows: Sequence[Window], holidays: Collection[date], tz: ZoneInfo) -> NightOk:
    """The coverage rules' answer: one placeholder person per filled role, of its specialty, on a one-date
    assignment set; the night is fine when no cell is SPECIALTY_MISMATCH. The template depends on the day type
    only, so answers are kept per day type (judged on the first date of that type asked about)."""
    first_of_kind: dict[str, date] = {}

    @cache
    def ok(kind: str, combo: tuple[tuple[str, Specialty | None], ...]) -> bool:
        day = first_of_kind[kind]
        placed = [(role, spec) for role, spec in combo if spec is not None]
        people = {i: Person(i, f"placeholder {i}", spec) for i, (_, spec) in enumerate(placed)}
        assignments = [Assignment(day, role, i) for i, (role, _) in enumerate(placed)]
        result = calculate(windows, day, day, assignments, people, holidays=holidays, tz=tz)
        return all(c.status is not CellStatus.SPECIALTY_MISMATCH for c in result.cells)

    def night_ok(day: date, on: Mapping[str, Specialty | None]) -> bool:
        kind = str(day_type(day, holidays))
        first_of_kind.setdefault(kind, day)
        return ok(kind, tuple(sorted(on.items())))

    return night_ok


@lru_cache(maxsize=16)
def kept_night_ok(windows: tuple[Window, ...], holidays: frozenset[date], tz: ZoneInfo) -> NightOk:
    """`night_ok_from_rules`, kept for the template across problems: a worker that repairs a version again and
    again asks the coverage rules about each combination once."""
    return night_ok_from_rules(windows, holidays, tz)
