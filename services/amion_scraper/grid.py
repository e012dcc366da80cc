"""Amion's monthly grid (`Page=Call`, HTML, ISO-8859-1, 1999-style markup): parse it into rows, and render
rows into one. Parsed with parsel (lxml's HTML parser underneath).

The grid is the table with `border=1`. It is split into week bands; a band's header row holds day cells like
`<I><B>1</B>&nbsp;&nbsp;April</I>` (the day in `<B>`, then a month name, a weekday or a holiday label). Each
following row starts with the shift label in `<I>` (label and hours packed with `&nbsp;`: the label is kept
whole, as the report prints it, and the hours are read from its end), then one cell per
day holding names wrapped in `EM`, `FONT`, a `td class` or nothing, separated by `<BR>`, each optionally
followed by a note icon whose `title` is the note. The date of a cell is the date its column's header cell
states: the day from the `<B>`, the month from the nearest month name (a page may span several months).
"""

import html
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from lxml import html as lxml_html
from parsel import Selector

from shared.kernel.findings import BAD_CELL, INCOMPLETE_PAGE, Finding

from .rows import MONTH_NAMES, PLACEHOLDER, AmionRow, ParsedPage, layout_unrecognized, month_label, split_label, squash

_MONTH_BY_NAME = {name.lower(): n for n, name in enumerate(MONTH_NAMES, start=1)}
_MONTH_BY_NAME.update({name[:3].lower(): n for n, name in enumerate(MONTH_NAMES, start=1)})
_MONTH_BY_NAME["sept"] = 9
_MONTH_WORD_RE = re.compile(r"^([A-Za-z]+)\.?\b")
_DAY_RE = re.compile(r"^\s*(\d{1,2})\s*(.*)$", re.DOTALL)
_TITLE_RANGE_RE = re.compile(r"(\d{1,2})/(\d{1,2})\s+to\s+(\d{1,2})/(\d{1,2}),\s*(\d{4})")
_NAME_HAS_TEXT_RE = re.compile(r"\w")
# Elements around one name: a new one starts a new name. Other inline elements (B, I, U, ...) do not.
_NAME_WRAPPERS = frozenset({"em", "font", "span", "a", "div", "p", "nobr", "strong"})
_WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def _tag(element: lxml_html.HtmlElement) -> str:
    return element.tag.lower() if isinstance(element.tag, str) else ""


def _tokens(element: lxml_html.HtmlElement) -> Iterator[tuple[str, str]]:
    """The cell's content in order: ("text", t), ("break", ""), ("note", title)."""
    if element.text:
        yield "text", element.text
    for child in element:
        tag = _tag(child)
        if tag == "br":
            yield "break", ""
        elif tag == "img":
            title = child.get("title")
            if title and title.strip():
                yield "note", title
        elif tag in _NAME_WRAPPERS:
            yield "break", ""
            yield from _tokens(child)
            yield "break", ""
        elif tag:
            yield from _tokens(child)
        if child.tail:
            yield "text", child.tail


@dataclass
class _Entry:
    name: str
    notes: list[str] = field(default_factory=list)


def _name(text: str | None) -> str | None:
    name = squash(text or "")
    return name if name and name != PLACEHOLDER and _NAME_HAS_TEXT_RE.search(name) else None


def _single_name(cell: lxml_html.HtmlElement) -> str | None:
    """The name of the common cells, plain (`<TD class="gr">Lee</TD>`) or in one wrapper with nothing else
    (`<TD><EM>Lee</EM></TD>`), read without walking the cell; None for any other cell."""
    if len(cell) == 0:
        return _name(cell.text)
    child = cell[0]
    around = (cell.text or "") + (child.tail or "")
    if len(cell) == 1 and len(child) == 0 and child.tag in _NAME_WRAPPERS and not _name(around):
        return _name(child.text)
    return None


def cell_entries(cell: lxml_html.HtmlElement) -> list[tuple[str, str | None]]:
    """(name, note) of every name in a day cell; `&nbsp;`, punctuation and `---` alone are no name."""
    single = _single_name(cell)
    if single is not None:
        return [(single, None)]
    entries: list[_Entry] = []
    buffer: list[str] = []
    pending_notes: list[str] = []

    def close() -> None:
        name = _name("".join(buffer))
        buffer.clear()
        if name is not None:
            entries.append(_Entry(name, pending_notes[:]))
            pending_notes.clear()

    for kind, value in _tokens(cell):
        if kind == "text":
            buffer.append(value)
        elif kind == "break":
            close()
        else:
            close()
            note = squash(value)
            (entries[-1].notes if entries else pending_notes).append(note)
    close()
    return [(e.name, "; ".join(e.notes) or None) for e in entries]


@dataclass
class _Calendar:
    """Dates of the header cells, in page order: the month from the last month name seen (the year chosen
    nearest to where the page is), else the next month when the day number falls back."""

    year: int
    month: int
    last: date | None = None

    def date_for(self, day: int, text: str) -> date:
        word = _MONTH_WORD_RE.match(text)
        named = _MONTH_BY_NAME.get(word.group(1).lower()) if word else None
        if named is not None:
            here = self.year * 12 + self.month - 1
            candidates = ((self.year + dy) * 12 + named - 1 for dy in (-1, 0, 1))
            self.year, month0 = divmod(min(candidates, key=lambda c: abs(c - here)), 12)
            self.month = month0 + 1
        elif self.last is not None and day < self.last.day:
            self.year, self.month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        self.last = date(self.year, self.month, day)
        return self.last


def _title_anchor(selector: Selector) -> date | None:
    title = " ".join(selector.xpath("//title//text()").getall())
    m = _TITLE_RANGE_RE.search(title)
    if not m:
        return None
    start_month, start_day, end_month, _, year = (int(g) for g in m.groups())
    try:
        return date(year - 1 if start_month > end_month else year, start_month, start_day)
    except ValueError:
        return None


def _cells_by_column(row: lxml_html.HtmlElement) -> list[tuple[int, lxml_html.HtmlElement]]:
    cells = []
    position = 0
    for cell in row.iterchildren("td", "th"):
        cells.append((position, cell))
        span = cell.get("colspan")
        position += max(1, min(int(span), 100)) if span is not None and span.isdigit() else 1
    return cells


def _header_day(cell: lxml_html.HtmlElement) -> tuple[int, str] | None:
    """(day, the text after it) when the cell's `<B>` holds a day number."""
    bold = next((b for b in cell.iter("b", "B") if squash(b.text_content()).isdigit()), None)
    if bold is None:
        return None
    m = _DAY_RE.match(squash(cell.text_content()))
    if not m or not 1 <= int(m.group(1)) <= 31:
        return None
    return int(m.group(1)), m.group(2)


def _rows_of(table: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    return [r for r in table.iter("tr") if r.getparent() is table or r.getparent().getparent() is table]


def _header_days(cells: list[tuple[int, lxml_html.HtmlElement]]) -> dict[int, tuple[int, str]]:
    """Column -> (day, text after it) of a band's header row; empty for any other row."""
    found = {}
    for position, cell in cells:
        if cell.find(".//b") is not None:
            day = _header_day(cell)
            if day is not None:
                found[position] = day
    return found


def _is_header_row(row: lxml_html.HtmlElement) -> bool:
    return row.find(".//b") is not None and bool(_header_days(_cells_by_column(row)))


class _GridError(ValueError):
    pass


def _parse_table(
    table: lxml_html.HtmlElement, calendar: _Calendar, where: str
) -> tuple[list[AmionRow], list[Finding], set[date]]:
    rows: list[AmionRow] = []
    findings: list[Finding] = []
    days_shown: set[date] = set()
    band: dict[int, date] | None = None
    for row in _rows_of(table):
        cells = _cells_by_column(row)
        if not cells:
            continue
        header = _header_days(cells) if row.find(".//b") is not None else {}
        if header:
            band = {}
            for position, (day, text) in header.items():
                try:
                    band[position] = calendar.date_for(day, text)
                except ValueError:
                    raise _GridError(f"a header cell names day {day}, which its month does not have") from None
                days_shown.add(band[position])
            continue
        (_, label_cell), day_cells = cells[0], cells[1:]
        label = squash(label_cell.text_content())
        _, start, end = split_label(label)
        for position, cell in day_cells:
            if not len(cell) and not squash(cell.text or ""):
                continue
            entries = cell_entries(cell)
            if not entries:
                continue
            day = band.get(position) if band is not None else None
            if day is None or not label:
                why = "under no day" if day is None else "in a row without a label"
                names = ", ".join(name for name, _ in entries)
                findings.append(BAD_CELL(f"Amion grid{' for ' + where if where else ''}: "
                                         f"{names} {why} skipped", where or None))  # fmt: skip
                continue
            rows.extend(AmionRow(day, label, name, start, end, note=note) for name, note in entries)
    return rows, findings, days_shown


def _month_days(month: date) -> set[date]:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {month + timedelta(days=n) for n in range((following - month).days)}


def parse_grid(page: str, month: date | None = None) -> ParsedPage:
    """Parse a `Page=Call` grid. `month` is the month asked for: it anchors the dates, and its days must all
    be shown. Without it the page title ("Call Schedule, 4/1 to 4/30, 2010") anchors them. Never raises on
    bad content: problems become findings."""
    where = month_label(month) if month else ""
    selector = Selector(text=page, type="html")
    anchor = month or _title_anchor(selector)
    tables = [t.root for t in selector.xpath('//table[@border="1"]')]
    grids = [t for t in tables if any(_is_header_row(r) for r in _rows_of(t))]
    if not grids:
        why = "no table with border=1 and day headers" if tables else "no table with border=1"
        return layout_unrecognized(where, why, "Amion grid")
    if anchor is None:
        return layout_unrecognized(where, "no month was given and the page title names none", "Amion grid")

    rows: list[AmionRow] = []
    findings: list[Finding] = []
    days_shown: set[date] = set()
    for table in grids:
        try:
            table_rows, table_findings, table_days = _parse_table(table, _Calendar(anchor.year, anchor.month), where)
        except _GridError as error:
            return layout_unrecognized(where, str(error), "Amion grid")
        rows += table_rows
        findings += table_findings
        days_shown |= table_days

    if month is not None:
        missing = _month_days(month) - days_shown
        if missing == _month_days(month):
            return layout_unrecognized(where, f"the grid shows no day of {where}", "Amion grid")
        if missing:
            shown = sorted(d.day for d in _month_days(month) - missing)
            findings.append(
                INCOMPLETE_PAGE(
                    f"The Amion grid for {where} shows days {shown[0]}-{shown[-1]} only, not the whole month "
                    "(a cut-off page?)",
                    where or None,
                )
            )
    return ParsedPage(rows=tuple(rows), findings=tuple(findings))


_STYLES = ("em", "font", "class", "plain")
_FONT_COLORS = ("#ff00ff", "#ff0000", "#7f7f00")
_TD_CLASSES = ("gr", "ma")


def _nbsp(text: str) -> str:
    return html.escape(text, quote=False).replace(" ", "&nbsp;")


def _note_icon(note: str | None) -> str:
    if not note:
        return ""
    return (
        '<IMG src="./amion4_files/pnote0.gif" width="13" height="13" border="0" '
        f'title="{html.escape(note, quote=True)}">'
    )


def _cell(entries: list[tuple[str, str | None]]) -> str:
    """One day cell, styled as Amion varies it: each person always in the same wrapper."""
    if not entries:
        return "<TD>&nbsp;</TD>"
    first = entries[0][0]
    pick = zlib.crc32(first.encode("utf-8"))
    style = _STYLES[pick % len(_STYLES)]
    parts = []
    for name, note in entries:
        text = html.escape(name, quote=False) + _note_icon(note)
        if style == "em":
            text = f"<EM>{text}</EM>"
        elif style == "font":
            text = f'<FONT color="{_FONT_COLORS[pick % len(_FONT_COLORS)]}">{text}</FONT>'
        parts.append(text)
    attributes = f' class="{_TD_CLASSES[pick % len(_TD_CLASSES)]}"' if style == "class" else ""
    return f"<TD{attributes}>{'<BR>'.join(parts)}</TD>"


def _header_cell(day: date, first_shown: date, holidays: Mapping[date, str]) -> str:
    if day in holidays:
        text = holidays[day]
    elif day == first_shown or day.day == 1:
        text = MONTH_NAMES[day.month - 1]
    else:
        text = _WEEKDAYS[day.weekday()]
    return f"<TD><I><B>{day.day}</B>&nbsp;&nbsp;{_nbsp(text)}</I></TD>"


_HEAD = """<HTML><HEAD><META http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">
<TITLE>
{title}
</TITLE>
<META name="ROBOTS" content="NOFOLLOW">
<STYLE type="text/css">
em {{ font-style: normal; color: blue }}
td {{ font-size: 80%; font-family: times; font-variant: normal }}
td.gc {{ color: gray; text-align: center }}
td.gr {{ color: #007f00 }}
td.ma {{ color: #7f007f }}
</STYLE>
</HEAD><BODY link="#000080" vlink="#000080" bgcolor="white" text="black">
<FORM action="https://www.amion.com/cgi-bin/ocs" method="GET" name="GetPage">
<TABLE border="0" cellspacing="0" cellpadding="4"><TBODY><TR>
<TD class="molnrm"><FONT color="#000066"><B>{month_abbr}</B></FONT></TD>
</TR></TBODY></TABLE>
</FORM>
<FONT size="+2"><B>{title}</B></FONT><BR>

<BR>
<TABLE cellspacing="0" border="1" cellpadding="1">
<TBODY>"""

_FOOT = """</TBODY></TABLE>
<FONT size="-1"><SMALL><BR></SMALL>Contact <B>the scheduler</B> if you have questions. &nbsp;
Schedule last updated {updated}. &nbsp;
</FONT><BR>

</BODY></HTML>
"""


def render_grid(rows: Iterable[AmionRow], first: date, last: date, *, holidays: Mapping[date, str] = {}) -> str:
    """The `Page=Call` page Amion would serve for `first..last` (the inverse of `parse_grid`): Monday-to-Sunday
    week bands, one grid row per label in order of first appearance, shown in every band. The label is printed
    as it is, so the grid shows a row's hours only when its label ends with them (`Mid C 5p-1a`). Rows
    outside the range are left out; divisions are not shown."""
    shown = [r for r in rows if first <= r.schedule_date <= last]
    lines: dict[str, dict[date, list[tuple[str, str | None]]]] = {}
    for r in shown:
        lines.setdefault(r.label, {}).setdefault(r.schedule_date, []).append((r.name, r.note))

    title = f"Call Schedule, {first.month}/{first.day} to {last.month}/{last.day}, {last.year}"
    out = [_HEAD.format(title=title, month_abbr=MONTH_NAMES[first.month - 1][:3])]
    week = first - timedelta(days=first.weekday())
    while week <= last:
        days = [week + timedelta(days=n) for n in range(7)]
        header = "".join(_header_cell(d, first, holidays) if first <= d <= last else "<TD>&nbsp;</TD>" for d in days)
        out.append(f'<TR bgcolor="#f6deac"><TD bgcolor="#ffffff">&nbsp;</TD>{header}</TR>')
        for n, (label, by_day) in enumerate(lines.items()):
            label_cell = f"<TD><I>{_nbsp(label)}</I></TD>"
            cells = "".join(_cell(by_day.get(d, []) if first <= d <= last else []) for d in days)
            shade = ' bgcolor="#f0f0e6"' if n % 2 else ""
            out.append(f"<TR{shade}>{label_cell}{cells}</TR>")
        week += timedelta(days=7)
    out.append(_FOOT.format(updated=f"{MONTH_NAMES[first.month - 1][:3]} 1 09:00 {first.year}"))
    return "\n".join(out)
