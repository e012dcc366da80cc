"""Validation findings: every problem found in a template, an Amion page or a coverage run, and every code a
finding can have (`Code`), with its severity."""

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


class Finding(BaseModel):
    """One problem, in words a scheduler understands, with a stable code and where it was found."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    text: str
    location: str | None = None


@dataclass(frozen=True)
class Code:
    """A finding's code with its severity: calling it builds a finding of that code, the one way to build one."""

    code: str
    severity: Severity

    def __call__(self, text: str, location: str | None = None) -> Finding:
        return Finding(severity=self.severity, code=self.code, text=text, location=location)


# the template (phase 1): fetching it
INVALID_TEMPLATE_SOURCE = Code("INVALID_TEMPLATE_SOURCE", Severity.ERROR)
TEMPLATE_URL_REFUSED = Code("TEMPLATE_URL_REFUSED", Severity.ERROR)
TEMPLATE_FETCH_FAILED = Code("TEMPLATE_FETCH_FAILED", Severity.ERROR)
FILE_TOO_LARGE = Code("FILE_TOO_LARGE", Severity.ERROR)
# the template: reading the ODS package
NOT_AN_ODS = Code("NOT_AN_ODS", Severity.ERROR)
ENCRYPTED_ODS = Code("ENCRYPTED_ODS", Severity.ERROR)
TRUNCATED_FILE = Code("TRUNCATED_FILE", Severity.ERROR)
UNSAFE_XML = Code("UNSAFE_XML", Severity.ERROR)
DECOMPRESSION_BOMB = Code("DECOMPRESSION_BOMB", Severity.ERROR)
TOO_MANY_SHEETS = Code("TOO_MANY_SHEETS", Severity.ERROR)
TOO_MANY_ROWS = Code("TOO_MANY_ROWS", Severity.ERROR)
TOO_MANY_COLUMNS = Code("TOO_MANY_COLUMNS", Severity.ERROR)
TOO_MANY_CELLS = Code("TOO_MANY_CELLS", Severity.ERROR)
ROW_TOO_LARGE = Code("ROW_TOO_LARGE", Severity.ERROR)
CELL_TOO_LONG = Code("CELL_TOO_LONG", Severity.ERROR)
# the template: its sheets, both layouts
UNKNOWN_LAYOUT = Code("UNKNOWN_LAYOUT", Severity.ERROR)
NO_VALID_SHEETS = Code("NO_VALID_SHEETS", Severity.ERROR)
IGNORED_SHEET = Code("IGNORED_SHEET", Severity.WARNING)
INVALID_SHEET_NAME = Code("INVALID_SHEET_NAME", Severity.ERROR)
NO_HEADER_ROW = Code("NO_HEADER_ROW", Severity.ERROR)
UNKNOWN_ROLE = Code("UNKNOWN_ROLE", Severity.ERROR)
VALUE_TOO_LONG = Code("VALUE_TOO_LONG", Severity.ERROR)
DUPLICATE_WORKLIST = Code("DUPLICATE_WORKLIST", Severity.ERROR)
UNMARKED_WORKLIST = Code("UNMARKED_WORKLIST", Severity.WARNING)
MULTIPLE_ROLES_MARKED = Code("MULTIPLE_ROLES_MARKED", Severity.ERROR)
UNEXPECTED_CELL = Code("UNEXPECTED_CELL", Severity.WARNING)
EXTRA_BLOCK = Code("EXTRA_BLOCK", Severity.WARNING)
UNKNOWN_COLUMN = Code("UNKNOWN_COLUMN", Severity.INFO)
DUPLICATE_COLUMN = Code("DUPLICATE_COLUMN", Severity.ERROR)
MISSING_COLUMN = Code("MISSING_COLUMN", Severity.ERROR)
MISSING_VALUE = Code("MISSING_VALUE", Severity.ERROR)
INVALID_DATE = Code("INVALID_DATE", Severity.ERROR)
INVALID_TIME = Code("INVALID_TIME", Severity.ERROR)
INVALID_NUMBER = Code("INVALID_NUMBER", Severity.ERROR)
INVALID_VALUE = Code("INVALID_VALUE", Severity.ERROR)
NO_SHIFTS = Code("NO_SHIFTS", Severity.ERROR)
# the template: expanding it over the period
INVALID_DATE_RANGE = Code("INVALID_DATE_RANGE", Severity.ERROR)
OUTSIDE_PERIOD = Code("OUTSIDE_PERIOD", Severity.WARNING)
NO_SHIFTS_IN_PERIOD = Code("NO_SHIFTS_IN_PERIOD", Severity.ERROR)
# Amion (phase 2): fetching and reading its pages
AMION_SCRAPE_FAILED = Code("AMION_SCRAPE_FAILED", Severity.ERROR)
MONTH_NOT_FETCHED = Code("MONTH_NOT_FETCHED", Severity.ERROR)
AMION_AUTH_FAILED = Code("AMION_AUTH_FAILED", Severity.ERROR)
AMION_ERROR = Code("AMION_ERROR", Severity.ERROR)
LAYOUT_UNRECOGNIZED = Code("LAYOUT_UNRECOGNIZED", Severity.ERROR)
INCOMPLETE_PAGE = Code("INCOMPLETE_PAGE", Severity.ERROR)
EMPTY_MONTH = Code("EMPTY_MONTH", Severity.WARNING)
BAD_ROW = Code("BAD_ROW", Severity.WARNING)
BAD_CELL = Code("BAD_CELL", Severity.WARNING)
UNFILLED_SLOTS = Code("UNFILLED_SLOTS", Severity.INFO)
# Amion: matching its labels and names
INVALID_ROLE_MAPPING = Code("INVALID_ROLE_MAPPING", Severity.ERROR)
UNMAPPED_LABEL = Code("UNMAPPED_LABEL", Severity.WARNING)
UNKNOWN_PEOPLE = Code("UNKNOWN_PEOPLE", Severity.WARNING)
AMBIGUOUS_PERSON = Code("AMBIGUOUS_PERSON", Severity.WARNING)
# coverage (phase 3)
WORKLIST_SPECIALTY_CONFLICT = Code("WORKLIST_SPECIALTY_CONFLICT", Severity.INFO)
DUPLICATE_ASSIGNMENT = Code("DUPLICATE_ASSIGNMENT", Severity.WARNING)
MISSING_MIDC = Code("MISSING_MIDC", Severity.WARNING)
DOUBLE_BOOKED = Code("DOUBLE_BOOKED", Severity.WARNING)
UNKNOWN_PERSON = Code("UNKNOWN_PERSON", Severity.WARNING)
REST_VIOLATION = Code("REST_VIOLATION", Severity.WARNING)
SPECIALTY_CONSTRAINT = Code("SPECIALTY_CONSTRAINT", Severity.WARNING)
OVERRIDE_CONFLICTS_WITH_AMION = Code("OVERRIDE_CONFLICTS_WITH_AMION", Severity.WARNING)
DRIFT = Code("DRIFT", Severity.INFO)


def has_errors(findings: "list[Finding] | tuple[Finding, ...]") -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
