"""The template layout: one sheet per window, roles in row 1, worklists in column A and a mark under the role
that reads each one."""

import re
from dataclasses import dataclass
from datetime import time

from services.ods_importer.messages import cell_ref, column_letters
from services.ods_importer.ods_reader import Sheet
from shared.kernel.findings import (
    DUPLICATE_WORKLIST,
    EXTRA_BLOCK,
    INVALID_SHEET_NAME,
    MULTIPLE_ROLES_MARKED,
    NO_HEADER_ROW,
    UNEXPECTED_CELL,
    UNKNOWN_ROLE,
    UNMARKED_WORKLIST,
    VALUE_TOO_LONG,
    Finding,
    Severity,
)
from shared.kernel.roles import normalize_role
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Responsibility, Variant, Window

MAX_SHEET_NAME = 200  # template_windows.sheet
MAX_WORKLIST = 200  # template_responsibilities.worklist
MAX_HOSPITAL = 100  # the worklist's first word: template_responsibilities.hospital


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


def parse_window_sheet(sheet: Sheet, findings: list[Finding]) -> Window | None:
    """The window a sheet describes, or None (with an ERROR) when it describes none."""
    name = parse_window_name(sheet.name) if len(sheet.name) <= MAX_SHEET_NAME else None
    if name is None:
        findings.append(invalid_sheet_name(sheet.name))
        return None
    header = sheet.rows[0] if sheet.rows else []
    block = _role_block(header)
    if block is None:
        findings.append(
            NO_HEADER_ROW(
                "Row 1 names no role: every cell right of A1 is empty. Row 1 names the roles above their marks.",
                cell_ref(sheet.name, 0, 0),
            )
        )
        return None
    roles = _header_roles(sheet.name, block, header, findings)
    responsibilities = _responsibilities(sheet, block, roles, findings)
    _report_extra_block(sheet, block.stop, findings)
    return Window(
        sheet=sheet.name,
        category=name.category,
        day_type=name.day_type,
        variant=name.variant,
        start=name.start,
        end=name.end,
        responsibilities=tuple(responsibilities),
    )


def invalid_sheet_name(name: str) -> Finding:
    return INVALID_SHEET_NAME(
        f"Sheet name {name[:MAX_SHEET_NAME]!r} does not name a window like 'Mid Weekday Body 5 pm - 6 pm' "
        f"(category, optional Weekday/Weekend, optional Body/Neuro, hours; at most {MAX_SHEET_NAME} characters); "
        "the sheet is skipped.",
        name[:MAX_SHEET_NAME],
    )


def _role_block(header: list[str]) -> range | None:
    """The role columns: from the first header right of A1 up to the next empty header; None if row 1 has none.

    Empty columns between the worklists and the roles (a column a scheduler inserted) are skipped.
    """
    start = next((column for column in range(1, len(header)) if header[column].strip()), None)
    if start is None:
        return None
    stop = start
    while stop < len(header) and header[stop].strip():
        stop += 1
    return range(start, stop)


def _header_roles(sheet: str, block: range, header: list[str], findings: list[Finding]) -> dict[int, str | None]:
    """Each role column's role; None for a header that names no known role (an ERROR)."""
    roles: dict[int, str | None] = {}
    for column in block:
        text = header[column]
        role = normalize_role(text)
        if role is None:
            findings.append(
                UNKNOWN_ROLE(f"Role header {text.strip()!r} is not a known role.", cell_ref(sheet, 0, column))
            )
        roles[column] = role
    return roles


def _responsibilities(
    sheet: Sheet, block: range, roles: dict[int, str | None], findings: list[Finding]
) -> list[Responsibility]:
    result: list[Responsibility] = []
    seen: set[str] = set()
    for row_index, row in enumerate(sheet.rows):
        if row_index == 0 or not row:
            continue
        marked: list[str | None] = []
        for column in range(1, min(len(row), block.stop)):
            value = row[column]
            if not value or not (value := value.strip()):
                continue
            if column < block.start:
                findings.append(
                    UNEXPECTED_CELL(
                        f"{value!r} is in a column without a role in row 1; it is ignored.",
                        cell_ref(sheet.name, row_index, column),
                    )
                )
            elif value == "x" or value == "X":
                marked.append(roles[column])
            else:
                findings.append(
                    UNEXPECTED_CELL(
                        f"{value!r} is not a mark (x); it is ignored.", cell_ref(sheet.name, row_index, column)
                    )
                )
        worklist = row[0].strip()
        if not worklist:
            if marked:
                findings.append(
                    UNEXPECTED_CELL(
                        "A row has marks but no worklist in column A; it is ignored.",
                        cell_ref(sheet.name, row_index, 0),
                    )
                )
            continue
        if len(marked) == 1 and worklist not in seen and len(worklist) <= MAX_HOSPITAL:
            problem = None  # the common case, checked cheaply
        else:
            problem = _worklist_problem(sheet.name, row_index, worklist, seen, marked)
        seen.add(worklist)
        if problem is not None:
            findings.append(problem)
        if len(marked) == 1 and marked[0] is not None and (problem is None or problem.severity is not Severity.ERROR):
            result.append(Responsibility(worklist=worklist, role=marked[0]))
    return result


def _worklist_problem(
    sheet: str, row_index: int, worklist: str, seen: set[str], marked: list[str | None]
) -> Finding | None:
    if len(worklist) > MAX_WORKLIST or len(worklist.split()[0]) > MAX_HOSPITAL:
        return VALUE_TOO_LONG(
            f"Worklist {worklist[:40]!r}... is too long (at most {MAX_WORKLIST} characters, "
            f"and {MAX_HOSPITAL} for its first word, the hospital).",
            cell_ref(sheet, row_index, 0),
        )
    if worklist in seen:
        return DUPLICATE_WORKLIST(f"{worklist!r} appears twice in window {sheet!r}.", cell_ref(sheet, row_index, 0))
    if not marked:
        return UNMARKED_WORKLIST(f"Nobody reads {worklist!r} in window {sheet!r}.", cell_ref(sheet, row_index, 0))
    if len(marked) > 1:
        names = ", ".join(role or "?" for role in marked)
        return MULTIPLE_ROLES_MARKED(
            f"{worklist!r} is marked for several roles ({names}); exactly one role must read it.",
            cell_ref(sheet, row_index, 0),
        )
    return None


def _report_extra_block(sheet: Sheet, first_column: int, findings: list[Finding]) -> None:
    cells = [
        (row_index, column)
        for row_index, row in enumerate(sheet.rows)
        for column in range(first_column, len(row))
        if row[column].strip()
    ]
    if not cells:
        return
    top, bottom = min(r for r, _ in cells), max(r for r, _ in cells)
    left, right = min(c for _, c in cells), max(c for _, c in cells)
    area = f"{cell_ref(sheet.name, top, left)}:{column_letters(right)}{bottom + 1}"
    findings.append(
        EXTRA_BLOCK(
            f"Sheet {sheet.name!r} has content right of its role columns ({area}); it is ignored, not merged.", area
        )
    )
