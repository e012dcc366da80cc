from datetime import date, time

from services.amion_scraper.assessment import MonthPage, assess
from services.amion_scraper.grid import render_grid
from services.amion_scraper.pages import parse_page
from services.amion_scraper.report import render_report
from services.amion_scraper.rows import AmionRow
from shared.kernel.findings import Severity
from shared.kernel.people import PersonRef

PEOPLE = [PersonRef(1, "Smith, John"), PersonRef(2, "Doe, Jane", ("J Doe",))]
MARCH, APRIL, MAY = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)


def _rows(month: date) -> list[AmionRow]:
    return [
        AmionRow(month.replace(day=1), "ON1 10p-8a", "Smith, John", time(22), time(8)),
        AmionRow(month.replace(day=2), "ON2 10p-8a", "J Doe", time(22), time(8), note="swap"),
    ]


def _report(month: date) -> str:
    return render_report(_rows(month), month)


def test_nofi_pages() -> None:
    (empty,) = parse_page("NOFI=No file", MARCH).findings
    assert (empty.code, empty.severity, empty.location) == ("EMPTY_MONTH", Severity.WARNING, "March 2026")
    (auth,) = parse_page("NOFI=Bad password\n").findings
    assert (auth.code, auth.severity) == ("AMION_AUTH_FAILED", Severity.ERROR)
    (other,) = parse_page("  NOFI=Server busy", MARCH).findings
    assert (other.code, other.severity) == ("AMION_ERROR", Severity.ERROR)
    assert "Server busy" in other.text and "March 2026" in other.text


def test_pages_are_recognised_by_content() -> None:
    grid = render_grid(_rows(MARCH), MARCH, date(2026, 3, 31))
    assert parse_page(grid, MARCH).rows == tuple(_rows(MARCH))
    without_notes = tuple(AmionRow(**{**r.__dict__, "note": None}) for r in _rows(MARCH))  # 619 has no notes
    assert parse_page(_report(MARCH), MARCH).rows == without_notes
    (finding,) = parse_page("<html><body>Maintenance</body></html>", MARCH).findings
    assert finding.code == "LAYOUT_UNRECOGNIZED" and "March 2026" in finding.text


def test_every_month_ok_is_complete_with_notes_and_roles() -> None:
    outcome = assess([MonthPage(MARCH, _report(MARCH)), MonthPage(APRIL, _report(APRIL))], MARCH, date(2026, 4, 30),
                     [], PEOPLE)  # fmt: skip
    assert outcome.state == "COMPLETE"
    assert outcome.months == {"2026-03": "OK", "2026-04": "OK"}
    assert outcome.findings == []
    assert [(a.schedule_date, a.role, a.person_id) for a in outcome.assignments] == [
        (date(2026, 3, 1), "ON1", 1), (date(2026, 3, 2), "ON2", 2), (date(2026, 4, 1), "ON1", 1),
        (date(2026, 4, 2), "ON2", 2),
    ]  # fmt: skip


def test_empty_month_is_complete_with_a_warning() -> None:
    outcome = assess([MonthPage(MARCH, _report(MARCH)), MonthPage(APRIL, "NOFI=No file")], MARCH, date(2026, 4, 30),
                     [], PEOPLE)  # fmt: skip
    assert outcome.state == "COMPLETE"
    assert outcome.months == {"2026-03": "OK", "2026-04": "EMPTY"}
    assert [f.code for f in outcome.findings] == ["EMPTY_MONTH"]


def test_a_month_with_an_error_makes_the_batch_partial_and_the_others_are_kept() -> None:
    broken = "<html><table border=1><tr><td>nothing</td></tr></table></html>"
    outcome = assess(
        [MonthPage(MARCH, _report(MARCH)), MonthPage(APRIL, broken), MonthPage(MAY, None, "HTTP 503 four times")],
        MARCH,
        date(2026, 5, 31),
        [],
        PEOPLE,
    )
    assert outcome.state == "PARTIAL"
    assert outcome.months == {"2026-03": "OK", "2026-04": "ERROR", "2026-05": "ERROR"}
    assert {a.schedule_date.month for a in outcome.assignments} == {3}
    errors = [(f.code, f.location) for f in outcome.findings if f.severity is Severity.ERROR]
    assert errors == [("LAYOUT_UNRECOGNIZED", "April 2026"), ("MONTH_NOT_FETCHED", "May 2026")]
    assert "HTTP 503 four times" in outcome.findings[-1].text


def test_every_month_failing_is_failed_with_a_reason_naming_them() -> None:
    outcome = assess([MonthPage(MARCH, None, "timed out"), MonthPage(APRIL, "NOFI=Bad password")], MARCH,
                     date(2026, 4, 30), [], PEOPLE)  # fmt: skip
    assert outcome.state == "FAILED"
    assert outcome.assignments == []
    assert "March 2026: timed out" in outcome.reason and "refused the view password for April 2026" in outcome.reason


def test_rows_of_a_month_with_an_error_are_not_stored() -> None:
    cut = render_grid(_rows(MARCH), MARCH, date(2026, 3, 14))  # the grid stops mid-month
    outcome = assess([MonthPage(MARCH, cut)], MARCH, date(2026, 3, 31), [], PEOPLE)
    assert outcome.state == "FAILED"
    assert [f.code for f in outcome.findings] == ["INCOMPLETE_PAGE"]


def test_rows_outside_the_period_and_outside_the_pages_month_are_left_out() -> None:
    spanning = render_grid(_rows(MARCH) + _rows(APRIL), MARCH, date(2026, 4, 5))  # shows April 1-5 too
    outcome = assess([MonthPage(MARCH, spanning)], date(2026, 3, 2), date(2026, 3, 31), [], PEOPLE)
    assert [(a.schedule_date, a.note) for a in outcome.assignments] == [(date(2026, 3, 2), "swap")]


def test_mapping_and_people_findings_come_through() -> None:
    rows = [*_rows(MARCH), AmionRow(date(2026, 3, 3), "Vacation", "Smith, John", time(7), time(7)),
            AmionRow(date(2026, 3, 4), "Vacation", "Smith, John", time(7), time(7)),
            AmionRow(date(2026, 3, 5), "ON1", "Ghost, A", time(22), time(8))]  # fmt: skip
    outcome = assess([MonthPage(MARCH, render_report(rows, MARCH))], MARCH, date(2026, 3, 31),
                     [(r"^ON ?1", "ON1"), (r"^ON ?2", "ON2")], PEOPLE)  # fmt: skip
    assert outcome.state == "COMPLETE"
    codes = [(f.code, f.location) for f in outcome.findings]
    assert codes == [("UNMAPPED_LABEL", "Vacation"), ("UNKNOWN_PEOPLE", None)]
    assert "2 rows" in outcome.findings[0].text
    assert len(outcome.assignments) == 2


def test_a_failure_to_fetch_is_worth_another_attempt_a_page_nobody_can_read_is_not() -> None:
    unreachable = assess([MonthPage(MARCH, None, "timed out")], MARCH, date(2026, 3, 31), [], PEOPLE)
    unreadable = assess([MonthPage(MARCH, "<html>new look</html>")], MARCH, date(2026, 3, 31), [], PEOPLE)
    assert (unreachable.state, unreachable.retryable) == ("FAILED", True)
    assert (unreadable.state, unreadable.retryable) == ("FAILED", False)
