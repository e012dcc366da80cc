"""Safe streaming reader of ODS spreadsheets: sheets as rows of cell text, under hard size limits.

Why a streaming lxml pass and not ezodf (measured, see design.md "Reading ODS"): ezodf with its defaults
returns a run of 32 or more identical repeated rows as a single row, has no size limit (a 3 MB zip bomb
grew past 4 GB) and builds the whole document in memory. Here `content.xml` is read with
`lxml.etree.iterparse`, any DOCTYPE is refused, declared and actual decompressed sizes are bounded,
repeated rows and columns are expanded under a cell budget, and each element is freed once read.
"""

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TypeVar

from lxml import etree

from shared.findings import Finding, Severity

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"

_T_TABLE = f"{{{_TABLE}}}table"
_T_ROW = f"{{{_TABLE}}}table-row"
_T_CELL = f"{{{_TABLE}}}table-cell"
_T_COVERED = f"{{{_TABLE}}}covered-table-cell"
_T_COLUMN = f"{{{_TABLE}}}table-column"
_T_NAME = f"{{{_TABLE}}}name"
_T_ROWS_REPEATED = f"{{{_TABLE}}}number-rows-repeated"
_T_COLS_REPEATED = f"{{{_TABLE}}}number-columns-repeated"
_O_VALUE_TYPE = f"{{{_OFFICE}}}value-type"
_O_DATE_VALUE = f"{{{_OFFICE}}}date-value"
_O_AUTOMATIC_STYLES = f"{{{_OFFICE}}}automatic-styles"
_O_FONT_FACE_DECLS = f"{{{_OFFICE}}}font-face-decls"
_X_P = f"{{{_TEXT}}}p"
_X_H = f"{{{_TEXT}}}h"
_X_S = f"{{{_TEXT}}}s"
_X_C = f"{{{_TEXT}}}c"
_X_TAB = f"{{{_TEXT}}}tab"
_X_LINE_BREAK = f"{{{_TEXT}}}line-break"
_M_ENCRYPTION = f"{{{_MANIFEST}}}encryption-data"

_STREAM_TAGS = (_T_TABLE, _T_ROW, _T_CELL, _T_COVERED, _T_COLUMN, _O_AUTOMATIC_STYLES, _O_FONT_FACE_DECLS)
_UNSAFE_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_MANIFEST_NAME = "META-INF/manifest.xml"
_CONTENT_NAME = "content.xml"
_ENCRYPTED_TEXT = "The file is password-protected; save it without a password and upload again."
_EXCEL_TEXT = "The file looks like an Excel workbook (.xlsx), not an ODS: save it as .ods and upload again."

_T = TypeVar("_T")


@dataclass(frozen=True)
class OdsLimits:
    max_file_bytes: int = 10_000_000
    max_decompressed_bytes: int = 100_000_000  # per zip member
    max_sheets: int = 200
    max_rows: int = 100_000  # per sheet
    max_columns: int = 1_000  # per row
    max_cells: int = 2_000_000  # whole document, after expanding repeats
    max_cell_chars: int = 100_000  # after expanding <text:s text:c="..."/>


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[str]] = field(default_factory=list)


DEFAULT_LIMITS = OdsLimits()


class OdsReadError(Exception):
    def __init__(self, code: str, text: str, location: str | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.finding = Finding(severity=Severity.ERROR, code=code, text=text, location=location)


def iter_sheets(data: bytes, limits: OdsLimits = OdsLimits()) -> Iterator[Sheet]:
    """Check the package at once, then stream its sheets one by one; every problem is an OdsReadError."""
    if len(data) > limits.max_file_bytes:
        raise OdsReadError(
            "FILE_TOO_LARGE",
            f"The file is {len(data):,} bytes; the limit is {limits.max_file_bytes:,} bytes.",
        )
    package = _open_package(data, limits)
    return _stream_sheets(package, limits)


def _open_package(data: bytes, limits: OdsLimits) -> zipfile.ZipFile:
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        if data.startswith(b"PK\x03\x04"):
            raise OdsReadError(
                "TRUNCATED_FILE", "The file starts like an ODS but its end is missing: it is truncated."
            ) from exc
        raise OdsReadError("NOT_AN_ODS", "The file is not an ODS spreadsheet (it is not a zip archive).") from exc
    names = set(package.namelist())
    if "mimetype" not in names:
        if _looks_like_excel(names, ""):
            raise OdsReadError("NOT_AN_ODS", _EXCEL_TEXT)
        raise OdsReadError("NOT_AN_ODS", "The file is a zip archive but not an ODS spreadsheet (no mimetype).")
    mimetype = _read_member(package, "mimetype", 1024).decode("ascii", "replace").strip()
    if mimetype != ODS_MIMETYPE:
        if _looks_like_excel(names, mimetype):
            raise OdsReadError("NOT_AN_ODS", _EXCEL_TEXT)
        raise OdsReadError("NOT_AN_ODS", f"The file is not an ODS spreadsheet (its type is {mimetype!r}).")
    if _MANIFEST_NAME in names:
        _check_manifest(_read_member(package, _MANIFEST_NAME, limits.max_decompressed_bytes))
    if _CONTENT_NAME not in names:
        raise OdsReadError("NOT_AN_ODS", "The ODS file is incomplete: content.xml is missing.")
    _check_declared_size(package.getinfo(_CONTENT_NAME), limits.max_decompressed_bytes)
    return package


def _looks_like_excel(names: set[str], mimetype: str) -> bool:
    return "[Content_Types].xml" in names or "openxmlformats" in mimetype or "ms-excel" in mimetype


def _check_declared_size(info: zipfile.ZipInfo, limit: int) -> None:
    if info.file_size > limit:
        raise OdsReadError(
            "DECOMPRESSION_BOMB",
            f"{info.filename} would unpack to {info.file_size:,} bytes; the limit is {limit:,} bytes.",
            info.filename,
        )


def _read_member(package: zipfile.ZipFile, name: str, limit: int) -> bytes:
    _check_declared_size(package.getinfo(name), limit)
    with _open_member(package, name, limit) as stream:
        return _guard_zip_errors(stream.readall, name)


def _open_member(package: zipfile.ZipFile, name: str, limit: int) -> "_GuardedReader":
    try:
        return _GuardedReader(package.open(name), limit, name)
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise OdsReadError("ENCRYPTED_ODS", _ENCRYPTED_TEXT) from exc
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError) as exc:
        raise OdsReadError("TRUNCATED_FILE", f"The file is damaged: {name} cannot be opened.", name) from exc


def _guard_zip_errors(read: Callable[[], _T], name: str) -> _T:
    try:
        return read()
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise OdsReadError(
            "TRUNCATED_FILE", f"The file is damaged or truncated: {name} cannot be read to the end.", name
        ) from exc


def _check_manifest(manifest: bytes) -> None:
    try:
        root = etree.fromstring(manifest, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise OdsReadError(
            "TRUNCATED_FILE", "The file is damaged: its manifest is not readable.", _MANIFEST_NAME
        ) from exc
    if _has_dtd(root):
        raise _unsafe(_MANIFEST_NAME)
    if next(root.iter(_M_ENCRYPTION), None) is not None:
        raise OdsReadError("ENCRYPTED_ODS", _ENCRYPTED_TEXT)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _has_dtd(elem: etree._Element) -> bool:
    docinfo = elem.getroottree().docinfo
    return bool(docinfo.doctype) or docinfo.internalDTD is not None


def _unsafe(member: str) -> OdsReadError:
    return OdsReadError("UNSAFE_XML", f"{member} contains a DOCTYPE or entity declaration, which is refused.", member)


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

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(size if size is not None and size >= 0 else self._limit + 1)
        self.count += len(data)
        if self.count > self._limit:
            raise OdsReadError(
                "DECOMPRESSION_BOMB", f"{self._name} unpacks to more than {self._limit:,} bytes.", self._name
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
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        try:
            yield from _SheetBuilder(limits).consume(events)
            if _has_dtd(events.root):
                raise _unsafe(_CONTENT_NAME)
        except etree.XMLSyntaxError as exc:
            raise OdsReadError(
                "TRUNCATED_FILE",
                "The file is damaged or truncated: content.xml breaks off before the spreadsheet ends.",
                _CONTENT_NAME,
            ) from exc
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise OdsReadError(
                "TRUNCATED_FILE",
                "The file is damaged or truncated: content.xml cannot be read to the end.",
                _CONTENT_NAME,
            ) from exc


class _SheetBuilder:
    """Turns iterparse events into Sheets.

    Runs of empty cells or rows are only counted, and materialised once a non-empty one follows, so the
    huge trailing runs LibreOffice writes cost nothing; every materialised cell is charged to the budget.
    """

    def __init__(self, limits: OdsLimits) -> None:
        self.limits = limits
        self.sheet_count = 0
        self.cell_count = 0
        self.table_depth = 0  # sub-tables inside cells are skipped
        self.dtd_checked = False
        self._start_sheet("")

    def _start_sheet(self, name: str) -> None:
        self.name = name
        self.rows: list[list[str]] = []
        self.pending_rows = 0
        self._start_row()

    def _start_row(self) -> None:
        self.cells: list[str] = []
        self.pending_cells = 0

    def consume(self, events: "etree.iterparse") -> Iterator[Sheet]:
        for event, elem in events:
            if not self.dtd_checked:
                if _has_dtd(elem):
                    raise _unsafe(_CONTENT_NAME)
                self.dtd_checked = True
            tag = elem.tag
            if tag == _T_TABLE:
                sheet = self._on_table(event, elem)
                if sheet is not None:
                    yield sheet
            elif event == "start":
                if tag == _T_ROW and self.table_depth == 1:
                    self._start_row()
            elif self.table_depth != 1:
                if tag in (_O_AUTOMATIC_STYLES, _O_FONT_FACE_DECLS):
                    elem.clear()
            elif tag == _T_ROW:
                self._end_row(elem)
                _free(elem)
            elif tag in (_T_CELL, _T_COVERED):
                self._add_cell(elem)
                _free(elem)
            elif tag == _T_COLUMN:
                _free(elem)

    def _on_table(self, event: str, elem: etree._Element) -> Sheet | None:
        if event == "start":
            self.table_depth += 1
            if self.table_depth == 1:
                self.sheet_count += 1
                if self.sheet_count > self.limits.max_sheets:
                    raise OdsReadError(
                        "TOO_MANY_SHEETS", f"The file has more than {self.limits.max_sheets} sheets, the limit."
                    )
                self._start_sheet(elem.get(_T_NAME) or f"Sheet{self.sheet_count}")
            return None
        self.table_depth -= 1
        if self.table_depth != 0:
            return None
        _free(elem)
        return Sheet(self.name, self.rows)

    def _add_cell(self, elem: etree._Element) -> None:
        text = _cell_text(elem, self.limits.max_cell_chars, self.name)
        repeat = _repeat(elem, _T_COLS_REPEATED)
        if not text:
            self.pending_cells += repeat
            return
        if len(self.cells) + self.pending_cells + repeat > self.limits.max_columns:
            raise OdsReadError(
                "TOO_MANY_COLUMNS",
                f"Sheet {self.name!r} has a row wider than {self.limits.max_columns} columns, the limit.",
                self.name,
            )
        self._spend_cells(self.pending_cells + repeat)
        self.cells.extend([""] * self.pending_cells)
        self.cells.extend([text] * repeat)
        self.pending_cells = 0

    def _end_row(self, elem: etree._Element) -> None:
        repeat = _repeat(elem, _T_ROWS_REPEATED)
        if not self.cells:
            self.pending_rows += repeat
            return
        if len(self.rows) + self.pending_rows + repeat > self.limits.max_rows:
            raise OdsReadError(
                "TOO_MANY_ROWS",
                f"Sheet {self.name!r} has more than {self.limits.max_rows:,} rows, the limit.",
                self.name,
            )
        self._spend_cells(len(self.cells) * (repeat - 1))
        self.rows.extend([] for _ in range(self.pending_rows))
        self.rows.append(self.cells)
        self.rows.extend(list(self.cells) for _ in range(repeat - 1))
        self.pending_rows = 0
        self._start_row()

    def _spend_cells(self, count: int) -> None:
        self.cell_count += count
        if self.cell_count > self.limits.max_cells:
            raise OdsReadError("TOO_MANY_CELLS", f"The file has more than {self.limits.max_cells:,} cells, the limit.")


def _free(elem: etree._Element) -> None:
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


_COUNT = re.compile(r"\d{1,9}")


def _repeat(elem: etree._Element, attribute: str) -> int:
    value = elem.get(attribute)
    if value is None:
        return 1
    value = value.strip()
    return max(1, int(value)) if _COUNT.fullmatch(value) else 1


def _cell_text(cell: etree._Element, max_chars: int, sheet: str) -> str:
    if cell.get(_O_VALUE_TYPE) == "date" and cell.get(_O_DATE_VALUE):
        return cell.get(_O_DATE_VALUE, "")
    parts: list[str] = []
    for paragraph in cell:
        if paragraph.tag in (_X_P, _X_H):
            if parts:
                parts.append("\n")
            _inline_text(paragraph, parts)
    text = "".join(parts)
    if len(text) > max_chars:
        raise OdsReadError("CELL_TOO_LONG", f"Sheet {sheet!r} has a cell longer than {max_chars:,} characters.", sheet)
    return text


def _inline_text(elem: etree._Element, parts: list[str]) -> None:
    parts.append(elem.text or "")
    for child in elem:
        if child.tag == _X_S:
            # text:c is attacker-controlled: never build more spaces than a cell may hold
            parts.append(" " * min(_repeat(child, _X_C), 100_001))
        elif child.tag == _X_TAB:
            parts.append("\t")
        elif child.tag == _X_LINE_BREAK:
            parts.append("\n")
        elif isinstance(child.tag, str):
            _inline_text(child, parts)
        parts.append(child.tail or "")
