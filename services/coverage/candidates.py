"""Who can fill a gap: the active people who could take each `UNCOVERED` or `SPECIALTY_MISMATCH` cell, ranked
by fairness, with the reasons; and why the others are left out. Pure functions, no I/O.

- A gap is filled by assigning a person to the role as written (`ON1`, `MidC`, ...): the cell's responsible
  role, or for an effective role (`ON Body`, `Mid Neuro`) the written role that holds it that night. The
  person takes the whole role that date, so they are judged on the role's hours that date (its windows, as
  the calculation gives an assignment without Amion's hours; a flat role's shifts), not only the gap's.
- Nobody is a candidate while the role already has the people it needs that date (one on a template role; a
  flat shift's desired coverage): a proposal never puts a second person on a role. Replacing the person who
  holds it is a repair.
- A candidate is an active person who
  - may read the worklist (its specialty as coverage computes it; a flat shift's constraint, none: anybody),
  - would not switch the night's specialty variant (a `BODY_ONLY` person added to `ON1`/`ON2` on a Neuro
    night would bring in the Body sheets, where the cell is another one),
  - is booked at no hours overlapping the role's (touching ends do not overlap),
  - gets the rest period before it (no shift of theirs ends in the morning less than the period before the
    role starts) and after it (when the role ends in the morning, no shift of theirs starts within the period).
- Fairness over the whole period: the schedule dates of the version's period on which the person holds any
  role but `DAY`. Order: fewest nights, then fewest of them on a Saturday or Sunday, then fewest on a
  configured holiday; ties by name (case folded), then id.
- `NO_DATA` cells are not gaps: they get no candidates.
"""

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from services.coverage.flat_rules import FlatShift
from shared.kernel.coverage_rules import (
    Assignment,
    Cell,
    Person,
    can_read,
    effective_roles,
    merged_intervals,
    window_interval,
)
from shared.kernel.rest import Interval, Shift, Timeline, hours_text, timelines, too_little_rest
from shared.kernel.roles import DAY, MID_BODY, MID_C, MID_L, MID_NEURO, ON1, ON2, ON_BODY, ON_NEURO
from shared.kernel.states import CellStatus, Specialty, WorklistSpecialty
from shared.kernel.template_model import Category, Window

GAP_STATUSES = frozenset({CellStatus.UNCOVERED, CellStatus.SPECIALTY_MISMATCH})
RoleHours = Callable[[date, str], tuple[Interval, ...]]  # (schedule date, role as written) -> its hours
_EMPTY = Timeline((), (), timedelta(0))

# effective role -> (its category, the written role holding it when the first written role is BODY_ONLY, else)
_WRITTEN_OF: dict[str, tuple[Category, str, str]] = {
    ON_BODY: (Category.ON, ON1, ON2),
    ON_NEURO: (Category.ON, ON2, ON1),
    MID_BODY: (Category.MID, MID_C, MID_L),
    MID_NEURO: (Category.MID, MID_L, MID_C),
}
_FIRST_OF = {Category.ON: ON1, Category.MID: MID_C}


@dataclass(frozen=True)
class Slot:
    """A gap to fill: a cell that is `UNCOVERED` or `SPECIALTY_MISMATCH`, with the hours of its window that
    date, who may read it (None: anybody), for a window with a variant its category, and how many people its
    role needs."""

    schedule_date: date
    window: str
    worklist: str
    hospital: str
    role: str
    status: CellStatus
    hours: tuple[Interval, ...]
    specialty: WorklistSpecialty | None
    category: Category | None = None
    seats: int = 1


@dataclass(frozen=True)
class Candidate:
    person: Person
    nights: int
    weekends: int
    holidays: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class LeftOut:
    person: Person
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class GapCandidates:
    slot: Slot
    assign_role: str  # the role as written a candidate would be assigned to
    candidates: tuple[Candidate, ...]  # best first
    left_out: tuple[LeftOut, ...]  # by name


def _slot(
    c: Cell,
    hours: tuple[Interval, ...],
    specialty: WorklistSpecialty | None,
    category: Category | None = None,
    seats: int = 1,
) -> Slot:
    """The gap that cell `c` is, with its hours, who may read it, its window's category and its role's seats."""
    return Slot(c.schedule_date, c.window, c.worklist, c.hospital, c.role, c.status, hours, specialty, category, seats)


def template_slots(
    cells: Sequence[Cell], windows: Sequence[Window], specialties: Mapping[str, WorklistSpecialty], tz: ZoneInfo
) -> list[Slot]:
    """The gaps among template-layout `cells`, with their window's hours; `specialties`: of every worklist."""
    by_sheet = {w.sheet: w for w in windows}
    return [
        _slot(
            c,
            (window_interval(window, c.schedule_date, tz),),
            specialties[c.worklist],
            window.category if window.variant is not None else None,
        )
        for c in cells
        if c.status in GAP_STATUSES and (window := by_sheet.get(c.window)) is not None
    ]


def flat_slots(cells: Sequence[Cell], shifts: Sequence[FlatShift], tz: ZoneInfo) -> list[Slot]:
    """The gaps among flat-layout `cells`, with their shift's hours and specialty constraint."""
    by_cell = {(s.schedule_date, s.label(tz), s.worklist): s for s in shifts}
    return [
        _slot(c, ((shift.starts_at, shift.ends_at),), shift.specialty_constraint, seats=shift.desired_coverage)
        for c in cells
        if c.status in GAP_STATUSES and (shift := by_cell.get((c.schedule_date, c.window, c.worklist))) is not None
    ]


def flat_role_hours(shifts: Sequence[FlatShift]) -> RoleHours:
    """A flat role's hours on a date: its shifts that date, merged."""
    hours: dict[tuple[date, str], list[Interval]] = defaultdict(list)
    for s in shifts:
        hours[(s.schedule_date, s.role)].append((s.starts_at, s.ends_at))
    merged = {key: tuple(merged_intervals(found)) for key, found in hours.items()}
    return lambda day, role: merged.get((day, role), ())


def _has_body_only(role: str, todays: Sequence[Assignment], people: Mapping[int, Person]) -> bool:
    return any(
        a.role == role and (p := people.get(a.person_id)) is not None and p.specialty is Specialty.BODY_ONLY
        for a in todays
    )


def written_role(role: str, todays: Sequence[Assignment], people: Mapping[int, Person]) -> str:
    """The role as written that holds effective `role` on a night with `todays`' assignments."""
    if role not in _WRITTEN_OF:
        return role
    category, when_first_body_only, otherwise = _WRITTEN_OF[role]
    return when_first_body_only if _has_body_only(_FIRST_OF[category], todays, people) else otherwise


def _nights(assignments: Sequence[Assignment], holidays: Collection[date]) -> dict[int, tuple[int, int, int]]:
    """Per person: nights (dates with any role but DAY), weekend nights and holiday nights in `assignments`."""
    dates: dict[int, set[date]] = defaultdict(set)
    for a in assignments:
        if a.role != DAY:
            dates[a.person_id].add(a.schedule_date)
    return {
        pid: (len(days), sum(d.weekday() >= 5 for d in days), sum(d in holidays for d in days))
        for pid, days in dates.items()
    }


def _hours(hours: Sequence[Interval], tz: ZoneInfo) -> str:
    return ", ".join(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}" for s, e in hours)


def _conflicts(role: str, hours: tuple[Interval, ...], booked: Timeline, rest: timedelta, tz: ZoneInfo) -> list[str]:
    start, end = hours[0][0], hours[-1][1]
    reasons: list[str] = []
    for shift in booked.near(start - rest, end + rest):
        if any(s1 < e2 and s2 < e1 for s1, e1 in shift.hours for s2, e2 in hours):
            reasons.append(f"booked at overlapping hours: {shift.describe(tz)}")
        elif too_little_rest(shift.end, start, rest, tz):
            reasons.append(
                f"rest: {shift.describe(tz)} ends at {shift.end.astimezone(tz):%H:%M}, "
                f"{hours_text(start - shift.end)} before {role} starts"
            )
        elif too_little_rest(end, shift.start, rest, tz):
            reasons.append(
                f"rest: {role} ends at {end.astimezone(tz):%H:%M} and {shift.describe(tz)} starts "
                f"{hours_text(shift.start - end)} later"
            )
    return reasons


def _held(role: str, todays: Sequence[Assignment], people: Mapping[int, Person]) -> list[str]:
    """The names of the people on `role` (as written) in `todays`, each once."""
    ids = dict.fromkeys(a.person_id for a in todays if a.role == role)
    return [people[pid].name if pid in people else f"person {pid}" for pid in ids]


def rank_candidates(
    slots: Sequence[Slot],
    assignments: Sequence[Assignment],
    shifts: Sequence[Shift],
    people: Mapping[int, Person],
    active: Collection[int],
    role_hours: RoleHours,
    holidays: Collection[date],
    rest: timedelta,
    tz: ZoneInfo,
) -> list[GapCandidates]:
    """The candidates of every slot, in slot order.

    `assignments`: the version's (for the variant, the people holding each role and fairness); `shifts`: the
    same with their hours; `people`: everybody the assignments name and the roster; `active`: the ids that may
    be proposed; `role_hours`: the hours a person assigned to a role would hold (none: the gap's window)."""
    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_date[a.schedule_date].append(a)
    booked = timelines(shifts)
    nights = _nights(assignments, holidays)
    roster = sorted((people[pid] for pid in active), key=lambda p: (p.name.casefold(), p.id))
    switches: dict[tuple[date, Category, str, Specialty], bool] = {}
    # the gaps of one role on one date share its hours and its holders: worked out once for them
    timing: dict[tuple[date, str], tuple[str, dict[int, list[str]]]] = {}
    result: list[GapCandidates] = []
    for slot in slots:
        if slot.status not in GAP_STATUSES:
            continue
        todays = by_date.get(slot.schedule_date, [])
        role = written_role(slot.role, todays, people)
        when = (slot.schedule_date, role)
        if when not in timing:
            hours = role_hours(slot.schedule_date, role) or slot.hours
            free = f"free {_hours(hours, tz)} ({role}) with {hours_text(rest)} of rest before and after"
            timing[when] = free, {p.id: _conflicts(role, hours, booked.get(p.id, _EMPTY), rest, tz) for p in roster}
        free, conflicts = timing[when]
        held = _held(role, todays, people)
        if len(held) >= slot.seats:
            full = (
                f"{role} on {slot.schedule_date.isoformat()} is held by {', '.join(held)}: a proposal never adds "
                "a person to a role that has the people it needs (replacing them is a repair)",
            )
            result.append(GapCandidates(slot, role, (), tuple(LeftOut(p, full) for p in roster)))
            continue
        chosen: list[Candidate] = []
        left_out: list[LeftOut] = []
        for person in roster:
            reasons: list[str] = []
            if slot.specialty is not None and not can_read(person.specialty, slot.specialty):
                reasons.append(f"specialty: {person.specialty} may not read {slot.worklist} ({slot.specialty})")
            if slot.category is not None:
                key = (slot.schedule_date, slot.category, role, person.specialty)
                if key not in switches:
                    added = [*todays, Assignment(slot.schedule_date, role, person.id)]
                    before = effective_roles(slot.category, todays, people)[0]
                    switches[key] = effective_roles(slot.category, added, people)[0] != before
                if switches[key]:
                    reasons.append(f"specialty: as {person.specialty} on {role} they would switch the night's sheets")
            reasons.extend(conflicts[person.id])
            if reasons:
                left_out.append(LeftOut(person, tuple(reasons)))
                continue
            n, weekends, holiday_nights = nights.get(person.id, (0, 0, 0))
            counts = f"{n} nights, {weekends} weekend nights, {holiday_nights} holiday nights in the period"
            reads = f"{person.specialty} may read {slot.worklist}"
            if slot.specialty is not None:
                reads += f" ({slot.specialty})"
            chosen.append(Candidate(person, n, weekends, holiday_nights, (reads, free, counts)))
        chosen.sort(key=lambda c: (c.nights, c.weekends, c.holidays, c.person.name.casefold(), c.person.id))
        result.append(GapCandidates(slot, role, tuple(chosen), tuple(left_out)))
    return result
