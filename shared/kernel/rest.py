"""Rest after nights: a person whose shift ends in the morning may not start another shift within the rest
period (`SCHEDCU_REST_HOURS`, default 10 h). Pure functions, no I/O.

- A shift *ends in the morning* when its last hour ends, in the group's zone, between 05:00 and 12:00 (both
  included). Its hours are the ones `DOUBLE_BOOKED` uses (Amion's, else the role's template hours that date).
- The rest it gets is from that end to the start of the person's next shift that starts at or after it,
  whatever the schedule dates (a night of D ending 08:00 on D+1 and a shift starting 17:00 on D+1: 9 h).
  A rest shorter than the period is a `REST_VIOLATION` (WARNING). Shifts that overlap are `DOUBLE_BOOKED`,
  not a rest violation.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.kernel.findings import REST_VIOLATION, Finding

MORNING_START, MORNING_END = time(5), time(12)
DEFAULT_REST = timedelta(hours=10)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Shift:
    """One assignment with its hours: merged, sorted, never empty."""

    person_id: int
    role: str
    schedule_date: date
    hours: tuple[Interval, ...]
    source: str  # where the hours come from: "Amion" or "template"

    @property
    def start(self) -> datetime:
        return self.hours[0][0]

    @property
    def end(self) -> datetime:
        return self.hours[-1][1]

    def describe(self, tz: ZoneInfo) -> str:
        """`ON1 on 2024-06-03 22:00-08:00 (Amion)`."""
        hours = ", ".join(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}" for s, e in self.hours)
        return f"{self.role} on {self.schedule_date.isoformat()} {hours} ({self.source})"


def ends_in_morning(end: datetime, tz: ZoneInfo) -> bool:
    return MORNING_START <= end.astimezone(tz).time() <= MORNING_END


def too_little_rest(earlier_end: datetime, later_start: datetime, rest: timedelta, tz: ZoneInfo) -> bool:
    """The later shift starts at or after the earlier one's morning end, but within the rest period."""
    return ends_in_morning(earlier_end, tz) and earlier_end <= later_start < earlier_end + rest


def hours_text(rest: timedelta) -> str:
    """`9 h`, `9.5 h`."""
    return f"{rest.total_seconds() / 3600:g} h"


@dataclass(frozen=True)
class Timeline:
    """One person's shifts sorted by start, to find those near an instant without scanning them all."""

    shifts: tuple[Shift, ...]
    starts: tuple[datetime, ...]
    longest: timedelta

    @classmethod
    def of(cls, shifts: Iterable[Shift]) -> "Timeline":
        ordered = tuple(sorted(shifts, key=lambda s: (s.start, s.end, s.role)))
        longest = max((s.end - s.start for s in ordered), default=timedelta(0))
        return cls(ordered, tuple(s.start for s in ordered), longest)

    def near(self, start: datetime, end: datetime) -> Sequence[Shift]:
        """The shifts that may touch or overlap `start..end`: those starting before `end` and not ending
        before `start` are among them."""
        first = bisect_left(self.starts, start - self.longest)
        last = bisect_left(self.starts, end)
        return self.shifts[first:last]


def timelines(shifts: Iterable[Shift]) -> dict[int, Timeline]:
    by_person: dict[int, list[Shift]] = defaultdict(list)
    for shift in shifts:
        by_person[shift.person_id].append(shift)
    return {pid: Timeline.of(theirs) for pid, theirs in by_person.items()}


def rest_violations(shifts: Sequence[Shift], names: Mapping[int, str], rest: timedelta, tz: ZoneInfo) -> list[Finding]:
    """A `REST_VIOLATION` per pair (shift ending in the morning, a shift of the same person starting within
    the rest period after it), in order of the later shift's start, each pair once."""
    found: list[tuple[datetime, str, Finding]] = []
    for pid, timeline in timelines(shifts).items():
        seen: set[tuple[str, date, str, date]] = set()
        for earlier in timeline.shifts:
            if not ends_in_morning(earlier.end, tz):
                continue
            for later in timeline.near(earlier.end, earlier.end + rest):
                key = (earlier.role, earlier.schedule_date, later.role, later.schedule_date)
                if later is earlier or key in seen or not too_little_rest(earlier.end, later.start, rest, tz):
                    continue
                seen.add(key)
                text = (
                    f"{names[pid]} ends {earlier.describe(tz)} at {earlier.end.astimezone(tz):%H:%M} and starts "
                    f"{later.describe(tz)} {hours_text(later.start - earlier.end)} later; the rest period is "
                    f"{hours_text(rest)}."
                )
                where = later.schedule_date.isoformat()
                found.append(
                    (
                        later.start,
                        names[pid],
                        REST_VIOLATION(text, where),
                    )
                )
    found.sort(key=lambda item: (item[0], item[1]))
    return [finding for _, _, finding in found]
