"""Minimal ODS writer: text, date, time, number and boolean cells; enough for test workbooks and the demo's
sample template."""

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time
from itertools import groupby
from typing import TypeAlias

from lxml import etree

from services.ods_importer.ods_reader import ODS_MIMETYPE

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
_NSMAP = {"office": _OFFICE, "table": _TABLE, "text": _TEXT}
_SPACE_RUN = re.compile(r"(?<= ) +|^ +")  # spaces ODF would collapse: leading, or after another space

Cell: TypeAlias = str | date | time | int | float | bool  # "" is an empty cell
Rows: TypeAlias = Sequence[Sequence[Cell]]


def write_ods(sheets: Sequence[tuple[str, Rows]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", _manifest())
        package.writestr("content.xml", _content(sheets))
    return buffer.getvalue()


def _manifest() -> bytes:
    root = etree.Element(f"{{{_MANIFEST}}}manifest", nsmap={"manifest": _MANIFEST})
    root.set(f"{{{_MANIFEST}}}version", "1.2")
    for path, media_type in (("/", ODS_MIMETYPE), ("content.xml", "text/xml")):
        entry = etree.SubElement(root, f"{{{_MANIFEST}}}file-entry")
        entry.set(f"{{{_MANIFEST}}}full-path", path)
        entry.set(f"{{{_MANIFEST}}}media-type", media_type)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _content(sheets: Sequence[tuple[str, Rows]]) -> bytes:
    root = etree.Element(f"{{{_OFFICE}}}document-content", nsmap=_NSMAP)
    root.set(f"{{{_OFFICE}}}version", "1.2")
    spreadsheet = etree.SubElement(etree.SubElement(root, f"{{{_OFFICE}}}body"), f"{{{_OFFICE}}}spreadsheet")
    for name, rows in sheets:
        table = etree.SubElement(spreadsheet, f"{{{_TABLE}}}table")
        table.set(f"{{{_TABLE}}}name", name)
        for row, run in groupby(rows, key=tuple):
            _write_row(table, row, len(list(run)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _write_row(table: etree._Element, cells: Sequence[Cell], repeat: int) -> None:
    row = etree.SubElement(table, f"{{{_TABLE}}}table-row")
    if repeat > 1:
        row.set(f"{{{_TABLE}}}number-rows-repeated", str(repeat))
    if all(value == "" for value in cells):
        etree.SubElement(row, f"{{{_TABLE}}}table-cell")
    for is_empty, run in groupby(cells, key=lambda value: value == ""):
        values = list(run)
        if is_empty:
            cell = etree.SubElement(row, f"{{{_TABLE}}}table-cell")
            if len(values) > 1:
                cell.set(f"{{{_TABLE}}}number-columns-repeated", str(len(values)))
            continue
        for value in values:
            _write_cell(row, value)


def _write_cell(row: etree._Element, value: Cell) -> None:
    """A typed cell carries its value in an attribute and, like LibreOffice writes it, a display text."""
    cell = etree.SubElement(row, f"{{{_TABLE}}}table-cell")
    if isinstance(value, str):
        cell.set(f"{{{_OFFICE}}}value-type", "string")
        for line in value.split("\n"):
            _write_spaced(etree.SubElement(cell, f"{{{_TEXT}}}p"), line)
        return
    if isinstance(value, bool):
        value_type, attribute, typed, shown = "boolean", "boolean-value", str(value).lower(), str(value).upper()
    elif isinstance(value, datetime | date):
        value_type, attribute, typed, shown = "date", "date-value", value.isoformat(), value.strftime("%m/%d/%y")
    elif isinstance(value, time):
        typed = f"PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}S"
        value_type, attribute, shown = "time", "time-value", value.strftime("%I:%M %p")
    else:
        value_type, attribute, typed, shown = "float", "value", repr(value), f"{value:.2f}"
    cell.set(f"{{{_OFFICE}}}value-type", value_type)
    cell.set(f"{{{_OFFICE}}}{attribute}", typed)
    etree.SubElement(cell, f"{{{_TEXT}}}p").text = shown


def _write_spaced(paragraph: etree._Element, line: str) -> None:
    """Literal text, with runs of spaces ODF readers would collapse written as <text:s text:c="n"/>."""
    position = 0
    last: etree._Element | None = None
    for match in _SPACE_RUN.finditer(line):
        _append_text(paragraph, last, line[position : match.start()])
        last = etree.SubElement(paragraph, f"{{{_TEXT}}}s")
        if len(match.group()) > 1:
            last.set(f"{{{_TEXT}}}c", str(len(match.group())))
        position = match.end()
    _append_text(paragraph, last, line[position:])


def _append_text(paragraph: etree._Element, last: etree._Element | None, text: str) -> None:
    if last is None:
        paragraph.text = (paragraph.text or "") + text
    else:
        last.tail = (last.tail or "") + text
