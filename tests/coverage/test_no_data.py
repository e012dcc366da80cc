"""Unknown is not a gap: dates without Amion data give NO_DATA cells, manual assignments still count there,
summaries count known cells and say why the others are unknown, and which dates lack data is decided from
the version's scrape batches."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schedcu.views.terminal import print_summary
from services.amion_scraper.assessment import MonthPage, assess
from services.amion_scraper.report import render_report
from services.amion_scraper.rows import AmionRow
from services.coverage.amion_data import NO_SCRAPE, UNFINISHED, Batch, amion_data
from services.coverage.flat_rules import calculate_flat
from shared.kernel.amion_data import NO_ASSIGNMENTS, NO_FILE, MonthResult
from shared.kernel.coverage_rules import Assignment, CellStatus, calculate
from shared.kernel.coverage_text import coverage_sentence
from shared.kernel.roles import MID_C, ON1, ON2
from tests.coverage.test_flat_rules import shift
from tests.coverage.test_rules import (
    ANA,
    BEN,
    MID_12_1,
    MID_WD_BODY,
    MID_WD_NEURO,
    NED,
    ON_WD_BODY,
    ON_WD_NEURO,
    PEOPLE,
    on,
)

C, U, ND, FULL = CellStatus.COVERED, CellStatus.UNCOVERED, CellStatus.NO_DATA, CellStatus.FULL
NY = ZoneInfo("America/New_York")
MON, TUE = date(2024, 6, 3), date(2024, 6, 4)
TEMPLATE = [ON_WD_NEURO, ON_WD_BODY, MID_12_1, MID_WD_NEURO, MID_WD_BODY]


def manual(day: date, role: str, person_id: int) -> Assignment:
    return Assignment(day, role, person_id, source="MANUAL")


def test_a_date_without_data_is_no_data_except_cells_manual_assignments_cover() -> None:
    # Monday has Amion data and nobody on Mid3: a real gap. Tuesday has none; a manual ON1 covers its cells.
    assignments = [*on(MON, ON1=ANA, ON2=BEN, MidC=ANA, MidL=BEN), manual(TUE, ON1, ANA.id)]
    result = calculate(TEMPLATE, MON, TUE, assignments, PEOPLE, no_data={TUE: NO_FILE})

    tuesday = {(c.window, c.worklist): c.status for c in result.cells if c.schedule_date == TUE}
    assert tuesday[("ON Weekday Neuro 1 am - 8 am", "CPMC CT Neuro")] is C  # ON1, by hand
    assert tuesday[("Mid  12am-1am", "CHONY Neuro")] is C  # ON1 too
    assert tuesday[("ON Weekday Neuro 1 am - 8 am", "CPMC CT Body")] is ND  # ON2: Amion would say who
    assert set(tuesday.values()) == {C, ND}
    assert {g.schedule_date for g in result.summary.critical_gaps} == {MON}  # Mid3 on Monday only
    monday = [c.status for c in result.cells if c.schedule_date == MON]
    assert U in monday and ND not in monday
    # MISSING_MIDC is a finding about Amion's data: not raised for a date that has none
    assert [f.location for f in result.findings if f.code == "MISSING_MIDC"] == []
    without = calculate(TEMPLATE, MON, TUE, assignments, PEOPLE)
    assert [f.location for f in without.findings if f.code == "MISSING_MIDC"] == [TUE.isoformat()]


def test_summary_counts_known_cells_and_the_ratio_is_over_them() -> None:
    assignments = on(MON, ON1=ANA, ON2=BEN, MidC=ANA, MidL=BEN, Mid3=NED)
    result = calculate(TEMPLATE, MON, TUE, assignments, PEOPLE, no_data={TUE: NO_FILE})
    s = result.summary
    monday = [c for c in result.cells if c.schedule_date == MON]
    assert s.unknown_cells == s.by_status[ND] == s.total - len(monday) > 0
    assert s.known_cells == len(monday)
    assert s.coverage_ratio == sum(c.status is C for c in monday) / len(monday)
    ((month, reason, start, end, cells),) = s.unknown
    assert (month, reason, start, end, cells) == ("2024-06", NO_FILE, TUE, TUE, s.unknown_cells)
    stored = s.to_dict()
    assert stored["unknown_months"] == [
        {"month": "2024-06", "reason": NO_FILE, "start": "2024-06-04", "end": "2024-06-04", "cells": cells}
    ]
    assert (stored["known_cells"], stored["unknown_cells"]) == (len(monday), cells)


def test_nothing_known_has_ratio_zero_and_says_so() -> None:
    result = calculate(TEMPLATE, MON, TUE, [], PEOPLE, no_data={MON: "wrong password", TUE: "wrong password"})
    assert {c.status for c in result.cells} == {ND}
    assert result.summary.critical_gaps == ()
    assert result.summary.coverage_ratio == 0.0
    assert coverage_sentence(result.summary.to_dict()) == (
        f"coverage unknown, no known cell; {len(result.cells)} cells without Amion data (2024-06: wrong password)"
    )


def test_summary_sentence() -> None:
    summary = {
        "total": 2790,
        "coverage_ratio": 0.9712,
        "known_cells": 1553,
        "unknown_cells": 1237,
        "unknown_months": [
            {"month": "2026-10", "reason": NO_FILE, "start": "2026-10-30", "end": "2026-10-31", "cells": 80},
            {"month": "2026-11", "reason": NO_FILE, "start": "2026-11-01", "end": "2026-11-30", "cells": 1100},
            {"month": "2026-12", "reason": "Amion could not be read", "start": "2026-12-01", "end": "2026-12-01",
             "cells": 57},
        ],
    }  # fmt: skip
    assert coverage_sentence(summary) == (
        "coverage 97.1 % of 1,553 known cells; 1,237 cells without Amion data "
        '(2026-10, 2026-11: Amion answered "No file"; 2026-12: Amion could not be read)'
    )
    # a summary stored before unknown cells were counted: every cell known
    assert coverage_sentence({"total": 1200, "coverage_ratio": 0.5}) == "coverage 50.0 % of 1,200 cells"


def test_terminal_summary_names_the_months_without_data(capsys) -> None:
    result = calculate(TEMPLATE, MON, TUE, on(MON, ON1=ANA, ON2=BEN), PEOPLE, no_data={TUE: NO_FILE})
    calc = {
        "calculation_id": "c",
        "version_id": "v",
        "layout": "TEMPLATE",
        "period": {"start": "2024-06-03", "end": "2024-06-04"},
        "summary": result.summary.to_dict(),
        "findings": [],
    }
    print_summary(calc)
    out = capsys.readouterr().out
    assert f"  {coverage_sentence(calc['summary'])}\n" in out
    assert 'cells without Amion data (2024-06: Amion answered "No file")' in out
    without = out[out.index("without Amion data:") :].splitlines()[3].split(maxsplit=5)
    assert without == ["2024-06", "2024-06-04", "..", "2024-06-04", str(result.summary.unknown_cells), NO_FILE]


def test_flat_layout_full_by_hand_stays_full_every_other_cell_is_no_data() -> None:
    shifts = [
        shift(TUE, ON1, "CPMC CT", (22, 8)),
        shift(TUE, ON2, "CPMC MR", (22, 8)),
        shift(MON, MID_C, "Allen US", (17, 23)),
    ]
    result = calculate_flat(shifts, MON, TUE, [manual(TUE, ON1, ANA.id)], PEOPLE, NY, no_data={TUE: NO_FILE})
    assert [(c.schedule_date, c.role, c.status) for c in result.cells] == [
        (MON, MID_C, U),  # Monday has Amion data: nobody on MidC is a gap
        (TUE, ON1, FULL),
        (TUE, ON2, ND),
    ]
    s = result.summary
    assert (s.known_cells, s.unknown_cells, s.coverage_ratio) == (2, 1, 0.5)
    assert [g.role for g in s.critical_gaps] == [MID_C]
    assert s.unknown[0].cells == 1


# --- which dates have Amion data -----------------------------------------------------------------------

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def batch(state: str, months: dict, findings: list | None = None, minutes: int = 0, finished: bool = True) -> Batch:
    at = T0 + timedelta(minutes=minutes)
    return Batch(uuid.uuid4(), state, months, findings or [], at, at + timedelta(seconds=5) if finished else None)


def test_dates_of_months_that_are_not_ok_in_the_applied_batch_have_no_data() -> None:
    applied = batch("PARTIAL", {"2026-03": {"outcome": "OK"}, "2026-04": {"outcome": "ERROR", "reason": "layout"}})
    data = amion_data([applied], date(2026, 3, 30), date(2026, 4, 2))
    assert data.batch_id == applied.id
    assert data.missing == {date(2026, 4, 1): "layout", date(2026, 4, 2): "layout"}


def test_the_applied_batch_is_the_latest_complete_or_partial_one() -> None:
    older = batch("COMPLETE", {"2026-03": {"outcome": "OK"}})
    newer = batch("COMPLETE", {"2026-03": {"outcome": "EMPTY", "reason": NO_FILE}}, minutes=1)
    failed = batch("FAILED", {}, [{"severity": "ERROR", "text": "Amion refused the password."}], minutes=2)
    data = amion_data([failed, older, newer], date(2026, 3, 1), date(2026, 3, 2))
    assert data.batch_id == newer.id  # a failed re-scrape stores nothing: the newer batch's rows stand
    assert set(data.missing.values()) == {NO_FILE}


def test_without_an_applied_batch_every_date_says_why() -> None:
    period = (date(2026, 3, 1), date(2026, 3, 3))
    assert amion_data([], *period).missing == dict.fromkeys([date(2026, 3, d) for d in (1, 2, 3)], NO_SCRAPE)
    refused = batch("FAILED", {}, [{"severity": "ERROR", "code": "AMION_SCRAPE_FAILED",
                                    "text": "Amion refused the password of account 'wrong'."}])  # fmt: skip
    data = amion_data([refused], *period)
    assert data.batch_id is None
    assert set(data.missing.values()) == {"Amion refused the password of account 'wrong'"}
    running = batch("PENDING", {}, minutes=1, finished=False)
    assert set(amion_data([refused, running], *period).missing.values()) == {UNFINISHED}


def test_month_outcomes_stored_before_reasons_still_read() -> None:
    data = amion_data([batch("COMPLETE", {"2026-03": "OK", "2026-04": "EMPTY"})], date(2026, 3, 31), date(2026, 4, 1))
    assert data.missing == {date(2026, 4, 1): "Amion had no assignments"}
    assert MonthResult.from_json({"outcome": "EMPTY", "reason": NO_FILE}) == MonthResult("EMPTY", NO_FILE)
    assert MonthResult("ERROR", "why").to_json() == {"outcome": "ERROR", "reason": "why"}
    assert MonthResult("OK").to_json() == {"outcome": "OK"}


def test_each_month_of_a_scrape_says_why_it_has_no_data() -> None:
    march, april, may, june = (date(2026, m, 1) for m in (3, 4, 5, 6))
    report = render_report([AmionRow(date(2026, 3, 2), "ON1", "Smith, John", time(22), time(8))], march)
    outside = render_report([AmionRow(date(2026, 6, 20), "ON1", "Smith, John", time(22), time(8))], june)
    pages = [
        MonthPage(march, report),
        MonthPage(april, "NOFI=No file"),
        MonthPage(may, "<html>new look</html>"),
        MonthPage(june, outside),  # lists June 20th only, outside the period
    ]
    outcome = assess(pages, march, date(2026, 6, 10), [], [])
    assert outcome.months == {"2026-03": "OK", "2026-04": "EMPTY", "2026-05": "ERROR", "2026-06": "EMPTY"}
    assert outcome.reasons["2026-04"] == NO_FILE
    assert outcome.reasons["2026-05"].startswith("The Amion grid for May 2026 is not in a layout")
    assert outcome.reasons["2026-06"] == NO_ASSIGNMENTS
    assert "2026-03" not in outcome.reasons
    assert ("EMPTY_MONTH", "June 2026") in [(f.code, f.location) for f in outcome.findings]
