"""Minimal ODS writer: string cells only, enough for test templates and the demo's sample template."""

import io
import re
import zipfile
from collections.abc import Sequence
from itertools import groupby

from lxml import etree

from services.ods_importer.ods_reader import ODS_MIMETYPE

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
_NSMAP = {"office": _OFFICE, "table": _TABLE, "text": _TEXT}
_SPACE_RUN = re.compile(r"(?<= ) +|^ +")  # spaces ODF would collapse: leading, or after another space


def write_ods(sheets: Sequence[tuple[str, Sequence[Sequence[str]]]]) -> bytes:
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


def _content(sheets: Sequence[tuple[str, Sequence[Sequence[str]]]]) -> bytes:
    root = etree.Element(f"{{{_OFFICE}}}document-content", nsmap=_NSMAP)
    root.set(f"{{{_OFFICE}}}version", "1.2")
    spreadsheet = etree.SubElement(etree.SubElement(root, f"{{{_OFFICE}}}body"), f"{{{_OFFICE}}}spreadsheet")
    for name, rows in sheets:
        table = etree.SubElement(spreadsheet, f"{{{_TABLE}}}table")
        table.set(f"{{{_TABLE}}}name", name)
        for row, run in groupby(rows, key=tuple):
            _write_row(table, row, len(list(run)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _write_row(table: etree._Element, cells: Sequence[str], repeat: int) -> None:
    row = etree.SubElement(table, f"{{{_TABLE}}}table-row")
    if repeat > 1:
        row.set(f"{{{_TABLE}}}number-rows-repeated", str(repeat))
    if not any(cells):
        etree.SubElement(row, f"{{{_TABLE}}}table-cell")
    for is_empty, run in groupby(cells, key=lambda text: not text):
        texts = list(run)
        if is_empty:
            cell = etree.SubElement(row, f"{{{_TABLE}}}table-cell")
            if len(texts) > 1:
                cell.set(f"{{{_TABLE}}}number-columns-repeated", str(len(texts)))
            continue
        for text in texts:
            _write_text_cell(row, text)


def _write_text_cell(row: etree._Element, text: str) -> None:
    cell = etree.SubElement(row, f"{{{_TABLE}}}table-cell")
    cell.set(f"{{{_OFFICE}}}value-type", "string")
    for line in text.split("\n"):
        paragraph = etree.SubElement(cell, f"{{{_TEXT}}}p")
        _write_spaced(paragraph, line)


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
