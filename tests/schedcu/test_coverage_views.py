"""What a scheduler reads: the HTML report and the terminal summary, from a hand-made calculation."""

import re
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from schedcu.coverage_page import render_page
from schedcu.terminal import print_summary, table
from services.coverage.corrections import CorrectionError, find_person
from shared.db.models import PersonRow

SUMMARY = {
    "total": 5,
    "by_status": {"COVERED": 2, "UNCOVERED": 2, "SPECIALTY_MISMATCH": 1},
    "coverage_ratio": 0.4,
    "by_hospital": {"CPMC": {"COVERED": 2, "UNCOVERED": 1, "SPECIALTY_MISMATCH": 1}, "<b>": {"UNCOVERED": 1}},
    "by_role": {"ON1": {"COVERED": 2, "UNCOVERED": 1, "SPECIALTY_MISMATCH": 0}},
    "critical_gaps_total": 3,
    "critical_gaps_by_date": {
        "2026-01-31": [
            {"window": "ON 1 am - 8 am", "worklist": "CPMC US", "role": "ON1", "status": "SPECIALTY_MISMATCH",
             "severity": "ERROR"},
        ],
        "2026-02-01": [
            {"window": "ON 1 am - 8 am", "worklist": "CPMC CT Neuro", "role": "ON1", "status": "UNCOVERED",
             "severity": "ERROR"},
            {"window": "Mid 6 pm - 12 am", "worklist": '<b>&"x', "role": "Mid3", "status": "UNCOVERED",
             "severity": "ERROR"},
        ],
    },
}  # fmt: skip
CALC = {
    "calculation_id": "c-1",
    "version_id": "v-1",
    "created_at": "2026-01-02T15:04:05+00:00",
    "layout": "TEMPLATE",
    "period": {"start": "2026-01-31", "end": "2026-02-01"},
    "template_name": "cuSchedNormalized.ods",
    "version_state": "STAGING",
    "summary": SUMMARY,
    "findings": [{"severity": "WARNING", "code": "DOUBLE_BOOKED", "text": "Ana has overlapping roles", "location": ""}],
}


def cell(day: str, window: str, worklist: str, role: str, people: list[str], status: str) -> dict[str, object]:
    hospital = worklist.split()[0]
    return {"schedule_date": day, "window": window, "worklist": worklist, "hospital": hospital, "role": role,
            "people": people, "status": status, "mandatory": True}  # fmt: skip


CELLS = [
    cell("2026-01-31", "Mid 6 pm - 12 am", "CPMC CT Neuro", "MidC", ["Ana Both"], "COVERED"),
    cell("2026-01-31", "ON 1 am - 8 am", "CPMC CT Neuro", "ON1", ["Ana Both"], "COVERED"),
    cell("2026-01-31", "ON 1 am - 8 am", "CPMC US", "ON1", ["Ned Neuro"], "SPECIALTY_MISMATCH"),
    cell("2026-02-01", "ON 1 am - 8 am", "CPMC CT Neuro", "ON1", [], "UNCOVERED"),
    cell("2026-02-01", "Mid 6 pm - 12 am", '<b>&"x', "Mid3", [], "UNCOVERED"),
]


@pytest.fixture(scope="module")
def page() -> str:
    return render_page(CALC, CELLS, ZoneInfo("America/New_York"))


def test_report_has_one_square_per_date_and_worklist_coloured_by_its_worst_window(page: str) -> None:
    squares = re.findall(r'<td class="s-(\w+)" data-cell="([^"]+)" data-status="(\w+)" data-tip="([^"]*)"', page)
    assert [(unescape(key), status) for _, key, status, _ in squares] == [
        ("2026-01-31|CPMC CT Neuro", "COVERED"),  # worst of COVERED, COVERED
        ("2026-01-31|CPMC US", "SPECIALTY_MISMATCH"),
        ("2026-02-01|CPMC CT Neuro", "UNCOVERED"),
        ('2026-02-01|<b>&"x', "UNCOVERED"),
    ]
    assert all(css == status for css, _, status, _ in squares)
    # CPMC US on Feb 1 and the odd worklist on Jan 31 have no cells: empty squares without data
    assert page.count('<td class="none"></td>') == 2
    # January and February are two calendars
    assert "<h2>January 2026</h2>" in page and "<h2>February 2026</h2>" in page


def test_hovering_a_square_shows_every_window_with_role_people_and_status(page: str) -> None:
    tips = {
        unescape(k): unescape(t)
        for k, t in re.findall(r'data-cell="([^"]+)" data-status="\w+" data-tip="([^"]*)"', page)
    }
    assert tips["2026-01-31|CPMC CT Neuro"] == (
        "Sat 2026-01-31 · CPMC CT Neuro\n"
        "Mid 6 pm - 12 am — MidC: Ana Both — COVERED\n"
        "ON 1 am - 8 am — ON1: Ana Both — COVERED"
    )
    assert (
        tips["2026-02-01|CPMC CT Neuro"] == "Sun 2026-02-01 · CPMC CT Neuro\nON 1 am - 8 am — ON1: nobody — UNCOVERED"
    )
    assert "addEventListener('mouseover'" in page


def test_report_is_self_contained_and_escapes_what_it_shows(page: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|https?://""", page)
    assert '<b>&"x' not in page and "&lt;b&gt;&amp;&quot;x" in page
    assert "calculated 2026-01-02 10:04 EST" in page
    gaps = page[page.index("Critical gaps by date (3)") :]
    assert gaps.index("Sat 2026-01-31 — 1 gap") < gaps.index("Sun 2026-02-01 — 2 gaps")
    assert "DOUBLE_BOOKED 1" in page and "Ana has overlapping roles" in page


def test_terminal_summary_lists_gaps_by_date_with_each_date_once(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(CALC)
    out = capsys.readouterr().out
    assert "coverage 40.0 % of 5 cells\n  COVERED 2  UNCOVERED 2  SPECIALTY_MISMATCH 1\n" in out
    assert "findings: DOUBLE_BOOKED 1" in out
    gaps = out[out.index("critical gaps: 3 of 3") :].splitlines()[3:]
    assert [line.split()[:3] for line in gaps] == [
        ["2026-01-31", "ERROR", "SPECIALTY_MISMATCH"],
        ["2026-02-01", "ERROR", "UNCOVERED"],
        ["ERROR", "UNCOVERED", '<b>&"x'],  # the date is written once
    ]


def test_table_aligns_text_left_and_numbers_right() -> None:
    assert table(["name", "n"], [["CPMC", 5], ["Allen", 12]], indent="") == (
        "name    n\n-----  --\nCPMC    5\nAllen  12"
    )


def test_find_person_by_email_name_or_alias_folded() -> None:
    people = [
        PersonRow(id=1, name="Adams, Ada", email="ada@example.org", aliases=["Adams, A"], active=True),
        PersonRow(id=2, name="Baker, Ben", email="ben@example.org", aliases=["B Baker"], active=True),
        PersonRow(id=3, name="Baker, Bo", email="bo@example.org", aliases=["B Baker"], active=True),
    ]
    assert find_person(people, "ADA@example.org").id == 1
    assert find_person(people, " adams,   ada ").id == 1
    assert find_person(people, "adams, a").id == 1
    with pytest.raises(CorrectionError, match=r"fits several people: ben@example\.org, bo@example\.org"):
        find_person(people, "B Baker")
    with pytest.raises(CorrectionError, match="No person is called 'Nobody'"):
        find_person(people, "Nobody")
