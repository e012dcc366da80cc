"""What any Amion page (report or grid) parses into: rows and findings. Pure."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from shared.findings import Finding, Severity

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


@dataclass(frozen=True)
class AmionRow:
    """One assignment as Amion shows it. Times are local wall-clock; a grid row whose label states no
    hours has none."""

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
    finding = Finding(
        severity=Severity.ERROR,
        code="LAYOUT_UNRECOGNIZED",
        text=f"The {kind}{place} is not in a layout schedcu recognises ({why})",
        location=where or None,
    )
    return ParsedPage(rows=(), findings=(finding,))
