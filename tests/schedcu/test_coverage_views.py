"""What a scheduler reads: the HTML report and the terminal summary, from a hand-made calculation."""

import json
import re
from datetime import date, datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from schedcu.views.coverage_page import render_page
from schedcu.views.terminal import print_summary, table
from services.coverage.corrections import CorrectionError, find_person
from services.coverage.gap_lines import GapGroup, GroupCandidate
from shared.db.models import Person
from shared.kernel import coverage_rules
from shared.kernel.states import Specialty

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


NY = ZoneInfo("America/New_York")
ANA = coverage_rules.Person(1, "Ana Both", Specialty.BOTH)
NED = coverage_rules.Person(2, "Ned Neuro", Specialty.NEURO_ONLY)


def group(day: date, role: str, hours: tuple[int, int], uncovered: tuple[str, ...], mismatched: tuple[str, ...],
          candidates: tuple[GroupCandidate, ...]) -> GapGroup:  # fmt: skip
    start = datetime(day.year, day.month, day.day, hours[0], tzinfo=NY)
    end = datetime(day.year, day.month, day.day, hours[1], tzinfo=NY)
    return GapGroup(day, role, role, start, end, ("w",), uncovered, mismatched,
                    len(uncovered) + len(mismatched), candidates, ())  # fmt: skip


GROUPS = [
    group(date(2026, 1, 31), "ON1", (1, 8), (), ("CPMC US",), (GroupCandidate(ANA, 1, 0, 0, 0),)),
    group(date(2026, 2, 1), "ON1", (1, 8), ("CPMC CT Neuro",), (), ()),
    group(date(2026, 2, 1), "Mid3", (18, 23), ('<b>&"x',), (),
          (GroupCandidate(ANA, 1, 1, 1, 0), GroupCandidate(NED, 1, 2, 0, 0))),
]  # fmt: skip


@pytest.fixture(scope="module")
def page() -> str:
    return render_page(CALC, CELLS, GROUPS, NY)


def test_report_has_one_square_per_date_and_worklist_coloured_by_its_worst_window(page: str) -> None:
    squares = re.findall(r'<td class="s-(\w+)" data-cell="([^"]+)" data-status="(\w+)" data-w="([^"]*)"', page)
    assert [(unescape(key), status) for _, key, status, _ in squares] == [
        ("2026-01-31|CPMC CT Neuro", "COVERED"),  # worst of COVERED, COVERED
        ("2026-01-31|CPMC US", "SPECIALTY_MISMATCH"),
        ("2026-02-01|CPMC CT Neuro", "UNCOVERED"),
        ('2026-02-01|<b>&"x', "UNCOVERED"),
    ]
    assert all(css == status for css, _, status, _ in squares)
    # CPMC US on Feb 1 and the odd worklist on Jan 31 have no cells: empty squares without data
    assert page.count('<td class="none"></td>') == 2
    # January and February are two months, both open: the period spans two
    assert re.findall(r'<details class="month-block" data-month="([\d-]+)" open><summary>(\w+ \d+)', page) == [
        ("2026-01", "January 2026"),
        ("2026-02", "February 2026"),
    ]


def hover_table(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="cells">(.*?)</script>', page)
    assert found
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_a_square_names_its_windows_roles_people_and_statuses_from_the_page_s_table(page: str) -> None:
    data = hover_table(page)
    windows, roles, statuses = data["windows"], data["roles"], data["statuses"]
    squares = {unescape(k): w for k, w in re.findall(r'data-cell="([^"]+)" data-status="\w+" data-w="([^"]*)"', page)}

    def decoded(key: str) -> list[tuple[str, str, str, str]]:
        out = []
        for part in squares[key].split(" "):
            w, r, s, p = (int(i) for i in part.split(".")[:4])
            out.append((windows[w], roles[r], data["people"][p] or "nobody", statuses[s]))
        return out

    assert decoded("2026-01-31|CPMC CT Neuro") == [
        ("Mid 6 pm - 12 am", "MidC", "Ana Both", "COVERED"),
        ("ON 1 am - 8 am", "ON1", "Ana Both", "COVERED"),
    ]
    assert decoded("2026-01-31|CPMC US") == [("ON 1 am - 8 am", "ON1", "Ned Neuro", "SPECIALTY_MISMATCH")]
    assert decoded("2026-02-01|CPMC CT Neuro") == [("ON 1 am - 8 am", "ON1", "nobody", "UNCOVERED")]
    assert "addEventListener('mouseover'" in page


def test_gaps_are_one_line_per_date_role_and_hours_with_the_best_candidates(page: str) -> None:
    rows = re.findall(r'<tr data-gap="([^"]+)">(.*?)</tr>', page)
    assert [unescape(key) for key, _ in rows] == [
        "2026-01-31|ON1|01:00-08:00",
        "2026-02-01|ON1|01:00-08:00",
        "2026-02-01|Mid3|18:00-23:00",
    ]
    mid3 = rows[2][1]
    assert "uncovered: &lt;b&gt;&amp;&quot;x" in mid3
    assert mid3.index("Ana Both: fills all its gaps; 1 nights") < mid3.index("Ned Neuro: fills all its gaps")
    assert "mismatched: CPMC US" in rows[0][1] and "no candidate" in rows[1][1]
    assert "Critical gaps of February 2026: 2 in 2 lines" in page


def test_report_is_self_contained_and_escapes_what_it_shows(page: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|https?://""", page)
    assert '<b>&"x' not in page and "&lt;b&gt;&amp;&quot;x" in page
    assert "calculated 2026-01-02 10:04 EST" in page
    assert "DOUBLE_BOOKED 1" in page and "Ana has overlapping roles" in page


def test_a_period_of_more_than_two_months_is_collapsed_month_by_month() -> None:
    long = {**CALC, "period": {"start": "2026-01-01", "end": "2026-03-31"}}
    page = render_page(long, CELLS, GROUPS, NY)
    assert re.findall(r'<details class="month-block" data-month="([\d-]+)"(\s?\w*)>', page) == [
        ("2026-01", ""),
        ("2026-02", ""),
        ("2026-03", ""),
    ]


def test_terminal_summary_lists_one_line_per_date_role_and_hours(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(CALC, GROUPS, NY)
    out = capsys.readouterr().out
    assert "coverage 40.0 % of 5 cells\n  COVERED 2  UNCOVERED 2  SPECIALTY_MISMATCH 1\n" in out
    assert "findings: DOUBLE_BOOKED 1" in out
    gaps = out[out.index("critical gaps: 3 of 3, in 3 lines") :].splitlines()[1:]
    assert gaps == [
        "  2026-01-31 ON1 01:00-08:00 mismatched: CPMC US",
        "      1. Ana Both: fills all its gaps; 0 nights, 0 weekend nights, 0 holiday nights in the period",
        "  2026-02-01 ON1 01:00-08:00 uncovered: CPMC CT Neuro",
        "      no candidate",
        '  2026-02-01 Mid3 18:00-23:00 uncovered: <b>&"x',
        "      1. Ana Both: fills all its gaps; 1 nights, 1 weekend nights, 0 holiday nights in the period",
        "      2. Ned Neuro: fills all its gaps; 2 nights, 0 weekend nights, 0 holiday nights in the period",
    ]


def test_terminal_summary_without_groups_gives_the_count_and_where_to_see_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_summary(CALC)
    assert "critical gaps: 3 (by date, role and hours, with candidates: `schedcu coverage show v-1`)" in (
        capsys.readouterr().out
    )


def test_table_aligns_text_left_and_numbers_right() -> None:
    assert table(["name", "n"], [["CPMC", 5], ["Allen", 12]], indent="") == (
        "name    n\n-----  --\nCPMC    5\nAllen  12"
    )


def test_find_person_by_email_name_or_alias_folded() -> None:
    people = [
        Person(id=1, name="Adams, Ada", email="ada@example.org", aliases=["Adams, A"], active=True),
        Person(id=2, name="Baker, Ben", email="ben@example.org", aliases=["B Baker"], active=True),
        Person(id=3, name="Baker, Bo", email="bo@example.org", aliases=["B Baker"], active=True),
    ]
    assert find_person(people, "ADA@example.org").id == 1
    assert find_person(people, " adams,   ada ").id == 1
    assert find_person(people, "adams, a").id == 1
    with pytest.raises(CorrectionError, match=r"fits several people: ben@example\.org, bo@example\.org"):
        find_person(people, "B Baker")
    with pytest.raises(CorrectionError, match="No person is called 'Nobody'"):
        find_person(people, "Nobody")
