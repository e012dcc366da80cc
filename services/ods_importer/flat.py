"""The flat layout: one row per dated shift under a header row
`Date, ShiftType, Hospital, StudyType, SpecialtyConstraint, DesiredCoverage, Mandatory, Start, End`."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import TypeVar

from services.ods_importer.messages import cell_ref
from services.ods_importer.ods_reader import Sheet
from shared.kernel.findings import (
    DUPLICATE_COLUMN,
    INVALID_DATE,
    INVALID_NUMBER,
    INVALID_TIME,
    INVALID_VALUE,
    MISSING_COLUMN,
    MISSING_VALUE,
    UNKNOWN_COLUMN,
    Code,
    Finding,
)
from shared.kernel.roles import normalize_role

MAX_ROLE = 30  # shift_instances.role
MAX_LABEL = 100  # shift_instances.hospital, shift_instances.study_type
MAX_DESIRED_COVERAGE = 100
HEADER_SEARCH_ROWS = 10  # title rows above the header are allowed

COLUMNS = (
    "Date",
    "ShiftType",
    "Hospital",
    "StudyType",
    "SpecialtyConstraint",
    "DesiredCoverage",
    "Mandatory",
    "Start",
    "End",
)
REQUIRED = ("Date", "ShiftType", "Start", "End")
EXPECTED_HEADER = ", ".join(COLUMNS)

# header text with case, spaces and punctuation folded away -> column
_HEADER_NAMES = {
    "date": "Date",
    "shiftdate": "Date",
    "scheduledate": "Date",
    "shifttype": "ShiftType",
    "shift": "ShiftType",
    "role": "ShiftType",
    "hospital": "Hospital",
    "site": "Hospital",
    "studytype": "StudyType",
    "study": "StudyType",
    "specialtyconstraint": "SpecialtyConstraint",
    "specialty": "SpecialtyConstraint",
    "desiredcoverage": "DesiredCoverage",
    "requiredstaffing": "DesiredCoverage",
    "coverage": "DesiredCoverage",
    "staffing": "DesiredCoverage",
    "mandatory": "Mandatory",
    "start": "Start",
    "starttime": "Start",
    "end": "End",
    "endtime": "End",
}
_SPECIALTIES = {"body": "BODY", "bodyonly": "BODY", "neuro": "NEURO", "neuroonly": "NEURO"}
_NO_SPECIALTY = {"", "none", "any", "both", "na"}
_TRUE = {"true", "yes", "y", "1", "x"}
_FALSE = {"false", "no", "n", "0"}
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]*)?")
_TIME_24H = re.compile(r"(?:\d{4}-\d{2}-\d{2}T)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")
_TIME_12H = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?")

_T = TypeVar("_T")


@dataclass(frozen=True)
class FlatRow:
    """One row of the flat layout, checked. `start`/`end` are local wall-clock times on `schedule_date`;
    an end at or before the start falls on the next day."""

    schedule_date: date
    role: str  # canonical role when the ShiftType names one, else the ShiftType as written
    hospital: str | None
    study_type: str | None
    specialty_constraint: str | None  # BODY | NEURO | None
    desired_coverage: int
    mandatory: bool
    start: time
    end: time
    location: str  # sheet!A<row>


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def header_columns(sheet: Sheet) -> tuple[int, dict[str, int]] | None:
    """(row index, column of each recognised header) of the flat header row: a row naming Date and at least
    two other flat columns; None when the sheet has no such row."""
    for row_index, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for column, text in enumerate(row):
            name = _HEADER_NAMES.get(_fold(text))
            if name is not None:
                columns.setdefault(name, column)
        if "Date" in columns and len(columns) >= 3:
            return row_index, columns
    return None


def parse_flat_sheet(sheet: Sheet, header_row: int, findings: list[Finding]) -> list[FlatRow]:
    columns = _header(sheet, header_row, findings)
    if columns is None:
        return []
    shifts: list[FlatRow] = []
    for row_index in range(header_row + 1, len(sheet.rows)):
        row = sheet.rows[row_index]
        if any(row[column].strip() for column in columns.values() if column < len(row)):  # else: not a shift
            shift = _RowReader(sheet.name, row_index, row, columns, findings).shift()
            if shift is not None:
                shifts.append(shift)
    return shifts


def _header(sheet: Sheet, header_row: int, findings: list[Finding]) -> dict[str, int] | None:
    """The column of each flat column; None (with ERRORs) when a required one is missing or one appears twice."""
    columns: dict[str, int] = {}
    usable = True
    for column, text in enumerate(sheet.rows[header_row]):
        if not text.strip():
            continue
        where = cell_ref(sheet.name, header_row, column)
        name = _HEADER_NAMES.get(_fold(text))
        label = text.strip()
        if name is None:
            findings.append(UNKNOWN_COLUMN(f"Column {label!r} is not a flat-layout column; ignored.", where))
        elif name in columns:
            findings.append(DUPLICATE_COLUMN(f"Column {name} appears twice (here as {label!r}).", where))
            usable = False
        else:
            columns[name] = column
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        findings.append(
            MISSING_COLUMN(
                f"The header row lacks {', '.join(missing)}; the flat layout's columns are {EXPECTED_HEADER}.",
                cell_ref(sheet.name, header_row, 0),
            )
        )
        usable = False
    return columns if usable else None


class _RowReader:
    """Reads one flat row; every bad cell becomes an ERROR at that cell, and the row yields no shift."""

    def __init__(
        self, sheet: str, row_index: int, row: list[str], columns: dict[str, int], findings: list[Finding]
    ) -> None:
        self.sheet = sheet
        self.row_index = row_index
        self.row = row
        self.columns = columns
        self.findings = findings
        self.failed = False

    def shift(self) -> FlatRow | None:
        schedule_date = self._read("Date", _parse_date, INVALID_DATE, "a date (an ODS date, or text YYYY-MM-DD)")
        role = self._read("ShiftType", _parse_role, INVALID_VALUE, f"a shift type of at most {MAX_ROLE} characters")
        hospital = self._read("Hospital", _parse_label, INVALID_VALUE, f"at most {MAX_LABEL} characters")
        study_type = self._read("StudyType", _parse_label, INVALID_VALUE, f"at most {MAX_LABEL} characters")
        specialty = self._read("SpecialtyConstraint", _parse_specialty, INVALID_VALUE, "Body, Neuro or empty")
        desired = self._read(
            "DesiredCoverage", _parse_coverage, INVALID_NUMBER, f"a whole number from 1 to {MAX_DESIRED_COVERAGE}"
        )
        mandatory = self._read("Mandatory", _parse_bool, INVALID_VALUE, "yes or no (true/false, 1/0)")
        start = self._read("Start", _parse_time, INVALID_TIME, "a time such as 17:00 or 5 pm")
        end = self._read("End", _parse_time, INVALID_TIME, "a time such as 08:00 or 8 am")
        if self.failed:
            return None
        assert schedule_date is not None and role is not None and start is not None and end is not None
        return FlatRow(
            schedule_date=schedule_date,
            role=role,
            hospital=hospital,
            study_type=study_type,
            specialty_constraint=specialty,
            desired_coverage=1 if desired is None else desired,
            mandatory=True if mandatory is None else mandatory,
            start=start,
            end=end,
            location=cell_ref(self.sheet, self.row_index, 0),
        )

    def _read(self, name: str, parse: Callable[[str], _T], code: Code, expected: str) -> _T | None:
        """The parsed cell; None for an empty optional cell. An unparseable or missing required one is an ERROR."""
        column = self.columns.get(name)
        text = self.row[column].strip() if column is not None and column < len(self.row) else ""
        if not text:
            if name in REQUIRED:
                self._fail(MISSING_VALUE, f"{name} is empty; every shift needs one.", column)
            return None
        try:
            return parse(text)
        except ValueError:
            self._fail(code, f"{name} {text[:60]!r} is not {expected}.", column)
            return None

    def _fail(self, code: Code, text: str, column: int | None) -> None:
        self.failed = True
        where = cell_ref(self.sheet, self.row_index, column if column is not None else 0)
        self.findings.append(code(text, where))


def _parse_date(text: str) -> date:
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return date(*(int(part) for part in match.groups()))


def _parse_time(text: str) -> time:
    folded = text.lower()
    if folded in ("midnight", "24:00"):
        return time(0)
    if folded == "noon":
        return time(12)
    if match := _TIME_24H.fullmatch(folded):
        return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    if (match := _TIME_12H.fullmatch(folded)) and 1 <= int(match.group(1)) <= 12:
        return time(int(match.group(1)) % 12 + (12 if match.group(3) == "p" else 0), int(match.group(2) or 0))
    raise ValueError(text)


def _parse_role(text: str) -> str:
    role = normalize_role(text) or " ".join(text.split())
    return _bounded(role, MAX_ROLE)


def _parse_label(text: str) -> str:
    return _bounded(text, MAX_LABEL)


def _bounded(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(text)
    return text


def _parse_specialty(text: str) -> str | None:
    folded = _fold(text)
    if folded in _NO_SPECIALTY:
        return None
    if folded not in _SPECIALTIES:
        raise ValueError(text)
    return _SPECIALTIES[folded]


def _parse_coverage(text: str) -> int:
    number = float(text)
    if not number.is_integer() or not 1 <= number <= MAX_DESIRED_COVERAGE:
        raise ValueError(text)
    return int(number)


def _parse_bool(text: str) -> bool:
    folded = text.lower()
    if folded not in _TRUE and folded not in _FALSE:
        raise ValueError(text)
    return folded in _TRUE
