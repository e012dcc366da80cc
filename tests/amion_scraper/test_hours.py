"""Amion's labels and hours: the report and the grid give the same label text and hours for a shift, and the
hours become time-zone-aware instants (DST nights included)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedcu.testing.fake_amion import truth_from_dict
from services.amion_scraper.assessment import MonthPage, assess
from services.amion_scraper.grid import render_grid
from services.amion_scraper.matching import MatchedAssignment
from services.amion_scraper.pages import parse_page
from services.amion_scraper.report import render_report
from services.amion_scraper.rows import AmionRow, amion_interval, local_instant
from shared.kernel.people import PersonRef

NY = ZoneInfo("America/New_York")
MARCH = date(2026, 3, 1)
PEOPLE = [PersonRef(1, "Adams, Ada"), PersonRef(2, "Chen, Cleo")]
ROWS = [
    AmionRow(date(2026, 3, 3), "Mid C 5p-1a", "Adams, Ada", time(17), time(1)),
    AmionRow(date(2026, 3, 3), "ON1 10p-8a", "Adams, Ada", time(22), time(8)),
    AmionRow(date(2026, 3, 4), "Mid C 5p-10p", "Chen, Cleo", time(17), time(22)),
    AmionRow(date(2026, 3, 4), "ON1 10p-8a", "Chen, Cleo", time(22), time(8)),
    AmionRow(date(2026, 3, 4), "Jeopardy 7a-7p", "Adams, Ada", time(7), time(19)),
    AmionRow(date(2026, 3, 5), "Jeopardy 7a-7p", "Chen, Cleo", time(7), time(19)),
]
MAPPING = [(r"^mid\s*c\b", "MidC"), (r"^ON1\b", "ON1")]


def _hours(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    return amion_interval(day, start, end, NY)


def test_amion_hours_end_the_next_day_at_0000_or_before_the_start_and_24_hours_when_equal() -> None:
    day = date(2026, 3, 3)
    assert _hours(day, time(17), time(1)) == (datetime(2026, 3, 3, 17, tzinfo=NY), datetime(2026, 3, 4, 1, tzinfo=NY))
    assert _hours(day, time(17), time(0))[1] == datetime(2026, 3, 4, 0, tzinfo=NY)
    assert _hours(day, time(7), time(7))[1] == datetime(2026, 3, 4, 7, tzinfo=NY)
    assert _hours(day, time(7), time(19))[1] == datetime(2026, 3, 3, 19, tzinfo=NY)


def test_dst_nights_are_real_lengths_and_skipped_or_repeated_wall_times_are_resolved() -> None:
    def length(day: date) -> timedelta:
        start, end = _hours(day, time(22), time(8))
        return end.astimezone(UTC) - start.astimezone(UTC)

    assert length(date(2026, 3, 7)) == timedelta(hours=9)  # clocks go forward in the night
    assert length(date(2026, 10, 31)) == timedelta(hours=11)  # clocks go back
    assert length(date(2026, 3, 3)) == timedelta(hours=10)
    # 02:30 does not exist on 2026-03-08: read with the offset before the change, i.e. 03:30 EDT
    skipped = local_instant(date(2026, 3, 8), time(2, 30), NY)
    assert skipped.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # 01:30 happens twice on 2026-11-01: the first time (EDT)
    repeated = local_instant(date(2026, 11, 1), time(1, 30), NY)
    assert repeated.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_a_matched_assignment_has_instants_only_when_amion_gives_hours() -> None:
    with_hours = MatchedAssignment(date(2026, 3, 3), "MidC", 1, "Mid C 5p-1a", "Adams, Ada", time(17), time(1))
    assert with_hours.interval(NY) == _hours(date(2026, 3, 3), time(17), time(1))
    without = MatchedAssignment(date(2026, 3, 3), "ON1", 1, "Jeopardy", "Adams, Ada", None, None)
    assert without.interval(NY) is None


def test_report_and_grid_of_a_month_give_the_same_labels_hours_roles_and_findings() -> None:
    report = render_report(ROWS, MARCH)
    grid = render_grid(ROWS, MARCH, date(2026, 3, 31))
    assert "<I>Mid&nbsp;C&nbsp;5p-1a</I>" in grid and '"Mid C 5p-1a"' in report

    def shown(page: str) -> list[tuple[date, str, str, time | None, time | None]]:
        return sorted((r.schedule_date, r.label, r.name, r.start, r.end) for r in parse_page(page, MARCH).rows)

    assert shown(report) == shown(grid) == sorted((r.schedule_date, r.label, r.name, r.start, r.end) for r in ROWS)

    from_report = assess([MonthPage(MARCH, report)], MARCH, date(2026, 3, 31), MAPPING, PEOPLE)
    from_grid = assess([MonthPage(MARCH, grid)], MARCH, date(2026, 3, 31), MAPPING, PEOPLE)
    assert sorted(from_report.assignments, key=repr) == sorted(from_grid.assignments, key=repr)
    assert from_report.findings == from_grid.findings
    assert [(a.role, a.label, a.start, a.end) for a in from_grid.assignments if a.schedule_date.day == 3] == [
        ("MidC", "Mid C 5p-1a", time(17), time(1)),
        ("ON1", "ON1 10p-8a", time(22), time(8)),
    ]
    (unmapped,) = from_grid.findings
    assert (unmapped.code, unmapped.location) == ("UNMAPPED_LABEL", "Jeopardy 7a-7p")
    assert unmapped.text == "Amion label 'Jeopardy 7a-7p' maps to no role; 2 rows skipped"


def test_a_report_label_padded_with_spaces_is_the_grid_label() -> None:
    padded = [AmionRow(date(2026, 3, 2), "Night Shift 1        9p-7a", "Adams, Ada", time(21), time(7))]
    (from_report,) = parse_page(render_report(padded, MARCH), MARCH).rows
    grid = render_grid(padded, MARCH, date(2026, 3, 31)).replace("Night&nbsp;Shift&nbsp;1&nbsp;", "Night Shift 1 ")
    (from_grid,) = parse_page(grid, MARCH).rows
    assert from_report.label == from_grid.label == "Night Shift 1 9p-7a"
    assert (from_grid.start, from_grid.end) == (from_report.start, from_report.end) == (time(21), time(7))


def test_without_a_mapping_a_label_names_its_role_hours_aside() -> None:
    rows = [AmionRow(date(2026, 3, 2), "Mid 3 5p-1a", "Adams, Ada", time(17), time(1))]
    page = render_grid(rows, MARCH, date(2026, 3, 31))
    outcome = assess([MonthPage(MARCH, page)], MARCH, date(2026, 3, 31), [], PEOPLE)
    assert [(a.role, a.label) for a in outcome.assignments] == [("Mid3", "Mid 3 5p-1a")]
    assert outcome.findings == []


def test_a_fake_amion_truth_whose_label_states_other_hours_is_refused() -> None:
    item = {"date": "2026-03-03", "label": "ON1 10p-8a", "name": "Adams, Ada", "start": "2300", "end": "0800"}
    with pytest.raises(ValueError, match="label 'ON1 10p-8a' states other hours than start 2300 and end 0800"):
        truth_from_dict({"password": "pw", "assignments": [item]})
