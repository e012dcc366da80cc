"""Amion reports `Rpt=619` and `Rpt=625c` (CSV, or tab-separated for the `...tabs` variants): parse a page
into rows, and render rows back into a page.

The layout: a header block of varying length ("Assignments for <Month> <YYYY> ..." and `Field` lines),
then one line per assignment:

    ["Division",]"Staff name",id,backup id,"Assignment label",id,backup id,M-D-YY,HHMM,HHMM

`Rpt=625c` adds staff type, pager, phone, email, messagable, shift note, assignment type and grouping
after the times. The header is recognised by content (title and `Field` lines), never by line count; the
division column by the header's `Field 1: Division` line, else by the shape of the first row. A label is kept
whole (hours in it included, `Mid C 5p-1a`), its whitespace squashed as the grid's is; the hours are the HHMM
fields.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from shared.kernel.findings import BAD_ROW, UNFILLED_SLOTS, Finding

from .rows import MONTH_NAMES, PLACEHOLDER, AmionRow, ParsedPage, layout_unrecognized, squash

ReportKind = Literal["619", "625c", "619tabs", "625ctabs"]

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
# The fewest fields a line split by the page's delimiter has when it is meant as an assignment row.
_RECORD_MIN_FIELDS = 7


class _BadRow(ValueError):
    pass


def _split(line: str, delimiter: str) -> list[str] | None:
    try:
        return next(csv.reader([line], delimiter=delimiter), None)
    except csv.Error:
        return None


def _is_time_field(text: str) -> bool:
    text = text.strip()
    return text in ("", PLACEHOLDER) or _TIME_RE.match(text) is not None


def _row_shape(fields: list[str]) -> int | None:
    """Offset of the fields (0: no division, 1: division first) if the line looks like a data row."""
    for offset in (0, 1):
        i = _DATE_INDEX + offset
        if (
            len(fields) >= i + 3
            and _DATE_RE.match(fields[i].strip())
            and _is_time_field(fields[i + 1])
            and _is_time_field(fields[i + 2])
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


def _parse_time(text: str) -> time | None:
    text = text.strip()
    if text in ("", PLACEHOLDER):
        return None
    m = _TIME_RE.match(text)
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
    label = squash(fields[offset + 3])
    i = _DATE_INDEX + offset
    schedule_date = _parse_date(fields[i])
    start, end = _parse_time(fields[i + 1]), _parse_time(fields[i + 2])
    if name in ("", PLACEHOLDER) or label in ("", PLACEHOLDER):
        return None
    note_index = _NOTE_INDEX + offset
    note = fields[note_index].strip() if len(fields) > note_index else ""
    division = fields[0].strip() if offset else ""
    return AmionRow(
        schedule_date=schedule_date,
        label=label,
        name=name,
        start=start,
        end=end,
        division=division if division not in ("", PLACEHOLDER) else None,
        note=note if note not in ("", PLACEHOLDER) else None,
    )


def _is_header_text(line: str) -> bool:
    return bool(_TITLE_RE.match(line) or _FIELD_RE.match(line))


def _looks_like_record(line: str, delimiter: str) -> bool:
    stripped = line.strip()
    if not stripped or _is_header_text(stripped):
        return False
    return stripped.startswith('"') or len(stripped.split(delimiter)) >= _RECORD_MIN_FIELDS


@dataclass
class _Findings:
    where: str
    items: list[Finding]

    def bad_row(self, line_no: int, why: str) -> None:
        self.items.append(
            BAD_ROW(
                f"Amion report line {line_no} skipped: {why}",
                f"{self.where} line {line_no}" if self.where else f"line {line_no}",
            )
        )


def parse_report(text: str, where: str = "") -> ParsedPage:
    """Parse a 619 or 625c report page, CSV or tab-separated. Never raises on bad content: problems become
    findings. `where` names the month in messages (e.g. "March 2026").

    `NOFI=...` pages (Amion's errors) are for the caller to recognise before parsing.
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not any(line.strip() for line in lines):
        return layout_unrecognized(where, "the page is empty", "Amion report")
    delimiter = "\t" if "\t" in text else ","

    split = [_split(line, delimiter) if line.strip() else None for line in lines]
    first_data = next(
        (i for i, fields in enumerate(split) if fields is not None and _row_shape(fields) is not None), None
    )
    header = lines if first_data is None else lines[:first_data]
    records_in_header = [i for i, line in enumerate(header) if _looks_like_record(line, delimiter)]
    if first_data is None:
        if records_in_header:
            why = f"none of its {len(records_in_header)} record lines is an assignment row"
            return layout_unrecognized(where, why, "Amion report")
        if not any(_TITLE_RE.match(line) for line in header):
            return layout_unrecognized(where, "no report header and no assignment rows", "Amion report")
        return ParsedPage(rows=(), findings=())

    offset = _header_offset(header)
    if offset is None:
        offset = _row_shape(split[first_data] or []) or 0

    findings = _Findings(where, [])
    for i in records_in_header:
        findings.bad_row(i + 1, "not an assignment row (expected name, ids, label, ids, M-D-YY, HHMM, HHMM)")

    rows: list[AmionRow] = []
    unfilled = 0
    for i in range(first_data, len(lines)):
        fields = split[i]
        if not lines[i].strip():
            continue
        if fields is None:
            findings.bad_row(i + 1, "not valid CSV")
            continue
        try:
            row = _row_from_fields(fields, offset)
        except _BadRow as exc:
            findings.bad_row(i + 1, str(exc))
            continue
        if row is None:
            unfilled += 1
        else:
            rows.append(row)
    if unfilled:
        findings.items.append(_unfilled_slots(unfilled, where))
    return ParsedPage(rows=tuple(rows), findings=tuple(findings.items))


def _unfilled_slots(count: int, where: str) -> Finding:
    place = f" in {where}" if where else ""
    return UNFILLED_SLOTS(
        f"{count} unfilled Amion slot{'s' * (count != 1)} ('{PLACEHOLDER}'){place} skipped", where or None
    )


def _ids(keys: Iterable[str]) -> dict[str, int]:
    return {key: n for n, key in enumerate(sorted(set(keys)), start=1)}


def _hhmm(value: time | None) -> str:
    return PLACEHOLDER if value is None else f"{value:%H%M}"


def _header_lines(report: ReportKind, with_division: bool) -> list[str]:
    shift = 1 if with_division else 0
    lines = ["Field  1    : Division (in quotes)"] if with_division else []
    lines += [
        f"Field  {1 + shift} - {3 + shift}: Staff name, unique ID, backup ID",
        f"Field  {4 + shift} - {6 + shift}: Assignment name (in quotes), unique ID, backup ID",
        f"Field  {7 + shift} - {8 + shift}: Date and time of assignment (GMTO=-5 1)",
    ]
    if report.startswith("625c"):
        lines += [
            f"Field  {9 + shift} -{14 + shift}: Staff type, Pager, Tel, Email, Messagable, Shift note",
            f"Field {15 + shift} -{16 + shift}: Assignment type (o=oncall, v=away, c=clinic, r=rotation, "
            "m=meeting, -=other), Grouping",
        ]
    return lines


def render_report(
    rows: Iterable[AmionRow],
    month: date,
    with_division: bool = False,
    *,
    report: ReportKind = "619",
    as_of: datetime | None = None,
) -> str:
    """The page Amion would serve for these rows (the inverse of `parse_report`), rows in the given order.
    The `...tabs` variants separate fields with tabs and quote nothing."""
    rows = list(rows)
    as_of = as_of or datetime.now()
    as_of_text = f"{MONTH_NAMES[as_of.month - 1][:3]} {as_of.day} {as_of:%H:%M} {as_of.year}"
    tabs = report.endswith("tabs")
    out = [
        f"Assignments for {MONTH_NAMES[month.month - 1]} {month.year}     (as of {as_of_text} eastern time)",
        "",
        *_header_lines(report, with_division),
        "",
    ]

    def text(value: str) -> str:
        return value if tabs else '"' + value.replace('"', '""') + '"'

    staff_ids = _ids(r.name for r in rows)
    label_ids = _ids(r.label for r in rows)
    for r in rows:
        d = r.schedule_date
        fields = [
            text(r.name), str(staff_ids[r.name]), str(staff_ids[r.name] + 100),
            text(r.label), str(label_ids[r.label]), str(label_ids[r.label] + 100),
            f"{d.month}-{d.day}-{d.year % 100:02d}", _hhmm(r.start), _hhmm(r.end),
        ]  # fmt: skip
        if report.startswith("625c"):
            fields += [text(""), text(""), text(""), text(""), "0", text(r.note or ""), "o", text(r.label)]
        if with_division:
            fields.insert(0, text(r.division or ""))
        out.append(("\t" if tabs else ",").join(fields))
    return "\n".join(out) + "\n"
