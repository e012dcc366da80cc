"""A workbook in either layout, detected from its sheets: the template (one sheet per window) or the flat
layout (one row per dated shift). Sheets are read one at a time and none is kept once parsed."""

from collections.abc import Iterable
from dataclasses import dataclass

from services.ods_importer import flat
from services.ods_importer.flat import FlatRow
from services.ods_importer.ods_reader import DEFAULT_LIMITS, OdsLimits, OdsReadError, Sheet, iter_sheets
from services.ods_importer.template import invalid_sheet_name, parse_window_name, parse_window_sheet
from shared.kernel.findings import IGNORED_SHEET, NO_SHIFTS, NO_VALID_SHEETS, UNKNOWN_LAYOUT, Finding
from shared.kernel.states import Layout
from shared.kernel.template_model import Window
from shared.settings import Settings


@dataclass(frozen=True)
class ParsedWorkbook:
    layout: Layout | None  # None: neither layout was recognised (an ERROR says so)
    windows: tuple[Window, ...]  # TEMPLATE only
    shifts: tuple[FlatRow, ...]  # FLAT only
    findings: tuple[Finding, ...]


EXPECTED_LAYOUTS = (
    "Expected either the template layout (one sheet per window, named like 'Mid Weekday Body 5 pm - 6 pm', "
    "with role names in row 1 and worklists in column A) or the flat layout (a sheet whose header row is "
    f"{flat.EXPECTED_HEADER})."
)


def reader_limits(settings: Settings) -> OdsLimits:
    return OdsLimits(
        max_file_bytes=settings.max_template_bytes,
        max_decompressed_bytes=settings.max_template_decompressed_bytes,
        max_sheets=settings.max_template_sheets,
        max_rows=settings.max_template_rows,
        max_columns=settings.max_template_columns,
    )


def parse_workbook(data: bytes, limits: OdsLimits = DEFAULT_LIMITS) -> ParsedWorkbook:
    """Never raises on bad input: every problem is a finding."""
    try:
        return parse_sheets(iter_sheets(data, limits))
    except OdsReadError as exc:
        return ParsedWorkbook(layout=None, windows=(), shifts=(), findings=(exc.finding,))


def parse_sheets(sheets: Iterable[Sheet]) -> ParsedWorkbook:
    parser = _WorkbookParser()
    for sheet in sheets:
        parser.add(sheet)
    return parser.result()


@dataclass(frozen=True)
class _Unrecognised:
    """A sheet seen before the layout was known: only what its report needs is kept."""

    name: str
    empty: bool


class _WorkbookParser:
    """The first sheet that is recognisably in one layout decides the workbook's layout."""

    def __init__(self) -> None:
        self.layout: Layout | None = None
        self.windows: list[Window] = []
        self.shifts: list[FlatRow] = []
        self.findings: list[Finding] = []
        self.unrecognised: list[_Unrecognised] = []

    def add(self, sheet: Sheet) -> None:
        header = None
        if self.layout is None:
            if parse_window_name(sheet.name) is not None:
                self._decide(Layout.TEMPLATE)
            elif (header := flat.header_columns(sheet)) is not None:
                self._decide(Layout.FLAT)
            else:
                self.unrecognised.append(_Unrecognised(sheet.name, not any(sheet.rows)))
                return
        if self.layout is Layout.TEMPLATE:
            window = parse_window_sheet(sheet, self.findings)
            if window is not None:
                self.windows.append(window)
            return
        header = header or flat.header_columns(sheet)
        if header is not None:
            self.shifts.extend(flat.parse_flat_sheet(sheet, header[0], self.findings))
        elif any(sheet.rows):
            self._ignore_flat(sheet.name)

    def _decide(self, layout: Layout) -> None:
        self.layout = layout
        for sheet in self.unrecognised:
            if layout is Layout.TEMPLATE:
                self.findings.append(invalid_sheet_name(sheet.name))
            elif not sheet.empty:
                self._ignore_flat(sheet.name)
        self.unrecognised = []

    def _ignore_flat(self, name: str) -> None:
        self.findings.append(
            IGNORED_SHEET(f"Sheet {name!r} has no header row naming {', '.join(flat.REQUIRED)}; it is ignored.", name)
        )

    def result(self) -> ParsedWorkbook:
        if self.layout is None:
            names = ", ".join(repr(s.name) for s in self.unrecognised[:5])
            more = f" and {len(self.unrecognised) - 5} more" if len(self.unrecognised) > 5 else ""
            found = f"Its sheets ({names}{more}) are in neither layout." if self.unrecognised else "It has no sheet."
            text = f"The workbook is in no known layout. {found} {EXPECTED_LAYOUTS}"
            self.findings.append(UNKNOWN_LAYOUT(text))
        elif self.layout is Layout.TEMPLATE and not self.windows:
            self.findings.append(NO_VALID_SHEETS("No sheet of the template describes a coverage window."))
        elif self.layout is Layout.FLAT and not self.shifts:
            self.findings.append(NO_SHIFTS("The flat layout's sheets hold no valid shift row."))
        return ParsedWorkbook(
            layout=self.layout, windows=tuple(self.windows), shifts=tuple(self.shifts), findings=tuple(self.findings)
        )
