from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from services.amion_scraper.report import AmionRow, ParsedReport, parse_report, render_report
from shared.findings import Severity

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "amion"


def _sample(name: str) -> str:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {path} not available")
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
    assert parse_report(text, "January 2026") == ParsedReport(rows=(), findings=())


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
    assert [(f.code, f.severity) for f in report.findings] == [("BAD_ROW", Severity.WARNING)] * 3
    for offset, finding in zip((0, 1, 3), report.findings, strict=True):
        assert f"line {first_row_line + offset}" in finding.text


def test_rows_lacking_the_division_announced_by_the_header_are_bad_rows() -> None:
    text = render_report(ROWS[:1], date(2026, 1, 1), with_division=True)
    text += '"Doe, Jane",1,2,"ON2",3,4,1-6-26,1700,0000\n'
    report = parse_report(text)
    assert len(report.rows) == 1
    assert [f.code for f in report.findings] == ["BAD_ROW"]
