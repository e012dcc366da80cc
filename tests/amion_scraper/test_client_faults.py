"""Scrapes through every fault the fake Amion injects, compared with its ground truth: the client, the page
parsers and the handler's pure part (`assess`), with the fake in process."""

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from schedcu.testing.demo_data import ROSTER, truth
from schedcu.testing.fake_amion import FakeAmion, Truth, truth_from_dict
from services.amion_scraper.assessment import MonthPage, ScrapeOutcome, assess
from services.amion_scraper.client import AmionAuthError, AmionClient, Politeness, Source
from services.amion_scraper.report import ReportKind
from services.amion_scraper.rows import months_of_period, split_label
from shared.kernel.people import PersonRef
from shared.kernel.roles import normalize_role

PASSWORD = "fault pw"
START, END = date(2026, 1, 1), date(2026, 3, 31)
FEBRUARY = "2-26"
PEOPLE = [PersonRef(n, p["name"], tuple(p["aliases"])) for n, p in enumerate(ROSTER, start=1)]
SOURCES: list[tuple[Source, ReportKind]] = [("report", "619"), ("report", "625ctabs"), ("grid", "619")]


def _truth() -> Truth:
    assignments = []
    for month in months_of_period(START, END):
        assignments += truth(month, PASSWORD)["assignments"]
    for n, item in enumerate(assignments):
        if n % 17 == 0:
            item["note"] = f"note {n}: café"
    return truth_from_dict({"password": PASSWORD, "assignments": assignments})


TRUTH = _truth()


@pytest.fixture
def fake() -> Iterator[FakeAmion]:
    with FakeAmion(TRUTH) as server:
        yield server


def _expected(months: frozenset[int] = frozenset({1, 2, 3}), notes: bool = True) -> list[tuple[Any, ...]]:
    ids = {p.name: p.id for p in PEOPLE}
    return sorted(
        (
            r.schedule_date,
            normalize_role(split_label(r.label)[0]),
            ids[r.name],
            r.label,
            r.start,
            r.end,
            r.note if notes else None,
        )
        for r in TRUTH.assignments
        if r.schedule_date.month in months
    )


def _stored(outcome: ScrapeOutcome) -> list[tuple[Any, ...]]:
    return sorted((a.schedule_date, a.role, a.person_id, a.label, a.start, a.end, a.note) for a in outcome.assignments)


async def _scrape(fake: FakeAmion, source: Source, report: ReportKind, password: str = PASSWORD) -> ScrapeOutcome:
    client = AmionClient(
        fake.base_url,
        password,
        source=source,
        report=report,
        politeness=Politeness(min_interval_s=0.0),
        timeout=0.5,
        attempts=3,
        backoff_s=0.01,
    )
    async with client:
        fetched = await client.fetch_months(months_of_period(START, END))
    pages = [MonthPage(f.month, f.page.body if f.page else None, f.error) for f in fetched]
    return assess(pages, START, END, [], PEOPLE)


def _keeps_notes(source: Source, report: ReportKind) -> bool:
    return source == "grid" or report.startswith("625c")


@pytest.mark.parametrize(("source", "report"), SOURCES)
async def test_without_faults_the_scrape_equals_the_truth(fake: FakeAmion, source: Source, report: ReportKind) -> None:
    outcome = await _scrape(fake, source, report)
    assert outcome.state == "COMPLETE" and outcome.findings == []
    assert _stored(outcome) == _expected(notes=_keeps_notes(source, report))


TRANSIENT = [
    {"fault": "status", "status": 503, "retry_after": "0.1", "times": 2},
    {"fault": "status", "status": 500, "times": 2},
    {"fault": "status", "status": 429, "retry_after": "0.2", "times": 1},
    {"fault": "reset", "times": 2},
    {"fault": "truncate", "times": 2},
    {"fault": "latency", "latency_s": 1.0, "times": 1},
]


@pytest.mark.parametrize("rule", TRANSIENT, ids=lambda r: f"{r['fault']}{r.get('status', '')}x{r['times']}")
@pytest.mark.parametrize(("source", "report"), SOURCES)
async def test_transient_faults_are_retried_and_the_scrape_equals_the_truth(
    fake: FakeAmion, source: Source, report: ReportKind, rule: dict[str, Any]
) -> None:
    fake.inject({**rule, "month": FEBRUARY})
    outcome = await _scrape(fake, source, report)
    assert outcome.state == "COMPLETE", outcome.findings
    assert _stored(outcome) == _expected(notes=_keeps_notes(source, report))
    assert fake.requests_for(FEBRUARY) == 1 + rule["times"]
    assert fake.requests_for("1-26") == fake.requests_for("3-26") == 1


@pytest.mark.parametrize(("source", "report"), SOURCES)
async def test_no_file_is_an_empty_month_with_a_warning(fake: FakeAmion, source: Source, report: ReportKind) -> None:
    fake.inject({"fault": "no_file", "month": FEBRUARY})
    outcome = await _scrape(fake, source, report)
    assert outcome.state == "COMPLETE"
    assert outcome.months == {"2026-01": "OK", "2026-02": "EMPTY", "2026-03": "OK"}
    assert [(f.code, f.location) for f in outcome.findings] == [("EMPTY_MONTH", "February 2026")]
    assert _stored(outcome) == _expected(frozenset({1, 3}), notes=_keeps_notes(source, report))


@pytest.mark.parametrize(("source", "report"), SOURCES)
async def test_changed_layout_is_an_error_naming_the_month_and_the_others_are_kept(
    fake: FakeAmion, source: Source, report: ReportKind
) -> None:
    fake.inject({"fault": "changed_layout", "month": FEBRUARY})
    outcome = await _scrape(fake, source, report)
    assert outcome.state == "PARTIAL"
    assert outcome.months == {"2026-01": "OK", "2026-02": "ERROR", "2026-03": "OK"}
    (finding,) = outcome.findings
    assert finding.code == "LAYOUT_UNRECOGNIZED" and "February 2026" in finding.text
    assert _stored(outcome) == _expected(frozenset({1, 3}), notes=_keeps_notes(source, report))


async def test_a_month_failing_every_attempt_is_an_error_and_the_others_are_kept(fake: FakeAmion) -> None:
    fake.inject({"fault": "status", "status": 503, "month": FEBRUARY, "times": None})
    outcome = await _scrape(fake, "report", "619")
    assert outcome.state == "PARTIAL"
    assert outcome.months["2026-02"] == "ERROR"
    assert fake.requests_for(FEBRUARY) == 3
    (finding,) = outcome.findings
    assert finding.code == "MONTH_NOT_FETCHED" and "gave up after 3 attempts" in finding.text
    assert _stored(outcome) == _expected(frozenset({1, 3}), notes=False)


async def test_every_month_failing_fails_the_scrape(fake: FakeAmion) -> None:
    fake.inject({"fault": "reset", "times": None})
    outcome = await _scrape(fake, "grid", "619")
    assert outcome.state == "FAILED"
    assert set(outcome.months.values()) == {"ERROR"}
    assert outcome.assignments == []


@pytest.mark.parametrize("how", ["fault", "wrong password"])
async def test_bad_password_stops_the_scrape_without_retrying(fake: FakeAmion, how: str) -> None:
    if how == "fault":
        fake.inject({"fault": "bad_password", "month": "1-26"})
    with pytest.raises(AmionAuthError):
        await _scrape(fake, "report", "619", PASSWORD if how == "fault" else "not it")
    assert fake.requests_for("1-26") == 1


async def test_faults_api_over_http(fake: FakeAmion) -> None:
    async with httpx.AsyncClient(base_url=fake.root_url) as http:
        assert (await http.post("/faults", json={"latency_s": 0.25})).json() == {"latency_s": 0.25, "rules": []}
        rules = [{"fault": "status", "status": 503, "month": "3-26", "times": 2}, {"fault": "no_file"}]
        listed = (await http.post("/faults", json={"rules": rules})).json()
        assert listed["latency_s"] == 0.25
        assert [(r["fault"], r.get("month"), r["times"]) for r in listed["rules"]] == [
            ("status", "3-26", 2),
            ("no_file", None, 1),
        ]
        bad = await http.post("/faults", json={"rules": [{"fault": "explode"}]})
        assert bad.status_code == 400
        assert (await http.post("/faults", json={"latency_s": -1})).status_code == 400

        ocs = {"Lo": PASSWORD, "Rpt": "619", "Month": "3-26"}
        assert (await http.get("/cgi-bin/ocs", params=ocs)).status_code == 503
        assert (await http.get("/cgi-bin/ocs", params={**ocs, "Month": "1-26"})).text == "NOFI=No file"
        assert (await http.get("/cgi-bin/ocs", params=ocs)).status_code == 503
        assert (await http.get("/cgi-bin/ocs", params=ocs)).text.startswith("Assignments for March 2026")
        assert (await http.get("/faults")).json() == {"latency_s": 0.25, "rules": []}
        stats = (await http.get("/stats")).json()
        assert {k: stats[k] for k in ("ocs_requests", "by_month")} == {
            "ocs_requests": 4,
            "by_month": {"3-26": 3, "1-26": 1},
        }
        times = stats["request_times"]
        assert len(times) == 4 and times == sorted(times)

        await http.post("/faults", json={"rules": [{"fault": "reset", "times": None}]})
        assert (await http.delete("/faults")).json() == {"latency_s": 0.0, "rules": []}
        assert (await http.get("/cgi-bin/ocs", params=ocs)).status_code == 200


async def test_truth_endpoint_lists_the_assignments(fake: FakeAmion) -> None:
    async with httpx.AsyncClient(base_url=fake.root_url) as http:
        listed = (await http.get("/truth")).json()
    assert len(listed) == len(TRUTH.assignments)
    assert listed[0] == {
        "date": "2026-01-01", "label": "ON1 10p-8a", "name": TRUTH.assignments[0].name, "start": "2200", "end": "0800",
        "division": None, "note": "note 0: café",
    }  # fmt: skip
