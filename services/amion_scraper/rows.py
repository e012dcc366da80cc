"""What any Amion page (report or grid) parses into: rows and findings; labels and hours as Amion writes
them, and those hours as instants. Pure."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from shared.kernel.findings import LAYOUT_UNRECOGNIZED, Finding

PLACEHOLDER = "---"

MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def month_label(month: date) -> str:
    """`date(2026, 3, 1)` -> `"March 2026"`: how a month is named in messages."""
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def month_key(month: date) -> str:
    """`date(2026, 3, 1)` -> `"2026-03"`: how a month is keyed in stored outcomes and finding locations."""
    return f"{month.year:04d}-{month.month:02d}"


def months_of_period(start: date, end: date) -> list[date]:
    """First day of every month the period start..end (inclusive) touches."""
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def ends_next_day(start: time, end: time) -> bool:
    """Amion rule: end 0000 or end before start ends the next day; end equal to start is 24 hours."""
    return end == time(0) or end <= start


def local_instant(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant of a local wall-clock time in `tz`. Python's default reading (`fold=0`) resolves the two
    DST cases: a wall time that does not exist (the hour skipped when clocks go forward, e.g. 02:30 on
    2026-03-08 in New York) is read with the offset before the change, so it is the instant an hour later
    on the new clock (03:30 EDT); a wall time that happens twice (the hour repeated when clocks go back, e.g.
    01:30 on 2026-11-01) is its first occurrence (01:30 EDT)."""
    return datetime.combine(day, clock, tzinfo=tz)


def amion_interval(day: date, start: time, end: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end instants of an assignment Amion gives as `start`-`end` on schedule date `day` (local
    wall-clock, `ends_next_day` rule; end equal to start ends at the same wall-clock time the next day)."""
    end_day = day + timedelta(days=1) if ends_next_day(start, end) else day
    return local_instant(day, start, tz), local_instant(end_day, end, tz)


def squash(text: str) -> str:
    """Runs of whitespace, `&nbsp;` (U+00A0) included, as one space; none at the ends."""
    return " ".join(text.split())


_CLOCK = r"\d{1,2}(?::\d{2})?"
_SUFFIX = r"mn|am|pm|a|p|n"
_HOURS_RE = re.compile(
    rf"^(?P<label>.*?\S)\s+(?P<start>{_CLOCK})(?P<sa>{_SUFFIX})?\s*-\s*(?P<end>{_CLOCK})(?P<ea>{_SUFFIX})\s*$",
    re.IGNORECASE,
)


def _clock(text: str, suffix: str | None) -> time | None:
    hour_text, _, minute_text = text.partition(":")
    hour, minute = int(hour_text), int(minute_text or 0)
    suffix = (suffix or "").lower()
    if minute > 59 or hour > 12 or (suffix and hour == 0):
        return None
    if suffix == "mn":
        return time(0, minute) if hour == 12 else None
    if suffix == "n":
        return time(12, minute) if hour == 12 else None
    return time(hour % 12 + (12 if suffix.startswith("p") else 0), minute)


def _minutes_between(start: time, end: time) -> int:
    span = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return span if span > 0 else span + 24 * 60


@lru_cache(maxsize=1024)
def split_label(text: str) -> tuple[str, time | None, time | None]:
    """The hours a label ends with: `"Night Shift 1        9p-7a"` -> `("Night Shift 1", 21:00, 07:00)`; a
    label without trailing hours keeps its text and has no times. A start without am/pm takes the reading
    that gives the shorter shift. The label itself stays the whole text (see `AmionRow.label`)."""
    text = squash(text)
    m = _HOURS_RE.match(text)
    if not m:
        return text, None, None
    end = _clock(m["end"], m["ea"])
    if m["sa"]:
        start = _clock(m["start"], m["sa"])
    else:
        readings = [t for t in (_clock(m["start"], "a"), _clock(m["start"], "p")) if t is not None]
        start = min(readings, key=lambda t: _minutes_between(t, end)) if readings and end else None
    if start is None or end is None:
        return text, None, None
    return m["label"], start, end


@dataclass(frozen=True)
class AmionRow:
    """One assignment as Amion shows it. `label` is the shift's whole label as Amion prints it, whitespace
    squashed, hours included when the label has them (`Mid C 5p-1a`): the same text from the report and the
    grid. Times are local wall-clock: the report's HHMM fields, or the hours the grid's label ends with (a
    grid row whose label states no hours has none)."""

    schedule_date: date
    label: str
    name: str
    start: time | None
    end: time | None
    division: str | None = None
    note: str | None = None

    @property
    def ends_next_day(self) -> bool:
        return self.start is not None and self.end is not None and ends_next_day(self.start, self.end)

    @property
    def start_at(self) -> datetime | None:
        """Naive local wall-clock start."""
        return None if self.start is None else datetime.combine(self.schedule_date, self.start)

    @property
    def end_at(self) -> datetime | None:
        """Naive local wall-clock end (the next day when the shift crosses midnight)."""
        if self.end is None:
            return None
        end_date = self.schedule_date + timedelta(days=1) if self.ends_next_day else self.schedule_date
        return datetime.combine(end_date, self.end)

    @property
    def duration(self) -> timedelta | None:
        """Wall-clock length, ignoring DST (times are local; the caller applies the time zone)."""
        start_at, end_at = self.start_at, self.end_at
        return None if start_at is None or end_at is None else end_at - start_at


def row_json(row: AmionRow) -> dict[str, Any]:
    return {
        "date": row.schedule_date.isoformat(),
        "label": row.label,
        "name": row.name,
        "start": None if row.start is None else f"{row.start:%H%M}",
        "end": None if row.end is None else f"{row.end:%H%M}",
        "division": row.division,
        "note": row.note,
    }


@dataclass(frozen=True)
class ParsedPage:
    rows: tuple[AmionRow, ...]
    findings: tuple[Finding, ...]


def layout_unrecognized(where: str, why: str, kind: str = "Amion page") -> ParsedPage:
    """The ERROR for a page that is not what was expected; `where` names the month when it is known."""
    place = f" for {where}" if where else ""
    finding = LAYOUT_UNRECOGNIZED(f"The {kind}{place} is not in a layout schedcu recognises ({why})", where or None)
    return ParsedPage(rows=(), findings=(finding,))
