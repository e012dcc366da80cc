"""Amion `Rpt=619` report (CSV): parse a fetched page into rows, and render rows back into a page.

The 619 layout: a header block of varying length ("Assignments for <Month> <YYYY> ..." and `Field` lines),
then one line per assignment:

    ["Division",]"Staff name",id,backup id,"Assignment label",id,backup id,M-D-YY,HHMM,HHMM

`Rpt=625c` adds staff type, pager, phone, email, messagable, shift note, assignment type and grouping
after the times; those rows parse too and keep the shift note.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.findings import Finding, Severity

PLACEHOLDER = "---"

_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DATE_RE = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})$")
_TIME_RE = re.compile(r"^(\d{2})(\d{2})$")
_TITLE_RE = re.compile(r"^\s*Assignments\s+for\b", re.IGNORECASE)
_FIELD_RE = re.compile(r"^\s*Field\s+\d", re.IGNORECASE)
_DIVISION_FIELD_RE = re.compile(r"^\s*Field\s+1\s*:\s*Division\b", re.IGNORECASE)
_NAME_FIELD_1_RE = re.compile(r"^\s*Field\s+1\s*-\s*\d+\s*:\s*Staff\s+name\b", re.IGNORECASE)

# Index of the date field without a division column; with one, every field shifts by one.
_DATE_INDEX = 6
# 625c "Shift note". The header numbers it 14, but it counts date and times as two fields, not three.
_NOTE_INDEX = 14


def ends_next_day(start: time, end: time) -> bool:
    """Amion rule: end 0000 or end before start ends the next day; end equal to start is 24 hours."""
    return end == time(0) or end <= start


@dataclass(frozen=True)
class AmionRow:
    schedule_date: date
    label: str
    name: str
    start: time
    end: time
    division: str | None = None
    note: str | None = None

    @property
    def ends_next_day(self) -> bool:
        return ends_next_day(self.start, self.end)

    @property
    def start_at(self) -> datetime:
        """Naive local wall-clock start."""
        return datetime.combine(self.schedule_date, self.start)

    @property
    def end_at(self) -> datetime:
        """Naive local wall-clock end (the next day when the shift crosses midnight)."""
        end_date = self.schedule_date + timedelta(days=1) if self.ends_next_day else self.schedule_date
        return datetime.combine(end_date, self.end)

    @property
    def duration(self) -> timedelta:
        """Wall-clock length, ignoring DST (times are local; the caller applies the time zone)."""
        return self.end_at - self.start_at


@dataclass(frozen=True)
class ParsedReport:
    rows: tuple[AmionRow, ...]
    findings: tuple[Finding, ...]


class _BadRow(ValueError):
    pass


def _split_csv_line(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line]), None)
    except csv.Error:
        return None


def _row_shape(fields: list[str]) -> int | None:
    """Offset of the fields (0: no division, 1: division first) if the line looks like a data row."""
    for offset in (0, 1):
        i = _DATE_INDEX + offset
        if (
            len(fields) >= i + 3
            and _DATE_RE.match(fields[i].strip())
            and _TIME_RE.match(fields[i + 1].strip())
            and _TIME_RE.match(fields[i + 2].strip())
        ):
            return offset
    return None


def _parse_date(text: str) -> date:
    m = _DATE_RE.match(text.strip())
    if not m:
        raise _BadRow(f"date {text!r} is not M-D-YY")
    month, day, year = (int(g) for g in m.groups())
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        raise _BadRow(f"date {text!r} does not exist") from None


def _parse_time(text: str) -> time:
    m = _TIME_RE.match(text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise _BadRow(f"time {text!r} is not HHMM")
    return time(int(m.group(1)), int(m.group(2)))


def _header_offset(header: list[str]) -> int | None:
    """Division offset stated by the header's `Field` lines, or None when the header does not say."""
    if any(_DIVISION_FIELD_RE.match(line) for line in header):
        return 1
    if any(_NAME_FIELD_1_RE.match(line) for line in header):
        return 0
    return None


def _row_from_fields(fields: list[str], offset: int) -> AmionRow | None:
    """The row, or None for a placeholder (`---` or empty name/label: an unfilled slot)."""
    shape = _row_shape(fields)
    if shape is None:
        raise _BadRow("not an assignment row (expected name, ids, label, ids, M-D-YY, HHMM, HHMM)")
    if shape != offset:
        raise _BadRow("the row has a division column" if shape else "the row lacks the division column")
    name = fields[offset].strip()
    label = fields[offset + 3].strip()
    if name in ("", PLACEHOLDER) or label in ("", PLACEHOLDER):
        return None
    i = _DATE_INDEX + offset
    note_index = _NOTE_INDEX + offset
    note = fields[note_index].strip() if len(fields) > note_index else ""
    return AmionRow(
        schedule_date=_parse_date(fields[i]),
        label=label,
        name=name,
        start=_parse_time(fields[i + 1]),
        end=_parse_time(fields[i + 2]),
        division=(fields[0].strip() or None) if offset else None,
        note=note or None,
    )


def _layout_unrecognized(month_label: str, why: str) -> ParsedReport:
    where = f" for {month_label}" if month_label else ""
    finding = Finding(
        severity=Severity.ERROR,
        code="LAYOUT_UNRECOGNIZED",
        text=f"The Amion page{where} is not a recognisable assignment report ({why})",
        location=month_label or None,
    )
    return ParsedReport(rows=(), findings=(finding,))


def parse_report(text: str, month_label: str = "") -> ParsedReport:
    """Parse a 619 (or 625c) report page. Never raises on bad content: problems become findings.

    `NOFI=...` pages (Amion's errors) are for the caller to recognise before parsing.
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not any(line.strip() for line in lines):
        return _layout_unrecognized(month_label, "the page is empty")

    split = [_split_csv_line(line) if line.strip() else None for line in lines]
    first_data = next(
        (i for i, fields in enumerate(split) if fields is not None and _row_shape(fields) is not None), None
    )
    header = lines if first_data is None else lines[:first_data]
    has_title = any(_TITLE_RE.match(line) for line in header)
    if first_data is None and not has_title:
        return _layout_unrecognized(month_label, "no report header and no assignment rows")

    offset = _header_offset(header)
    if offset is None and first_data is not None:
        offset = _row_shape(split[first_data] or [])

    findings: list[Finding] = []

    def bad_row(line_no: int, why: str) -> None:
        where = f"{month_label} line {line_no}" if month_label else f"line {line_no}"
        findings.append(
            Finding(
                severity=Severity.WARNING,
                code="BAD_ROW",
                text=f"Amion report line {line_no} skipped: {why}",
                location=where,
            )
        )

    # A header line that looks like a CSV record (starts with a quote) is a data row that failed to parse.
    for i, line in enumerate(header):
        stripped = line.strip()
        if stripped.startswith('"') and not _TITLE_RE.match(stripped) and not _FIELD_RE.match(stripped):
            bad_row(i + 1, "not an assignment row (expected name, ids, label, ids, M-D-YY, HHMM, HHMM)")

    rows: list[AmionRow] = []
    start = len(lines) if first_data is None else first_data
    for i in range(start, len(lines)):
        fields = split[i]
        if not lines[i].strip():
            continue
        if fields is None:
            bad_row(i + 1, "not valid CSV")
            continue
        try:
            row = _row_from_fields(fields, offset if offset is not None else 0)
        except _BadRow as exc:
            bad_row(i + 1, str(exc))
            continue
        if row is not None:
            rows.append(row)
    return ParsedReport(rows=tuple(rows), findings=tuple(findings))


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _ids(keys: Iterable[str]) -> dict[str, int]:
    return {key: n for n, key in enumerate(sorted(set(keys)), start=1)}


def render_report(
    rows: Iterable[AmionRow], month: date, with_division: bool = False, *, as_of: datetime | None = None
) -> str:
    """The 619 page Amion would serve for these rows (the inverse of `parse_report`), rows in given order."""
    rows = list(rows)
    as_of = as_of or datetime.now()
    as_of_text = f"{_MONTH_NAMES[as_of.month - 1][:3]} {as_of.day} {as_of:%H:%M} {as_of.year}"
    out = [
        f"Assignments for {_MONTH_NAMES[month.month - 1]} {month.year}     (as of {as_of_text} eastern time)",
        "",
    ]
    if with_division:
        out += [
            "Field  1    : Division (in quotes)",
            "Field  2 - 4: Staff name, unique ID, backup ID",
            "Field  5 - 7: Assignment name (in quotes), unique ID, backup ID",
            "Field  8 - 9: Date and time of assignment (GMTO=-5 1)",
        ]
    else:
        out += [
            "Field  1 - 3: Staff name, unique ID, backup ID",
            "Field  4 - 6: Assignment name (in quotes), unique ID, backup ID",
            "Field  7 - 8: Date and time of assignment (GMTO=-5 1)",
        ]
    out.append("")
    staff_ids = _ids(r.name for r in rows)
    label_ids = _ids(r.label for r in rows)
    for r in rows:
        d = r.schedule_date
        fields = [
            _quoted(r.name), str(staff_ids[r.name]), str(staff_ids[r.name] + 100),
            _quoted(r.label), str(label_ids[r.label]), str(label_ids[r.label] + 100),
            f"{d.month}-{d.day}-{d.year % 100:02d}", f"{r.start:%H%M}", f"{r.end:%H%M}",
        ]  # fmt: skip
        if with_division:
            fields.insert(0, _quoted(r.division or ""))
        out.append(",".join(fields))
    return "\n".join(out) + "\n"
