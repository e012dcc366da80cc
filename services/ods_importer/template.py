"""Parsing of the coverage template layout: one sheet per window, roles in row 1, worklists and marks below."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from services.ods_importer.ods_reader import DEFAULT_LIMITS, OdsLimits, OdsReadError, Sheet, iter_sheets
from shared.findings import Finding, Severity
from shared.roles import normalize_role
from shared.schedule_days import DayType
from shared.template_model import Category, Responsibility, Variant, Window


@dataclass(frozen=True)
class ParsedTemplate:
    windows: tuple[Window, ...]
    findings: tuple[Finding, ...]


def parse_template(data: bytes, limits: OdsLimits = DEFAULT_LIMITS) -> ParsedTemplate:
    """Never raises on bad input: every problem is a finding."""
    try:
        return parse_sheets(iter_sheets(data, limits))
    except OdsReadError as exc:
        return ParsedTemplate(windows=(), findings=(exc.finding,))


def parse_sheets(sheets: Iterable[Sheet]) -> ParsedTemplate:
    windows: list[Window] = []
    findings: list[Finding] = []
    for sheet in sheets:
        window = _parse_sheet(sheet, findings)
        if window is not None:
            windows.append(window)
    if not windows:
        findings.append(_error("NO_VALID_SHEETS", "No sheet of the template describes a coverage window."))
    return ParsedTemplate(windows=tuple(windows), findings=tuple(findings))


# --- sheet names ----------------------------------------------------------------------------------------

_CATEGORIES = {"mid": Category.MID, "on": Category.ON}
_DAY_TYPES = {"weekday": DayType.WEEKDAY, "weekend": DayType.WEEKEND}
_VARIANTS = {"body": Variant.BODY, "neuro": Variant.NEURO}
_CLOCK = r"(\d{1,2})(?::(\d{2}))?"
_HOURS = re.compile(rf"{_CLOCK}(am|pm)?-(?:{_CLOCK}(am|pm)|(midnight|noon))")


@dataclass(frozen=True)
class WindowName:
    category: Category
    day_type: DayType | None
    variant: Variant | None
    start: time
    end: time


def parse_window_name(name: str) -> WindowName | None:
    """`Mid Weekday Body 5 - 6 pm`, `Mid Weekend 10pm-Midnight`, `Mid  12am-1am`, ... -> parts; None if not."""
    words = name.replace("–", "-").lower().split()
    if not words or words[0] not in _CATEGORIES:
        return None
    category = _CATEGORIES[words[0]]
    day_type: DayType | None = None
    variant: Variant | None = None
    rest = words[1:]
    while rest and (rest[0] in _DAY_TYPES or rest[0] in _VARIANTS):
        word = rest.pop(0)
        if word in _DAY_TYPES and day_type is None:
            day_type = _DAY_TYPES[word]
        elif word in _VARIANTS and variant is None:
            variant = _VARIANTS[word]
        else:
            return None
    hours = _parse_hours("".join(rest))
    if hours is None:
        return None
    return WindowName(category, day_type, variant, *hours)


def _parse_hours(text: str) -> tuple[time, time] | None:
    match = _HOURS.fullmatch(text)
    if match is None:
        return None
    start_h, start_m, start_ampm, end_h, end_m, end_ampm, word = match.groups()
    if word is not None:
        end = time(0) if word == "midnight" else time(12)
        end_ampm = "am" if word == "midnight" else "pm"
    else:
        end = _clock(end_h, end_m, end_ampm)
    if start_ampm is None:
        # `5 - 6 pm`: the suffix is written once; before a midnight end the hours are evening ones
        start_ampm = "pm" if end == time(0) else end_ampm
    start = _clock(start_h, start_m, start_ampm)
    if start is None or end is None or start == end:
        return None
    return start, end


def _clock(hour_text: str, minute_text: str | None, ampm: str) -> time | None:
    hour, minute = int(hour_text), int(minute_text or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return None
    return time(hour % 12 + (12 if ampm == "pm" else 0), minute)


# --- sheet content --------------------------------------------------------------------------------------


def _parse_sheet(sheet: Sheet, findings: list[Finding]) -> Window | None:
    name = parse_window_name(sheet.name)
    if name is None:
        findings.append(
            _error(
                "INVALID_SHEET_NAME",
                f"Sheet name {sheet.name!r} does not name a window like 'Mid Weekday Body 5 pm - 6 pm' "
                "(category, optional Weekday/Weekend, optional Body/Neuro, hours); the sheet is skipped.",
                sheet.name,
            )
        )
        return None
    header = sheet.rows[0] if sheet.rows else []
    width = _block_width(header)
    if width == 1:
        findings.append(
            _error("NO_HEADER_ROW", "Row 1 names no role (B1, C1, ... are empty).", _cell(sheet.name, 0, 0))
        )
        return None
    roles = _header_roles(sheet.name, header[1:width], findings)
    responsibilities = _responsibilities(sheet, width, roles, findings)
    _report_extra_block(sheet, width, findings)
    return Window(
        sheet=sheet.name,
        category=name.category,
        day_type=name.day_type,
        variant=name.variant,
        start=name.start,
        end=name.end,
        responsibilities=tuple(responsibilities),
    )


def _block_width(header: list[str]) -> int:
    """Columns of the first block: A plus the role headers up to the first empty header."""
    width = 1
    while width < len(header) and header[width].strip():
        width += 1
    return width


def _header_roles(sheet: str, headers: list[str], findings: list[Finding]) -> list[str | None]:
    roles: list[str | None] = []
    for column, text in enumerate(headers, start=1):
        role = normalize_role(text)
        if role is None:
            findings.append(
                _error("UNKNOWN_ROLE", f"Role header {text.strip()!r} is not a known role.", _cell(sheet, 0, column))
            )
        roles.append(role)
    return roles


def _responsibilities(
    sheet: Sheet, width: int, roles: list[str | None], findings: list[Finding]
) -> list[Responsibility]:
    result: list[Responsibility] = []
    seen: set[str] = set()
    for row_index in range(1, len(sheet.rows)):
        row = sheet.rows[row_index][:width]
        worklist = row[0].strip() if row else ""
        marked: list[str | None] = []
        for column in range(1, len(row)):
            value = row[column].strip()
            if value.lower() == "x":
                marked.append(roles[column - 1])
            elif value:
                findings.append(
                    _warning(
                        "UNEXPECTED_CELL",
                        f"{value!r} is not a mark (x); it is ignored.",
                        _cell(sheet.name, row_index, column),
                    )
                )
        location = _cell(sheet.name, row_index, 0)
        if not worklist:
            if marked:
                findings.append(
                    _warning("UNEXPECTED_CELL", "A row has marks but no worklist in column A; it is ignored.", location)
                )
            continue
        if worklist in seen:
            findings.append(
                _error("DUPLICATE_WORKLIST", f"{worklist!r} appears twice in window {sheet.name!r}.", location)
            )
            continue
        seen.add(worklist)
        if not marked:
            findings.append(
                _warning("UNMARKED_WORKLIST", f"Nobody reads {worklist!r} in window {sheet.name!r}.", location)
            )
        elif len(marked) > 1:
            names = ", ".join(role or "?" for role in marked)
            findings.append(
                _error(
                    "MULTIPLE_ROLES_MARKED",
                    f"{worklist!r} is marked for several roles ({names}); exactly one role must read it.",
                    location,
                )
            )
        elif marked[0] is not None:
            result.append(Responsibility(worklist=worklist, role=marked[0]))
    return result


def _report_extra_block(sheet: Sheet, width: int, findings: list[Finding]) -> None:
    cells = [
        (row_index, column)
        for row_index, row in enumerate(sheet.rows)
        for column in range(width, len(row))
        if row[column].strip()
    ]
    if not cells:
        return
    top, bottom = min(r for r, _ in cells), max(r for r, _ in cells)
    left, right = min(c for _, c in cells), max(c for _, c in cells)
    area = f"{_cell(sheet.name, top, left)}:{_column_letters(right)}{bottom + 1}"
    findings.append(
        _warning(
            "EXTRA_BLOCK",
            f"Sheet {sheet.name!r} has content right of its role columns ({area}); it is ignored, not merged.",
            area,
        )
    )


# --- findings and locations -----------------------------------------------------------------------------


def _cell(sheet: str, row_index: int, column: int) -> str:
    return f"{sheet}!{_column_letters(column)}{row_index + 1}"


def _column_letters(column: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    column += 1
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _error(code: str, text: str, location: str | None = None) -> Finding:
    return Finding(severity=Severity.ERROR, code=code, text=text, location=location)


def _warning(code: str, text: str, location: str | None = None) -> Finding:
    return Finding(severity=Severity.WARNING, code=code, text=text, location=location)
