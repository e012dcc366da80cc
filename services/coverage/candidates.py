"""Who can fill a gap: the active people who could take each `UNCOVERED` or `SPECIALTY_MISMATCH` cell, ranked
by fairness, with the reasons; and why the others are left out. Pure functions, no I/O.

- A gap is filled by assigning a person to the role as written (`ON1`, `MidC`, ...): the cell's responsible
  role, or for an effective role (`ON Body`, `Mid Neuro`) the written role that holds it that night.
- A candidate is an active person who
  - may read the worklist (its specialty as coverage computes it; a flat shift's constraint, none: anybody),
  - would not switch the night's specialty variant (a `BODY_ONLY` person added to `ON1`/`ON2` on a Neuro
    night would bring in the Body sheets, where the cell is another one),
  - is booked at no hours overlapping the gap's (touching ends do not overlap),
  - gets the rest period before it (no shift of theirs ends in the morning less than the period before the
    gap starts) and after it (when the gap ends in the morning, no shift of theirs starts within the period).
- Fairness, "so far": the schedule dates of the period before the gap's date on which the person holds any
  role but `DAY`. Order: fewest nights, then fewest of them on a Saturday or Sunday, then fewest on a
  configured holiday; ties by name (case folded), then id.
- `NO_DATA` cells are not gaps: they get no candidates.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from services.coverage.flat_rules import FlatShift
from services.coverage.rest import Interval, Shift, Timeline, hours_text, timelines, too_little_rest
from services.coverage.rules import Assignment, Cell, Person, can_read, effective_roles, window_interval
from shared.roles import DAY, MID_BODY, MID_C, MID_L, MID_NEURO, ON1, ON2, ON_BODY, ON_NEURO
from shared.states import CellStatus, Specialty, WorklistSpecialty
from shared.template_model import Category, Window

GAP_STATUSES = frozenset({CellStatus.UNCOVERED, CellStatus.SPECIALTY_MISMATCH})
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
    date, who may read it (None: anybody) and, for a window with a variant, its category."""

    schedule_date: date
    window: str
    worklist: str
    hospital: str
    role: str
    status: CellStatus
    hours: tuple[Interval, ...]
    specialty: WorklistSpecialty | None
    category: Category | None = None


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
    c: Cell, hours: tuple[Interval, ...], specialty: WorklistSpecialty | None, category: Category | None = None
) -> Slot:
    """The gap that cell `c` is, with its hours, who may read it and its window's category."""
    return Slot(c.schedule_date, c.window, c.worklist, c.hospital, c.role, c.status, hours, specialty, category)


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
        _slot(c, ((shift.starts_at, shift.ends_at),), shift.specialty_constraint)
        for c in cells
        if c.status in GAP_STATUSES and (shift := by_cell.get((c.schedule_date, c.window, c.worklist))) is not None
    ]


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


class _Nights:
    """Per person, the sorted dates of their nights (any role but DAY) with running counts of weekend and
    holiday nights, to count them before a date by bisection."""

    def __init__(self, assignments: Sequence[Assignment], holidays: Collection[date]) -> None:
        dates: dict[int, set[date]] = defaultdict(set)
        for a in assignments:
            if a.role != DAY:
                dates[a.person_id].add(a.schedule_date)
        self._dates: dict[int, list[date]] = {}
        self._running: dict[int, list[tuple[int, int]]] = {}
        for pid, days in dates.items():
            ordered = sorted(days)
            running, weekends, holiday_nights = [(0, 0)], 0, 0
            for d in ordered:
                weekends += d.weekday() >= 5
                holiday_nights += d in holidays
                running.append((weekends, holiday_nights))
            self._dates[pid], self._running[pid] = ordered, running

    def before(self, pid: int, day: date, start: date) -> tuple[int, int, int]:
        """Nights, weekend nights and holiday nights from `start` to the day before `day`."""
        days = self._dates.get(pid)
        if not days:
            return 0, 0, 0
        first, last = bisect_left(days, start), bisect_left(days, day)
        running = self._running[pid]
        (w0, h0), (w1, h1) = running[first], running[last]
        return last - first, w1 - w0, h1 - h0


def _hours(hours: Sequence[Interval], tz: ZoneInfo) -> str:
    return ", ".join(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}" for s, e in hours)


def _conflicts(slot: Slot, booked: Timeline, rest: timedelta, tz: ZoneInfo) -> list[str]:
    start, end = slot.hours[0][0], slot.hours[-1][1]
    reasons: list[str] = []
    for shift in booked.near(start - rest, end + rest):
        if any(s1 < e2 and s2 < e1 for s1, e1 in shift.hours for s2, e2 in slot.hours):
            reasons.append(f"booked at overlapping hours: {shift.describe(tz)}")
        elif too_little_rest(shift.end, start, rest, tz):
            reasons.append(
                f"rest: {shift.describe(tz)} ends at {shift.end.astimezone(tz):%H:%M}, "
                f"{hours_text(start - shift.end)} before the gap starts"
            )
        elif too_little_rest(end, shift.start, rest, tz):
            reasons.append(
                f"rest: the gap ends at {end.astimezone(tz):%H:%M} and {shift.describe(tz)} starts "
                f"{hours_text(shift.start - end)} later"
            )
    return reasons


def rank_candidates(
    slots: Sequence[Slot],
    assignments: Sequence[Assignment],
    shifts: Sequence[Shift],
    people: Mapping[int, Person],
    active: Collection[int],
    period_start: date,
    holidays: Collection[date],
    rest: timedelta,
    tz: ZoneInfo,
) -> list[GapCandidates]:
    """The candidates of every slot, in slot order.

    `assignments`: the version's (for the variant and fairness); `shifts`: the same with their hours;
    `people`: everybody the assignments name and the roster; `active`: the ids that may be proposed."""
    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_date[a.schedule_date].append(a)
    booked = timelines(shifts)
    nights = _Nights(assignments, holidays)
    roster = sorted((people[pid] for pid in active), key=lambda p: (p.name.casefold(), p.id))
    switches: dict[tuple[date, Category, str, Specialty], bool] = {}
    # gaps of one window on one date share their hours: timing and fairness are worked out once for them
    timing: dict[tuple[date, tuple[Interval, ...]], tuple[str, dict[int, list[str]]]] = {}
    fairness: dict[tuple[int, date], tuple[int, int, int, str]] = {}
    result: list[GapCandidates] = []
    for slot in slots:
        if slot.status not in GAP_STATUSES:
            continue
        todays = by_date.get(slot.schedule_date, [])
        role = written_role(slot.role, todays, people)
        when = (slot.schedule_date, slot.hours)
        if when not in timing:
            free = f"free {_hours(slot.hours, tz)} with {hours_text(rest)} of rest before and after"
            timing[when] = free, {p.id: _conflicts(slot, booked.get(p.id, _EMPTY), rest, tz) for p in roster}
        free, conflicts = timing[when]
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
            so_far = (person.id, slot.schedule_date)
            if so_far not in fairness:
                n, weekends, holiday_nights = nights.before(person.id, slot.schedule_date, period_start)
                counts = f"{n} nights, {weekends} weekend nights, {holiday_nights} holiday nights so far"
                fairness[so_far] = n, weekends, holiday_nights, counts
            n, weekends, holiday_nights, counts = fairness[so_far]
            reads = f"{person.specialty} may read {slot.worklist}"
            if slot.specialty is not None:
                reads += f" ({slot.specialty})"
            chosen.append(Candidate(person, n, weekends, holiday_nights, (reads, free, counts)))
        chosen.sort(key=lambda c: (c.nights, c.weekends, c.holidays, c.person.name.casefold(), c.person.id))
        result.append(GapCandidates(slot, role, tuple(chosen), tuple(left_out)))
    return result
