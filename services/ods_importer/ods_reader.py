"""Safe streaming reader of ODS spreadsheets: sheets as rows of cell text, under hard size limits.

Why a streaming lxml pass and not ezodf (measured, see design.md "Reading ODS"): ezodf with its defaults
returns a run of 32 or more identical repeated rows as a single row, has no size limit (a 3 MB zip bomb
grew past 4 GB) and builds the whole document in memory. Here `content.xml` is read with
`lxml.etree.iterparse`, any DOCTYPE is refused, declared and actual decompressed sizes are bounded,
repeated rows and columns are expanded under a cell budget, and each row is dropped from the tree once read
(bench/ods_bench.py: flat memory whatever the number of sheets, within 2x of a plain iterparse pass).
"""

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TypeVar

from lxml import etree

from shared.kernel.findings import (
    CELL_TOO_LONG,
    DECOMPRESSION_BOMB,
    ENCRYPTED_ODS,
    FILE_TOO_LARGE,
    NOT_AN_ODS,
    ROW_TOO_LARGE,
    TOO_MANY_CELLS,
    TOO_MANY_COLUMNS,
    TOO_MANY_ROWS,
    TOO_MANY_SHEETS,
    TRUNCATED_FILE,
    UNSAFE_XML,
    Finding,
)

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"

_T_TABLE = f"{{{_TABLE}}}table"
_T_ROW = f"{{{_TABLE}}}table-row"
_T_CELL = f"{{{_TABLE}}}table-cell"
_T_COVERED = f"{{{_TABLE}}}covered-table-cell"
_T_NAME = f"{{{_TABLE}}}name"
_T_ROWS_REPEATED = f"{{{_TABLE}}}number-rows-repeated"
_T_COLS_REPEATED = f"{{{_TABLE}}}number-columns-repeated"
_O_VALUE_TYPE = f"{{{_OFFICE}}}value-type"
_O_DATE_VALUE = f"{{{_OFFICE}}}date-value"
_O_TIME_VALUE = f"{{{_OFFICE}}}time-value"
_O_BOOLEAN_VALUE = f"{{{_OFFICE}}}boolean-value"
_O_VALUE = f"{{{_OFFICE}}}value"
_O_AUTOMATIC_STYLES = f"{{{_OFFICE}}}automatic-styles"
_O_FONT_FACE_DECLS = f"{{{_OFFICE}}}font-face-decls"
_X_P = f"{{{_TEXT}}}p"
_X_H = f"{{{_TEXT}}}h"
_X_S = f"{{{_TEXT}}}s"
_X_C = f"{{{_TEXT}}}c"
_X_TAB = f"{{{_TEXT}}}tab"
_X_LINE_BREAK = f"{{{_TEXT}}}line-break"
_M_ENCRYPTION = f"{{{_MANIFEST}}}encryption-data"

_STREAM_TAGS = (_T_TABLE, _T_ROW, _O_AUTOMATIC_STYLES, _O_FONT_FACE_DECLS)
_UNSAFE_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_MANIFEST_NAME = "META-INF/manifest.xml"
_CONTENT_NAME = "content.xml"
_ENCRYPTED_TEXT = "The file is password-protected; save it without a password and upload again."
_EXCEL_TEXT = "The file looks like an Excel workbook (.xlsx), not an ODS: save it as .ods and upload again."

_T = TypeVar("_T")
_PURGE_EVERY = 256  # rows emptied one by one, dropped from the tree together


@dataclass(frozen=True)
class OdsLimits:
    max_file_bytes: int = 10_000_000
    max_decompressed_bytes: int = 100_000_000  # per zip member
    max_sheets: int = 200
    max_rows: int = 100_000  # per sheet
    max_columns: int = 1_000  # per row
    max_cells: int = 2_000_000  # whole document, after expanding repeats
    max_cell_chars: int = 100_000  # after expanding <text:s text:c="..."/>
    max_row_bytes: int = 4_000_000  # XML of one row: bounds the tree built before the row is read


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[str]] = field(default_factory=list)


DEFAULT_LIMITS = OdsLimits()


class OdsReadError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(f"{finding.code}: {finding.text}")
        self.finding = finding


def iter_sheets(data: bytes, limits: OdsLimits = OdsLimits()) -> Iterator[Sheet]:
    """Check the package at once, then stream its sheets one by one; every problem is an OdsReadError."""
    if len(data) > limits.max_file_bytes:
        raise OdsReadError(
            FILE_TOO_LARGE(f"The file is {len(data):,} bytes; the limit is {limits.max_file_bytes:,} bytes.")
        )
    package = _open_package(data, limits)
    return _stream_sheets(package, limits)


def _open_package(data: bytes, limits: OdsLimits) -> zipfile.ZipFile:
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        if data.startswith(b"PK\x03\x04"):
            raise OdsReadError(
                TRUNCATED_FILE("The file starts like an ODS but its end is missing: it is truncated.")
            ) from exc
        raise OdsReadError(NOT_AN_ODS("The file is not an ODS spreadsheet (it is not a zip archive).")) from exc
    names = set(package.namelist())
    if "mimetype" not in names:
        if _looks_like_excel(names, ""):
            raise OdsReadError(NOT_AN_ODS(_EXCEL_TEXT))
        raise OdsReadError(NOT_AN_ODS("The file is a zip archive but not an ODS spreadsheet (no mimetype)."))
    mimetype = _read_member(package, "mimetype", 1024).decode("ascii", "replace").strip()
    if mimetype != ODS_MIMETYPE:
        if _looks_like_excel(names, mimetype):
            raise OdsReadError(NOT_AN_ODS(_EXCEL_TEXT))
        raise OdsReadError(NOT_AN_ODS(f"The file is not an ODS spreadsheet (its type is {mimetype!r})."))
    if _MANIFEST_NAME in names:
        _check_manifest(_read_member(package, _MANIFEST_NAME, limits.max_decompressed_bytes))
    if _CONTENT_NAME not in names:
        raise OdsReadError(NOT_AN_ODS("The ODS file is incomplete: content.xml is missing."))
    _check_declared_size(package.getinfo(_CONTENT_NAME), limits.max_decompressed_bytes)
    return package


def _looks_like_excel(names: set[str], mimetype: str) -> bool:
    return "[Content_Types].xml" in names or "openxmlformats" in mimetype or "ms-excel" in mimetype


def _check_declared_size(info: zipfile.ZipInfo, limit: int) -> None:
    if info.file_size > limit:
        raise OdsReadError(
            DECOMPRESSION_BOMB(
                f"{info.filename} would unpack to {info.file_size:,} bytes; the limit is {limit:,} bytes.",
                info.filename,
            )
        )


def _read_member(package: zipfile.ZipFile, name: str, limit: int) -> bytes:
    _check_declared_size(package.getinfo(name), limit)
    with _open_member(package, name, limit) as stream:
        return _guard_zip_errors(stream.readall, name)


def _open_member(package: zipfile.ZipFile, name: str, limit: int) -> "_GuardedReader":
    try:
        return _GuardedReader(package.open(name), limit, name)
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise OdsReadError(ENCRYPTED_ODS(_ENCRYPTED_TEXT)) from exc
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError) as exc:
        raise OdsReadError(TRUNCATED_FILE(f"The file is damaged: {name} cannot be opened.", name)) from exc


def _guard_zip_errors(read: Callable[[], _T], name: str) -> _T:
    try:
        return read()
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise OdsReadError(
            TRUNCATED_FILE(f"The file is damaged or truncated: {name} cannot be read to the end.", name)
        ) from exc


def _check_manifest(manifest: bytes) -> None:
    try:
        root = etree.fromstring(manifest, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise OdsReadError(
            TRUNCATED_FILE("The file is damaged: its manifest is not readable.", _MANIFEST_NAME)
        ) from exc
    if _has_dtd(root):
        raise _unsafe(_MANIFEST_NAME)
    if next(root.iter(_M_ENCRYPTION), None) is not None:
        raise OdsReadError(ENCRYPTED_ODS(_ENCRYPTED_TEXT))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _has_dtd(elem: etree._Element) -> bool:
    docinfo = elem.getroottree().docinfo
    return bool(docinfo.doctype) or docinfo.internalDTD is not None


def _unsafe(member: str) -> OdsReadError:
    return OdsReadError(UNSAFE_XML(f"{member} contains a DOCTYPE or entity declaration, which is refused.", member))


class _GuardedReader(io.RawIOBase):
    """A zip member as a stream that refuses DOCTYPE/ENTITY markup and more than `limit` bytes.

    The byte count does not trust the size the zip header declares.
    """

    def __init__(self, raw: IO[bytes], limit: int, name: str) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._name = name
        self._tail = b""
        self.count = 0
        self.span_start = 0  # moved on by the caller, e.g. at the end of every row
        self._span_limit: int | None = None
        self._span_sheet = ""

    def bound_span(self, limit: int | None, sheet: str) -> None:
        """From here on, refuse more than `limit` bytes past `span_start` (None: no bound)."""
        self.span_start = self.count
        self._span_limit = limit
        self._span_sheet = sheet

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(size if size is not None and size >= 0 else self._limit + 1)
        self.count += len(data)
        if self.count > self._limit:
            raise OdsReadError(
                DECOMPRESSION_BOMB(f"{self._name} unpacks to more than {self._limit:,} bytes.", self._name)
            )
        if self._span_limit is not None and self.count - self.span_start > self._span_limit:
            raise OdsReadError(
                ROW_TOO_LARGE(
                    f"Sheet {self._span_sheet!r} has a row of more than {self._span_limit:,} bytes, the limit.",
                    self._span_sheet,
                )
            )
        window = self._tail + data  # a marker may straddle two reads
        if any(marker in window for marker in _UNSAFE_MARKERS):
            raise _unsafe(self._name)
        self._tail = window[-16:]
        return data

    def readall(self) -> bytes:
        return b"".join(iter(lambda: self.read(64 * 1024), b""))

    def close(self) -> None:
        self._raw.close()
        super().close()


def _stream_sheets(package: zipfile.ZipFile, limits: OdsLimits) -> Iterator[Sheet]:
    with package, _open_member(package, _CONTENT_NAME, limits.max_decompressed_bytes) as member:
        events = etree.iterparse(
            member,
            events=("start", "end"),
            tag=_STREAM_TAGS,
            remove_comments=True,
            remove_pis=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        try:
            yield from _SheetBuilder(limits, member).consume(events)
            if _has_dtd(events.root):
                raise _unsafe(_CONTENT_NAME)
        except etree.XMLSyntaxError as exc:
            raise OdsReadError(
                TRUNCATED_FILE(
                    "The file is damaged or truncated: content.xml breaks off before the spreadsheet ends.",
                    _CONTENT_NAME,
                )
            ) from exc
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise OdsReadError(
                TRUNCATED_FILE(
                    "The file is damaged or truncated: content.xml cannot be read to the end.", _CONTENT_NAME
                )
            ) from exc


class _SheetBuilder:
    """Turns iterparse events into Sheets, one row element at a time.

    Events come per row, not per cell: a Python step per cell event would cost more than the whole XML parse.
    A row's cells are walked once the row has ended; the reader bounds how much XML one row may hold, so a
    single giant row cannot build a giant tree. Runs of empty cells or rows are only counted, and
    materialised once a non-empty one follows, so the huge trailing runs LibreOffice writes cost nothing;
    every materialised cell is charged to the budget.
    """

    def __init__(self, limits: OdsLimits, member: "_GuardedReader") -> None:
        self.limits = limits
        self.member = member
        self.sheet_count = 0
        self.cell_count = 0
        self.table_depth = 0  # sub-tables inside cells are skipped
        self.name = ""
        self.rows: list[list[str]] = []
        self.pending_rows = 0
        self.cleared_rows = 0  # rows read and emptied, still in the tree until the next purge

    def consume(self, events: "etree.iterparse") -> Iterator[Sheet]:
        dtd_checked = False
        for event, elem in events:
            if not dtd_checked:
                if _has_dtd(elem):
                    raise _unsafe(_CONTENT_NAME)
                dtd_checked = True
            tag = elem.tag
            if tag == _T_ROW:
                if event == "end" and self.table_depth == 1:
                    self._add_row(elem)
                    self.member.span_start = self.member.count
                    elem.clear()
                    self.cleared_rows += 1
                    if self.cleared_rows == _PURGE_EVERY:
                        _free(elem)
                        self.cleared_rows = 0
            elif tag == _T_TABLE:
                sheet = self._on_table(event, elem)
                if sheet is not None:
                    yield sheet
            elif event == "end" and self.table_depth == 0:
                elem.clear()  # styles and font declarations: not needed

    def _on_table(self, event: str, elem: etree._Element) -> Sheet | None:
        if event == "start":
            self.table_depth += 1
            if self.table_depth == 1:
                self.sheet_count += 1
                if self.sheet_count > self.limits.max_sheets:
                    raise OdsReadError(
                        TOO_MANY_SHEETS(f"The file has more than {self.limits.max_sheets} sheets, the limit.")
                    )
                self.name = elem.get(_T_NAME) or f"Sheet{self.sheet_count}"
                self.rows = []
                self.pending_rows = 0
                self.member.bound_span(self.limits.max_row_bytes, self.name)
            return None
        self.table_depth -= 1
        if self.table_depth != 0:
            return None
        self.member.bound_span(None, self.name)
        _free(elem)
        sheet = Sheet(self.name, self.rows)
        self.rows = []
        return sheet

    def _add_row(self, row: etree._Element) -> None:
        cells: list[str] = []
        pending = 0  # empty cells not yet materialised
        max_columns, max_chars = self.limits.max_columns, self.limits.max_cell_chars
        # ODF allows only (covered) table cells in a row, and the parser drops comments and processing
        # instructions: every child is a cell, so none needs its tag checked
        for cell in row:
            value_type = cell.get(_O_VALUE_TYPE)
            if value_type is None or value_type == "string":
                children = len(cell)
                if not children:
                    text = ""
                elif children == 1 and not len(first := cell[0]):
                    text = first.text or ""  # the common case: one plain paragraph
                else:
                    text = _rich_text(cell)
            else:
                text = _typed_value(cell, value_type) or _rich_text(cell)
            repeated = cell.get(_T_COLS_REPEATED)
            if not text:
                pending += 1 if repeated is None else _count(repeated)
                continue
            repeat = 1 if repeated is None else _count(repeated)
            if len(text) > max_chars:
                raise OdsReadError(
                    CELL_TOO_LONG(f"Sheet {self.name!r} has a cell longer than {max_chars:,} characters.", self.name)
                )
            if len(cells) + pending + repeat > max_columns:
                raise OdsReadError(
                    TOO_MANY_COLUMNS(
                        f"Sheet {self.name!r} has a row wider than {max_columns} columns, the limit.", self.name
                    )
                )
            if pending:
                cells.extend([""] * pending)
                pending = 0
            if repeat == 1:
                cells.append(text)
            else:
                cells.extend([text] * repeat)
        repeated = row.get(_T_ROWS_REPEATED)
        repeat = 1 if repeated is None else _count(repeated)
        if not cells:
            self.pending_rows += repeat
            return
        if len(self.rows) + self.pending_rows + repeat > self.limits.max_rows:
            raise OdsReadError(
                TOO_MANY_ROWS(f"Sheet {self.name!r} has more than {self.limits.max_rows:,} rows, the limit.", self.name)
            )
        self.cell_count += len(cells) * repeat
        if self.cell_count > self.limits.max_cells:
            raise OdsReadError(TOO_MANY_CELLS(f"The file has more than {self.limits.max_cells:,} cells, the limit."))
        if self.pending_rows:
            self.rows.extend([] for _ in range(self.pending_rows))
            self.pending_rows = 0
        self.rows.append(cells)
        if repeat > 1:
            self.rows.extend(list(cells) for _ in range(repeat - 1))


def _free(elem: etree._Element) -> None:
    """Empty an element read to its end, and drop its earlier siblings from the tree."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        del parent[: parent.index(elem)]


_DURATION = re.compile(r"PT(\d{1,2})H(\d{1,2})M(\d{1,2})(?:[.,]\d+)?S")
_MAX_COUNT = 999_999_999


def _count(value: str) -> int:
    """number-*-repeated: a count from 1 to 999,999,999; anything else counts as 1."""
    try:
        count = int(value)
    except ValueError:
        return 1
    return count if 1 <= count <= _MAX_COUNT else 1


def _rich_text(cell: etree._Element) -> str:
    """Paragraphs joined by newlines; spaces, tabs, line breaks and spans inside them as written."""
    parts: list[str] = []
    for paragraph in cell:
        if paragraph.tag in (_X_P, _X_H):
            if parts:
                parts.append("\n")
            _inline_text(paragraph, parts)
    return "".join(parts)


def _typed_value(cell: etree._Element, value_type: str) -> str | None:
    if value_type == "date":
        return cell.get(_O_DATE_VALUE)
    if value_type == "time":
        match = _DURATION.fullmatch(cell.get(_O_TIME_VALUE) or "")
        if match is None or int(match.group(1)) > 23:
            return None
        hours, minutes, seconds = (int(g) for g in match.groups())
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value_type == "boolean":
        return cell.get(_O_BOOLEAN_VALUE)
    if value_type in ("float", "percentage", "currency"):
        return cell.get(_O_VALUE)
    return None


def _inline_text(elem: etree._Element, parts: list[str]) -> None:
    parts.append(elem.text or "")
    for child in elem:
        if child.tag == _X_S:
            # text:c is attacker-controlled: never build more spaces than a cell may hold
            count = child.get(_X_C)
            parts.append(" " * (1 if count is None else min(_count(count), 100_001)))
        elif child.tag == _X_TAB:
            parts.append("\t")
        elif child.tag == _X_LINE_BREAK:
            parts.append("\n")
        elif isinstance(child.tag, str):
            _inline_text(child, parts)
        parts.append(child.tail or "")
