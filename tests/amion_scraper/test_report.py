import csv
from datetime import date, datetime, time, timedelta

import pytest

from services.amion_scraper.report import ReportKind, parse_report, render_report
from services.amion_scraper.rows import AmionRow, ParsedPage
from shared.kernel.findings import Severity
from tests.support.real_data import AMION_SAMPLES


def _sample(name: str) -> str:
    path = AMION_SAMPLES / name
    return path.read_text(encoding="iso-8859-1")


@pytest.mark.parametrize(
    ("name", "division", "labels"),
    [
        ("report-2015-07-medicine-619.txt", "IM Residents",
         ["ACE 1 Resident 12a-11a Post Call", "ACE 2 Resident 8:30a-12a Long (Adm 12p-12a)"]),
        ("report-2015-07-medicine-625c.txt", "IM Residents", ["MICU", "GI"]),
        ("report-2015-07-neuro-619.txt", None, ["Ward SAR", "Amb SAR"]),
        ("report-2015-07-neuro-625c.txt", None, ["NICU", "Consult"]),
    ],
)  # fmt: skip
def test_samples_parse(name: str, division: str | None, labels: list[str]) -> None:
    report = parse_report(_sample(name), "July 2015")
    assert report.findings == ()
    assert [r.label for r in report.rows] == labels
    assert all(r.division == division for r in report.rows)
    assert all(r.schedule_date == date(2015, 7, 1) for r in report.rows)
    assert report.rows[0].name in ("Johnson, John", "Johnson")


def test_medicine_619_times_and_overnight_end() -> None:
    first, second = parse_report(_sample("report-2015-07-medicine-619.txt")).rows
    assert (first.start, first.end, first.ends_next_day) == (time(0, 0), time(11, 0), False)
    assert first.duration == timedelta(hours=11)
    assert (second.start, second.end) == (time(8, 30), time(0, 0))
    assert second.ends_next_day
    assert second.end_at == datetime(2015, 7, 2, 0, 0)
    assert second.duration == timedelta(hours=15, minutes=30)


def test_end_before_start_is_next_day() -> None:
    row = parse_report(_sample("report-2015-07-neuro-619.txt")).rows[0]
    assert row.ends_next_day
    assert row.end_at == datetime(2015, 7, 2, 6, 0)
    assert row.duration == timedelta(hours=12)


@pytest.mark.parametrize("name", ["report-2015-07-medicine-625c.txt", "report-2015-07-neuro-625c.txt"])
def test_625c_equal_start_and_end_is_24_hours(name: str) -> None:
    for row in parse_report(_sample(name)).rows:
        assert (row.start, row.end) == (time(7, 0), time(7, 0))
        assert row.duration == timedelta(hours=24)
        assert row.note is None


def test_625c_shift_note_is_kept() -> None:
    text = (
        "Assignments for July 2015\n\n"
        '"Johnson",28,24,"NICU",117,28,7-1-15,0700,0700,"SSAR","215","","",0,"covers Allen too",r,"NICU"\n'
    )
    (row,) = parse_report(text).rows
    assert row.note == "covers Allen too"


def test_division_detected_from_row_shape_without_header() -> None:
    text = '"Rad","Smith, John",1,2,"ON1",3,4,1-5-26,0100,0800\n"Rad","Doe, Jane",5,6,"ON2",7,8,1-5-26,1700,0000\n'
    report = parse_report(text)
    assert report.findings == ()
    assert [(r.division, r.name, r.label) for r in report.rows] == [
        ("Rad", "Smith, John", "ON1"),
        ("Rad", "Doe, Jane", "ON2"),
    ]


ROWS = (
    AmionRow(date(2026, 1, 5), "ON1", "Smith, John", time(1, 0), time(8, 0)),
    AmionRow(date(2026, 1, 5), "Mid 3", 'O"Brien, Pat', time(17, 0), time(0, 0)),
    AmionRow(date(2026, 1, 31), "DAY", "Doe, Jane", time(7, 0), time(7, 0)),
)


@pytest.mark.parametrize("with_division", [False, True])
def test_render_parse_roundtrip(with_division: bool) -> None:
    rows = tuple(AmionRow(**{**r.__dict__, "division": "Radiology"}) for r in ROWS) if with_division else ROWS
    text = render_report(rows, date(2026, 1, 1), with_division=with_division)
    report = parse_report(text, "January 2026")
    assert report.findings == ()
    assert report.rows == rows


def test_render_matches_the_real_layout() -> None:
    as_of = datetime(2015, 7, 18, 10, 36)
    for name, with_division in (("report-2015-07-medicine-619.txt", True), ("report-2015-07-neuro-619.txt", False)):
        sample = _sample(name)
        rows = parse_report(sample).rows
        rendered = render_report(rows, date(2015, 7, 1), with_division=with_division, as_of=as_of)
        sample_lines, rendered_lines = sample.splitlines(), rendered.splitlines()
        header_len = next(i for i, line in enumerate(sample_lines) if line.startswith('"'))
        assert rendered_lines[:header_len] == sample_lines[:header_len]
        assert len(rendered_lines) == len(sample_lines)
        assert parse_report(rendered).rows == rows


def test_html_page_is_layout_unrecognized() -> None:
    html = "<html><head><title>Amion</title></head><body><table border=1><tr><td>x</td></tr></table></body></html>"
    report = parse_report(html, "January 2026")
    assert report.rows == ()
    (finding,) = report.findings
    assert finding.severity is Severity.ERROR
    assert finding.code == "LAYOUT_UNRECOGNIZED"
    assert "January 2026" in finding.text


def test_empty_page_is_layout_unrecognized() -> None:
    (finding,) = parse_report("  \n", "March 2026").findings
    assert (finding.code, finding.severity) == ("LAYOUT_UNRECOGNIZED", Severity.ERROR)


def test_header_without_rows_is_an_empty_month() -> None:
    text = render_report([], date(2026, 1, 1))
    assert parse_report(text, "January 2026") == ParsedPage(rows=(), findings=())


def test_bad_rows_are_warnings_with_line_numbers_and_placeholders_are_skipped() -> None:
    text = render_report(ROWS[:1], date(2026, 1, 1)) + (
        '"Doe, Jane",1,2,"ON2",3,4,2-30-26,1700,0000\n'  # no such date
        '"Doe, Jane",1,2,"ON2",3,4,1-6-26,2500,0000\n'  # no such time
        '"---",1,2,"ON2",3,4,1-7-26,1700,0000\n'  # unfilled slot
        'garbage, "unbalanced\n'
        '"Lee, Ann",1,2,"ON2",3,4,1-8-26,1700,0000\n'
    )
    report = parse_report(text, "January 2026")
    assert [r.name for r in report.rows] == ["Smith, John", "Lee, Ann"]
    first_row_line = text.splitlines().index('"Doe, Jane",1,2,"ON2",3,4,2-30-26,1700,0000') + 1
    bad_rows = [f for f in report.findings if f.code == "BAD_ROW"]
    assert [f.severity for f in bad_rows] == [Severity.WARNING] * 3
    for offset, finding in zip((0, 1, 3), bad_rows, strict=True):
        assert f"line {first_row_line + offset}" in finding.text
    (unfilled,) = [f for f in report.findings if f.code == "UNFILLED_SLOTS"]
    assert unfilled.severity is Severity.INFO and "1 unfilled Amion slot " in unfilled.text


def test_rows_lacking_the_division_announced_by_the_header_are_bad_rows() -> None:
    text = render_report(ROWS[:1], date(2026, 1, 1), with_division=True)
    text += '"Doe, Jane",1,2,"ON2",3,4,1-6-26,1700,0000\n'
    report = parse_report(text)
    assert len(report.rows) == 1
    assert [f.code for f in report.findings] == ["BAD_ROW"]


def test_rendered_625c_header_matches_the_real_layout() -> None:
    as_of = datetime(2015, 7, 18, 10, 36)
    for name, with_division in (("report-2015-07-medicine-625c.txt", True), ("report-2015-07-neuro-625c.txt", False)):
        sample = _sample(name)
        rows = parse_report(sample).rows
        rendered = render_report(rows, date(2015, 7, 1), with_division, report="625c", as_of=as_of)
        sample_lines = sample.splitlines()
        header_len = next(i for i, line in enumerate(sample_lines) if line.startswith('"'))
        assert rendered.splitlines()[:header_len] == sample_lines[:header_len]
        assert parse_report(rendered).rows == rows


NOTED = (
    AmionRow(date(2026, 3, 1), "ON1", "Müller, Jörg", time(22, 0), time(8, 0), note="covers Allen too"),
    AmionRow(date(2026, 3, 1), "Mid 3", "Smith, John", time(17, 0), time(1, 0)),
    AmionRow(date(2026, 3, 2), "DAY", "Doe, Jane", time(7, 0), time(7, 0), note='says "hi", twice'),
)


@pytest.mark.parametrize("kind", ["619", "625c", "619tabs", "625ctabs"])
@pytest.mark.parametrize("with_division", [False, True])
def test_every_report_kind_round_trips(kind: ReportKind, with_division: bool) -> None:
    rows = tuple(AmionRow(**{**r.__dict__, "division": "Radiology" if with_division else None}) for r in NOTED)
    text = render_report(rows, date(2026, 3, 1), with_division, report=kind)
    assert ("\t" in text) == kind.endswith("tabs")
    report = parse_report(text, "March 2026")
    assert report.findings == ()
    keeps_notes = kind.startswith("625c")
    assert report.rows == tuple(r if keeps_notes else AmionRow(**{**r.__dict__, "note": None}) for r in rows)


def test_tab_separated_rows_may_be_unquoted_names_with_commas() -> None:
    text = (
        "Assignments for March 2026\n\n"
        "Field  1 - 3: Staff name, unique ID, backup ID\n\n"
        "Smith, John\t1\t2\tON1 (overnight, CPMC)\t3\t4\t3-1-26\t2200\t0800\n"
        '"Doe, Jane"\t5\t6\t"ON2"\t7\t8\t3-1-26\t2200\t0800\n'
    )
    report = parse_report(text)
    assert report.findings == ()
    assert [(r.name, r.label) for r in report.rows] == [("Smith, John", "ON1 (overnight, CPMC)"), ("Doe, Jane", "ON2")]


def test_header_is_found_by_content_whatever_its_length() -> None:
    sample = _sample("report-2015-07-neuro-619.txt")
    longer = "Some Hospital Radiology\nPrinted by the scheduler\n\n" + sample.replace("\n\n", "\n\n\n\n", 1)
    shorter = "\n".join(line for line in sample.splitlines() if not line.startswith("Field"))
    for text in (longer, shorter):
        report = parse_report(text)
        assert report.findings == ()
        assert report.rows == parse_report(sample).rows


def test_placeholders_in_times_ids_and_division_are_empty_values() -> None:
    text = (
        "Assignments for March 2026\n\n"
        '"---","Smith, John",---,---,"ON1",3,4,3-1-26,---,---\n'
        '"Rad","Doe, Jane",1,2,"---",3,4,3-1-26,2200,0800\n'
    )
    report = parse_report(text, "March 2026")
    (row,) = report.rows
    assert (row.name, row.division, row.start, row.end, row.duration) == ("Smith, John", None, None, None, None)
    assert [f.code for f in report.findings] == ["UNFILLED_SLOTS"]


def test_overnight_and_24_hour_shifts() -> None:
    text = render_report(
        [
            AmionRow(date(2026, 3, 1), "ON1", "A", time(22, 0), time(8, 0)),
            AmionRow(date(2026, 3, 1), "MidC", "B", time(17, 0), time(0, 0)),
            AmionRow(date(2026, 3, 1), "DAY", "C", time(7, 0), time(7, 0)),
            AmionRow(date(2026, 3, 31), "ON2", "D", time(23, 0), time(7, 0)),
        ],
        date(2026, 3, 1),
    )
    rows = parse_report(text).rows
    assert [r.duration for r in rows] == [timedelta(hours=10), timedelta(hours=7), timedelta(hours=24),
                                          timedelta(hours=8)]  # fmt: skip
    assert rows[3].end_at == datetime(2026, 4, 1, 7, 0)


def test_title_with_rows_in_another_layout_is_layout_unrecognized_not_an_empty_month() -> None:
    text = (
        "Assignments for March 2026\n\nStaff, Assignment, Date, Hours\n\n"
        '"Smith, John","ON1",2026-03-01,2200-0800,1,2,3\n'
        '"Doe, Jane","ON2",2026-03-01,2200-0800,1,2,3\n'
    )
    report = parse_report(text, "March 2026")
    assert report.rows == ()
    (finding,) = report.findings
    assert (finding.code, finding.severity, finding.location) == ("LAYOUT_UNRECOGNIZED", Severity.ERROR, "March 2026")
    assert "March 2026" in finding.text and "2 record lines" in finding.text


@pytest.mark.parametrize(
    "name",
    ["report-2015-07-medicine-619.txt", "report-2015-07-medicine-625c.txt", "report-2015-07-neuro-619.txt",
     "report-2015-07-neuro-625c.txt"],
)  # fmt: skip
def test_placeholders_in_every_sample(name: str) -> None:
    sample = _sample(name)
    first, second = (line for line in sample.splitlines() if line.startswith('"'))
    offset = 1 if "Division" in sample else 0
    staff = next(csv.reader([first]))[offset]
    start, end = next(csv.reader([second]))[7 + offset : 9 + offset]
    unfilled = first.replace(f'"{staff}"', '"---"', 1)
    untimed = second.replace(f",{start},{end}", ",---,---", 1)
    report = parse_report(sample.replace(first, unfilled).replace(second, untimed), "July 2015")
    (row,) = report.rows
    assert (row.start, row.end, row.duration) == (None, None, None)
    assert [(f.code, f.severity) for f in report.findings] == [("UNFILLED_SLOTS", Severity.INFO)]
