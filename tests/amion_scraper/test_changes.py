"""Whether Amion's content of a month changed (services/amion_scraper/changes.py): by what the page says."""

from datetime import date, datetime, time

from services.amion_scraper.changes import changed_in_span, changed_months, content_key
from services.amion_scraper.grid import render_grid
from services.amion_scraper.report import render_report
from services.amion_scraper.rows import AmionRow

MARCH = date(2026, 3, 1)
ROWS = [
    AmionRow(date(2026, 3, 2), "ON1 10p-8a", "Adams, Ada", time(22), time(8)),
    AmionRow(date(2026, 3, 2), "Mid 3 5p-1a", "Chen, Cleo", time(17), time(1)),
]


def report(rows: list[AmionRow], printed: datetime = datetime(2026, 2, 20, 9, 0)) -> str:
    return render_report(rows, MARCH, as_of=printed)


def test_a_report_printed_again_later_has_not_changed() -> None:
    again = report(ROWS, datetime(2026, 2, 27, 17, 45))
    assert again != report(ROWS)
    assert content_key(again, MARCH) == content_key(report(ROWS), MARCH)
    assert changed_months({MARCH: again}, {MARCH: report(ROWS)}) == []


def test_rows_in_another_order_have_not_changed() -> None:
    assert changed_months({MARCH: report(ROWS[::-1])}, {MARCH: report(ROWS)}) == []


def test_a_removed_assignment_a_new_name_or_new_hours_are_changes() -> None:
    stored = {MARCH: report(ROWS)}
    assert changed_months({MARCH: report(ROWS[:1])}, stored) == [MARCH]
    renamed = [ROWS[0], AmionRow(date(2026, 3, 2), "Mid 3 5p-1a", "Gray, Gia", time(17), time(1))]
    assert changed_months({MARCH: report(renamed)}, stored) == [MARCH]
    later = [ROWS[0], AmionRow(date(2026, 3, 2), "Mid 3 5p-1a", "Chen, Cleo", time(18), time(1))]
    assert changed_months({MARCH: report(later)}, stored) == [MARCH]


def test_no_file_then_a_month_of_rows_is_a_change_and_a_month_never_stored_has_changed() -> None:
    april = date(2026, 4, 1)
    assert changed_months({MARCH: report(ROWS)}, {MARCH: "NOFI=No file"}) == [MARCH]
    assert changed_months({MARCH: "NOFI=No file"}, {MARCH: "NOFI=No file"}) == []
    assert changed_months({MARCH: report(ROWS), april: "NOFI=No file"}, {MARCH: report(ROWS)}) == [april]


def test_the_grid_and_the_report_of_the_same_rows_agree() -> None:
    grid = render_grid(ROWS, MARCH, date(2026, 3, 31))
    assert changed_months({MARCH: grid}, {MARCH: render_grid(ROWS, MARCH, date(2026, 3, 31))}) == []


def test_a_span_compares_only_its_dates_across_the_months_end() -> None:
    april = date(2026, 4, 1)
    march_rows = [*ROWS, AmionRow(date(2026, 3, 31), "ON1 10p-8a", "Adams, Ada", time(22), time(8))]
    april_rows = [AmionRow(date(2026, 4, 1), "ON1 10p-8a", "Chen, Cleo", time(22), time(8))]
    stored = {MARCH: report(march_rows), april: render_report(april_rows, april)}
    span = render_report([march_rows[-1], *april_rows], date(2026, 3, 31))
    assert changed_in_span(span, stored, date(2026, 3, 31), date(2026, 4, 1)) == []
    assert changed_in_span(
        render_report(april_rows, date(2026, 3, 31)), stored, date(2026, 3, 31), date(2026, 4, 1)
    ) == [MARCH]
    assert changed_in_span(span, {MARCH: report(march_rows)}, date(2026, 3, 31), date(2026, 4, 1)) == [april]
    assert changed_in_span(span, stored, date(2026, 3, 30), date(2026, 4, 1)) == []  # nobody on the 30th, then or now
