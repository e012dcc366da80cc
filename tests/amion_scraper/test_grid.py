import re
from collections import Counter
from datetime import date, time, timedelta

import pytest
from lxml import html as lxml_html

from schedcu.testing.demo_data import truth
from schedcu.testing.fake_amion import truth_from_dict
from services.amion_scraper.grid import cell_entries, parse_grid, render_grid
from services.amion_scraper.rows import AmionRow, split_label
from shared.kernel.findings import Severity
from tests.support.real_data import AMION_SAMPLES

APRIL = date(2010, 4, 1)


@pytest.fixture(scope="module")
def sample() -> str:
    path = AMION_SAMPLES / "call-grid-2010-04.html"
    return path.read_bytes().decode("iso-8859-1")


def _nonempty_day_cells(page: str) -> list[tuple[str, int, str]]:
    """(label, column, text) of every day cell with text in the border=1 table, read with regular expressions
    only (independently of the parser): header rows are the `#f6deac` ones, the first cell is the label."""
    start = page.index('border="1"')
    table = page[start : page.index("</TABLE>", start)]
    found = []
    for attributes, content in re.findall(r"<TR([^>]*)>(.*?)</TR>", table, re.DOTALL):
        if "#f6deac" in attributes:
            continue
        cells = re.findall(r"<TD[^>]*>(.*?)</TD>", content, re.DOTALL)
        label = re.sub(r"<[^>]+>", "", cells[0]).replace("&nbsp;", " ")
        for column, cell in enumerate(cells[1:], start=1):
            text = re.sub(r"<[^>]+>", "", cell).replace("&nbsp;", "").strip()
            if text:
                found.append((" ".join(label.split()), column, text))
    return found


def test_sample_parses_completely_every_non_empty_day_cell_gives_a_row(sample: str) -> None:
    parsed = parse_grid(sample, APRIL)
    cells = _nonempty_day_cells(sample)
    assert parsed.findings == ()
    assert len(cells) > 500
    assert len(parsed.rows) == len(cells)
    assert Counter(r.name for r in parsed.rows) == Counter(text for _, _, text in cells)
    assert {r.schedule_date for r in parsed.rows} == {APRIL + timedelta(days=n) for n in range(30)}


def test_sample_without_a_month_is_dated_by_its_title(sample: str) -> None:
    assert parse_grid(sample).rows == parse_grid(sample, APRIL).rows


def _row(parsed_rows: tuple[AmionRow, ...], day: int, label: str) -> list[AmionRow]:
    return [r for r in parsed_rows if r.schedule_date == date(2010, 4, day) and r.label == label]


def test_sample_cells_in_em_font_and_td_class_with_days_from_the_headers(sample: str) -> None:
    rows = parse_grid(sample, APRIL).rows
    assert [r.name for r in _row(rows, 1, "Hospitalist 1 7a-7p")] == ["Thomas"]  # EM, in the first (partial) week
    assert [r.name for r in _row(rows, 1, "PA 1 7a-6p")] == ["Baker"]  # FONT
    assert [r.name for r in _row(rows, 26, "Administrator on Call")] == ["Walker"]  # td class="gr"
    assert [r.name for r in _row(rows, 27, "Night Shift 1 9p-7a")] == ["Wright"]  # td class="ma"
    assert [r.name for r in _row(rows, 30, "Hospitalist 1 7a-7p")] == ["Scott"]  # last day, columns after it empty
    assert _row(rows, 26, "Teaching Service 1 7a-7p") == []


def test_sample_notes_come_from_the_icons_titles(sample: str) -> None:
    rows = parse_grid(sample, APRIL).rows
    (wilson,) = _row(rows, 3, "Hospitalist 2 7a-7p")
    assert (wilson.name, wilson.note) == ("Wilson", "Wilsons dist pt to team members")
    assert len([r for r in rows if r.note]) == sample.count("pnote0.gif")


def test_sample_labels_are_kept_whole_and_their_hours_read_from_them(sample: str) -> None:
    rows = parse_grid(sample, APRIL).rows
    hours = {r.label: (r.start, r.end) for r in rows}
    # the label as Amion prints it, `&nbsp;` runs squashed: the text a report gives for the shift
    assert set(hours) == {label for label, _, _ in _nonempty_day_cells(sample)}
    assert hours["Hospitalist 1 7a-7p"] == (time(7), time(19))
    assert hours["NP Palliative Care 8:30a-5p"] == (time(8, 30), time(17))
    assert hours["Evening Admit Shift 3p-12mn"] == (time(15), time(0))
    assert hours["Night Shift 2 (9050) 9p-7a"] == (time(21), time(7))
    assert hours["9050 Morning"] == (None, None)
    (night,) = _row(rows, 1, "Night Shift 1 9p-7a")
    assert night.ends_next_day and night.duration == timedelta(hours=10)


def test_a_cut_off_page_is_an_error_naming_the_month(sample: str) -> None:
    parsed = parse_grid(sample[: len(sample) // 2], APRIL)
    errors = [f for f in parsed.findings if f.severity is Severity.ERROR]
    assert [f.code for f in errors] == ["INCOMPLETE_PAGE"]
    assert "April 2010" in errors[0].text


def test_a_page_for_another_month_is_layout_unrecognized(sample: str) -> None:
    (finding,) = parse_grid(sample, date(2010, 5, 1)).findings
    assert (finding.code, finding.severity) == ("LAYOUT_UNRECOGNIZED", Severity.ERROR)
    assert "May 2010" in finding.text


@pytest.mark.parametrize(
    ("page", "why"),
    [
        ("<html><body><table class='schedule'><tr><td>1 Mar</td><td>Smith</td></tr></table></body></html>",
         "no table with border=1"),
        ("<html><body><table border=1><tr><td>ON1</td><td>Smith</td></tr></table></body></html>",
         "no table with border=1 and day headers"),
        ("NOT HTML AT ALL", "no table with border=1"),
    ],
)  # fmt: skip
def test_unknown_layouts_are_errors_naming_the_month(page: str, why: str) -> None:
    parsed = parse_grid(page, date(2026, 3, 1))
    (finding,) = parsed.findings
    assert (finding.code, finding.severity, finding.location) == ("LAYOUT_UNRECOGNIZED", Severity.ERROR, "March 2026")
    assert why in finding.text and "March 2026" in finding.text
    assert parsed.rows == ()


# Written by hand in the sample's style: a week across the new year, a leading spacer with colspan, a holiday
# label instead of the month name on the 1st, two names in one cell, a note icon outside any wrapper, a plain
# cell, latin-1, a name that is only a placeholder, and a label without hours.
NEW_YEAR = (
    "<HTML><HEAD><TITLE>Call Schedule, 12/29 to 1/4, 2026</TITLE></HEAD><BODY>"
    "<TABLE border=0><TR><TD><B>31</B> Dec</TD></TR></TABLE>"
    '<TABLE cellspacing="0" border="1" cellpadding="1"><TBODY>'
    '<TR bgcolor="#f6deac"><TD colspan="2" bgcolor="#ffffff">&nbsp;</TD>'
    "<TD><I><B>29</B>&nbsp;&nbsp;December</I></TD><TD><I><B>30</B>&nbsp;&nbsp;Tu</I></TD>"
    "<TD><I><B>31</B>&nbsp;&nbsp;New&nbsp;Year's&nbsp;Eve</I></TD><TD><I><B>1</B>&nbsp;&nbsp;Holiday</I></TD>"
    "<TD><I><B>2</B>&nbsp;&nbsp;Fr</I></TD><TD><I><B>3</B>&nbsp;&nbsp;Sa</I></TD><TD><I><B>4</B>&nbsp;&nbsp;Su</I></TD>"
    "</TR>"
    "<TR><TD><I>ON1&nbsp;&nbsp;&nbsp;&nbsp;10p-8a</I></TD><TD>&nbsp;</TD>"
    "<TD><EM>Smith</EM><BR><EM>Jones<IMG src='pnote0.gif' title='until 2 am'></EM></TD>"
    "<TD>M\xfcller, J\xf6rg<IMG src='pnote0.gif' title='swap'></TD>"
    '<TD class="gr">Lee</TD><TD><FONT color="#ff0000">Lee</FONT></TD><TD>---</TD>'
    "<TD>&nbsp;</TD><TD>&nbsp;</TD></TR>"
    "<TR bgcolor='#f0f0e6'><TD><I>Jeopardy&nbsp;Back&nbsp;Up</I></TD><TD>&nbsp;</TD><TD>&nbsp;</TD><TD>&nbsp;</TD>"
    "<TD>&nbsp;</TD><TD>&nbsp;</TD><TD>&nbsp;</TD><TD>&nbsp;</TD><TD><EM>Smith</EM></TD></TR>"
    "</TBODY></TABLE></BODY></HTML>"
)


def test_week_across_the_new_year_with_holiday_labels_two_names_and_notes() -> None:
    parsed = parse_grid(NEW_YEAR)
    assert parsed.findings == ()
    got = [(r.schedule_date, r.label, r.name, r.start, r.note) for r in parsed.rows]
    assert got == [
        (date(2025, 12, 29), "ON1 10p-8a", "Smith", time(22), None),
        (date(2025, 12, 29), "ON1 10p-8a", "Jones", time(22), "until 2 am"),
        (date(2025, 12, 30), "ON1 10p-8a", "Müller, Jörg", time(22), "swap"),
        (date(2025, 12, 31), "ON1 10p-8a", "Lee", time(22), None),
        (date(2026, 1, 1), "ON1 10p-8a", "Lee", time(22), None),
        (date(2026, 1, 4), "Jeopardy Back Up", "Smith", None, None),
    ]


def test_a_month_asked_for_anchors_the_year_and_must_be_shown_whole() -> None:
    parsed = parse_grid(NEW_YEAR, date(2026, 1, 1))
    assert {r.schedule_date.year for r in parsed.rows} == {2025, 2026}
    assert [f.code for f in parsed.findings] == ["INCOMPLETE_PAGE"]


def test_names_under_no_day_are_reported_not_dropped_silently() -> None:
    page = NEW_YEAR.replace('<TD colspan="2" bgcolor="#ffffff">&nbsp;</TD>', '<TD bgcolor="#ffffff">&nbsp;</TD>')
    page = page.replace("<TD><I><B>4</B>&nbsp;&nbsp;Su</I></TD>", "")
    parsed = parse_grid(page)
    (finding,) = parsed.findings
    assert finding.code == "BAD_CELL" and "Smith under no day" in finding.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hospitalist\xa01\xa0\xa0\xa0\xa07a-7p", ("Hospitalist 1", time(7), time(19))),
        ("Evening Admit Shift 3p-12mn", ("Evening Admit Shift", time(15), time(0))),
        ("NP Palliative Care 8:30a-5p", ("NP Palliative Care", time(8, 30), time(17))),
        ("Noon shift 12n-6p", ("Noon shift", time(12), time(18))),
        ("Day 9-5p", ("Day", time(9), time(17))),
        ("Night 11-7a", ("Night", time(23), time(7))),
        ("ACE 1 Resident 12a-11a Post Call", ("ACE 1 Resident 12a-11a Post Call", None, None)),
        ("Odd 13p-2p", ("Odd 13p-2p", None, None)),
        ("7a-7p", ("7a-7p", None, None)),
    ],
)
def test_split_label(text: str, expected: tuple[str, time | None, time | None]) -> None:
    assert split_label(text) == expected


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [(time(21), time(7), "9p-7a"), (time(17), time(0), "5p-12mn"), (time(0), time(11), "12a-11a"),
     (time(8, 30), time(12), "8:30a-12p"), (time(7), time(7), "7a-7a")],
)  # fmt: skip
def test_hours_at_a_label_end(start: time, end: time, text: str) -> None:
    assert split_label(f"X {text}") == ("X", start, end)


def _demo_rows() -> list[AmionRow]:
    rows = list(truth_from_dict(truth(date(2026, 3, 1), "pw")).assignments)
    rows += [
        AmionRow(date(2026, 3, 2), "ON1 10p-8a", "Łukasz, Zoë", time(22), time(8), note='café <swap> & "more"'),
        AmionRow(date(2026, 3, 31), "DAY 7a-7a", "Doe, Jane", time(7), time(7)),
        AmionRow(date(2026, 4, 1), "ON1 10p-8a", "Next, Month", time(22), time(8)),
    ]
    return rows


def _key(row: AmionRow) -> tuple[date, str, str]:
    return row.schedule_date, row.label, row.name


def test_rendered_month_round_trips_through_latin_1() -> None:
    rows = _demo_rows()
    page = render_grid(rows, date(2026, 3, 1), date(2026, 3, 31), holidays={date(2026, 3, 17): "St Patrick's"})
    wire = page.encode("iso-8859-1", errors="xmlcharrefreplace").decode("iso-8859-1")
    parsed = parse_grid(wire, date(2026, 3, 1))
    assert parsed.findings == ()
    march = [r for r in rows if r.schedule_date.month == 3]
    assert sorted(parsed.rows, key=_key) == sorted(march, key=_key)
    styles = {"<EM>": 0, "<FONT": 0, 'class="': 0}
    for marker in styles:
        styles[marker] = page.count(marker)
    assert all(styles.values()), styles


def test_rendered_range_spanning_three_months_round_trips() -> None:
    rows = [
        AmionRow(date(2026, 1, 30) + timedelta(days=n), "ON1 10p-8a", f"Person {n % 3}", time(22), time(8))
        for n in range(0, 65, 2)
    ]
    first, last = date(2026, 1, 26), date(2026, 4, 5)
    parsed = parse_grid(render_grid(rows, first, last))
    assert parsed.findings == ()
    assert sorted(parsed.rows, key=_key) == sorted([r for r in rows if first <= r.schedule_date <= last], key=_key)


def test_the_grid_prints_a_label_as_it_is_so_a_label_without_hours_shows_none() -> None:
    rows = [AmionRow(date(2026, 3, 2), "Jeopardy", "Doe, Jane", time(7), time(19))]
    page = render_grid(rows, date(2026, 3, 1), date(2026, 3, 31))
    assert "<I>Jeopardy</I>" in page
    (row,) = parse_grid(page, date(2026, 3, 1)).rows
    assert (row.label, row.start, row.end) == ("Jeopardy", None, None)


def test_text_around_a_wrapped_name_is_another_name() -> None:
    cell = lxml_html.fragment_fromstring("<td> <em>Smith</em> Jones<br>&nbsp;</td>")
    assert cell_entries(cell) == [("Smith", None), ("Jones", None)]
    assert cell_entries(lxml_html.fragment_fromstring("<td>&nbsp;<em>Lee</em>&nbsp;</td>")) == [("Lee", None)]
