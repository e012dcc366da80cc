"""ODS workbooks written with ezodf: the demo's sample template, the test workbooks and the coverage export.

Reading ODS stays with the bounded streaming reader (`services/ods_importer/ods_reader.py`); ezodf only writes."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from html import escape
from typing import TypeAlias

import ezodf

Cell: TypeAlias = str | date | time | int | float | bool  # "" is an empty cell


@dataclass(frozen=True)
class Styled:
    """A cell drawn in one of the workbook's named styles (see `write_ods`)."""

    value: Cell
    style: str


Rows: TypeAlias = Sequence[Sequence[Cell | Styled]]


def write_ods(sheets: Sequence[tuple[str, Rows]], backgrounds: Mapping[str, str] | None = None) -> bytes:
    """One sheet per (name, rows); `backgrounds`: cell style name -> background colour (#rrggbb), for
    `Styled` cells."""
    document = ezodf.newdoc(doctype="ods")
    for name, colour in (backgrounds or {}).items():
        document.inject_style(
            f'<style:style style:name="{escape(name, quote=True)}" style:family="table-cell">'
            f'<style:table-cell-properties fo:background-color="{escape(colour, quote=True)}"/></style:style>'
        )
    for name, rows in sheets:
        width = max((len(row) for row in rows), default=0)
        sheet = ezodf.Table(name, size=(max(len(rows), 1), max(width, 1)))
        document.sheets += sheet
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                _write_cell(sheet[r, c], value)
    return bytes(document.tobytes())


def _write_cell(cell: ezodf.Cell, value: Cell | Styled) -> None:
    if isinstance(value, Styled):
        cell.style_name = value.style
        value = value.value
    if isinstance(value, str):
        if value:
            cell.set_value(value)
    elif isinstance(value, bool):
        cell.set_value(value)
    elif isinstance(value, datetime | date):
        cell.set_value(value.isoformat(), value_type="date")
    elif isinstance(value, time):
        cell.set_value(f"PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}S", value_type="time")
    else:
        cell.set_value(value)
