"""Unknown is not a gap, through the whole pipeline (real RabbitMQ, PostgreSQL, every worker its own process):
three broken scrapes, each one workflow over a two-week period across March and April 2026 (a wrong
password; April answering `NOFI=No file`; April's page in a layout schedcu does not know). The dates Amion
gave nothing for have NO_DATA cells and no gap, the other dates are exactly those of a healthy scrape, the
event and every summary say why, promotion is refused naming the months, and the report shows a banner and
draws the unknown cells apart (headless Chromium).

The module runs its own pipeline: a fake Amion with truth for March and April, and an account with a wrong
password."""

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import AMION_PASSWORD, Pipeline, provisioned, running_pipeline
from tests.schedcu.test_coverage_page import chromium
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRONG_PASSWORD = "not the right pass"
PERIOD = ("2026-03-25", "2026-04-07")
MARCH_DATES = {f"2026-03-{d}" for d in range(25, 32)}
APRIL_DATES = {f"2026-04-0{d}" for d in range(1, 8)}
NO_FILE = 'Amion answered "No file"'


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with (
        provisioned(f"schedcu_test_{os.getpid()}_nodata") as services,
        running_pipeline(
            services, tmp_path_factory.mktemp("nodata"), months=(date(2026, 3, 1), date(2026, 4, 1))
        ) as running,
    ):
        accounts = json.loads(running.env["SCHEDCU_AMION_ACCOUNTS"])
        accounts["wrong"] = {**accounts["test"], "password_env": "SCHEDCU_TEST_WRONG_PASSWORD"}
        running.env |= {"SCHEDCU_AMION_ACCOUNTS": json.dumps(accounts), "SCHEDCU_TEST_WRONG_PASSWORD": WRONG_PASSWORD}
        running.workers["amion-scraper"].stop()
        running.restart("amion-scraper")
        yield running


@pytest.fixture
def faults(pipeline: Pipeline) -> Iterator[Pipeline]:
    yield pipeline
    httpx.delete(f"{pipeline.amion_root}/faults", timeout=5).raise_for_status()


def april_fault(pipeline: Pipeline, fault: str) -> None:
    rule = {"fault": fault, "month": "4-26", "times": None}
    httpx.post(f"{pipeline.amion_root}/faults", json={"rules": [rule]}, timeout=5).raise_for_status()


def import_and_receive_coverage(pipeline: Pipeline, account: str) -> tuple[uuid.UUID, dict[str, Any]]:
    """Submit the period for `account`; the workflow id and its `CoverageCalculated` event."""
    request_id = f"nodata-{account}-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, *PERIOD, account=account))
    event = amqp_client.publish_and_receive(
        pipeline.services.amqp_url,
        body.encode(),
        binding="event.coverage.calculated",
        match={"workflow_id": str(workflow_id)},
    )
    return workflow_id, event


def cells(pipeline: Pipeline, calculation_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """date -> its cells (window, worklist, role, people, status), in calculation order."""
    by_date: dict[str, list[tuple[Any, ...]]] = {}
    for day, *cell in pipeline.query(
        'SELECT schedule_date, "window", worklist, role, people, status FROM calculation_cells '
        "WHERE calculation_id = :c ORDER BY schedule_date, id",
        c=calculation_id,
    ):
        by_date.setdefault(day.isoformat(), []).append(tuple(json.dumps(v) if isinstance(v, list) else v for v in cell))
    return by_date


def cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        schedcu_command(*args), env=pipeline.env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def healthy(pipeline: Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    """The cells of the period after a scrape with nothing wrong."""
    workflow_id, event = import_and_receive_coverage(pipeline, "test")
    assert event["summary"]["unknown_cells"] == 0 and event["summary"]["unknown_months"] == []
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    by_date = cells(pipeline, event["calculation_id"])
    assert set(by_date) == MARCH_DATES | APRIL_DATES
    assert all(c[-1] != "NO_DATA" for day in by_date.values() for c in day)
    return by_date


class ReportDom(HTMLParser):
    """The heat map's squares (attributes of every `td[data-status]`) and the banner's months."""

    def __init__(self) -> None:
        super().__init__()
        self.squares: list[dict[str, str]] = []
        self.banner_months: list[str] = []
        self.banner_text = ""
        self._in_banner = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if found.get("id") == "no-data":
            self._in_banner = 1
        elif self._in_banner and tag in ("div", "ul", "li", "b"):
            self._in_banner += 1
        if tag == "li" and self._in_banner and "data-month" in found:
            self.banner_months.append(found["data-month"])
        if tag == "td" and "data-status" in found:
            self.squares.append(found)

    def handle_endtag(self, tag: str) -> None:
        if self._in_banner and tag in ("div", "ul", "li", "b"):
            self._in_banner -= 1

    def handle_data(self, data: str) -> None:
        if self._in_banner:
            self.banner_text += data


# Appended to a copy of the report: writes how the browser draws each square into the DOM it dumps.
PROBE = (
    "<script>for (const td of document.querySelectorAll('td[data-status]')) {"
    " const s = getComputedStyle(td); td.dataset.drawn = s.backgroundImage + ' ' + s.backgroundColor; }</script>"
)


def rendered_report(pipeline: Pipeline, version_id: uuid.UUID, tmp_path: Path) -> ReportDom:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (Debian package `chromium`): the report cannot be rendered")
    page = tmp_path / "coverage.html"
    done = cli(pipeline, "coverage", "report", str(version_id), "--out", str(page))
    assert done.returncode == 0, done.stderr
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = ReportDom()
    dom.feed(chromium(binary, tmp_path / "profile", "--dump-dom", probed.as_uri()).stdout)
    return dom


def check_report(dom: ReportDom, unknown_dates: set[str], months: list[str], reason: str) -> None:
    """The banner names `months` and `reason`; exactly the squares of `unknown_dates` are NO_DATA, hatched,
    drawn unlike any other square."""
    assert dom.banner_months == months
    assert reason in dom.banner_text and "No Amion data for" in dom.banner_text
    assert dom.squares
    for square in dom.squares:
        day = square["data-cell"].split("|")[0]
        assert (square["data-status"] == "NO_DATA") == (day in unknown_dates), square["data-cell"]
    drawn_unknown = {s["data-drawn"] for s in dom.squares if s["data-status"] == "NO_DATA"}
    drawn_known = {s["data-drawn"] for s in dom.squares if s["data-status"] != "NO_DATA"}
    assert all("repeating-linear-gradient" in drawn for drawn in drawn_unknown)
    assert not drawn_unknown & drawn_known


def refused_promotion(pipeline: Pipeline, version_id: uuid.UUID) -> str:
    done = cli(pipeline, "versions", "promote", str(version_id))
    assert done.returncode == 1, done.stdout
    assert pipeline.query(
        "SELECT coalesce(l.state, 'STAGING') FROM schedule_versions v "
        "LEFT JOIN version_lifecycle l ON l.version_id = v.id WHERE v.id = :v",
        v=version_id,
    ) == [("STAGING",)]
    return done.stderr


def missing_data_warnings(pipeline: Pipeline, workflow_id: Any) -> list[str]:
    """The workflow's warnings about dates without Amion data (recorded with the coverage phase)."""
    ((messages,),) = pipeline.query(
        "SELECT messages FROM workflow_phases WHERE workflow_id = :w AND phase = 'COVERAGE'", w=workflow_id
    )
    return [m["text"] for m in messages if m["code"] == "AMION_DATA_MISSING"]


def test_wrong_password_leaves_every_date_unknown_not_uncovered(pipeline: Pipeline, tmp_path: Path) -> None:
    workflow_id, event = import_and_receive_coverage(pipeline, "wrong")
    version_id = ids.version_id_for(workflow_id)

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED_WITH_WARNINGS"
    summary = event["summary"]
    reason = "Amion refused the password of account 'wrong'"
    assert [w.split(" (")[0] for w in missing_data_warnings(pipeline, workflow_id)] == [
        "no Amion data for 2026-03",
        "no Amion data for 2026-04",
    ]
    assert all(reason in w for w in missing_data_warnings(pipeline, workflow_id))
    assert (summary["known_cells"], summary["critical_gaps"], event["critical_gaps"]) == (0, 0, [])
    assert summary["unknown_cells"] == summary["cells"] == summary["by_status"]["NO_DATA"] > 0
    assert [(m["month"], m["reason"], m["start"], m["end"]) for m in summary["unknown_months"]] == [
        ("2026-03", reason, "2026-03-25", "2026-03-31"),
        ("2026-04", reason, "2026-04-01", "2026-04-07"),
    ]
    assert summary["text"] == (
        f"coverage unknown, no known cell; {summary['cells']:,} cells without Amion data (2026-03, 2026-04: {reason})"
    )
    ((calculation_id, batch_id),) = pipeline.query(
        "SELECT id, scrape_batch_id FROM coverage_calculations WHERE version_id = :v", v=version_id
    )
    assert batch_id is None  # no batch was applied: the scrape failed
    stored = cells(pipeline, str(calculation_id))
    assert {c[-1] for day in stored.values() for c in day} == {"NO_DATA"}
    assert not [s for s in (AMION_PASSWORD, WRONG_PASSWORD) if s in json.dumps(event)]

    refusal = refused_promotion(pipeline, version_id)
    assert f"dates of its period have no Amion data (2026-03, 2026-04: {reason})" in refusal
    forced = cli(pipeline, "versions", "promote", str(version_id), "--force", "--reason", "Amion is down")
    assert forced.returncode == 0, forced.stderr

    check_report(rendered_report(pipeline, version_id, tmp_path), MARCH_DATES | APRIL_DATES, ["2026-03", "2026-04"],
                 reason)  # fmt: skip


def test_a_month_answering_no_file_is_unknown_and_the_other_month_exact(
    faults: Pipeline, healthy: dict[str, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    pipeline = faults
    april_fault(pipeline, "no_file")
    workflow_id, event = import_and_receive_coverage(pipeline, "test")
    version_id = ids.version_id_for(workflow_id)

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED_WITH_WARNINGS"
    (warning,) = missing_data_warnings(pipeline, workflow_id)
    assert warning.startswith("no Amion data for 2026-04 (2026-04-01 to 2026-04-07") and NO_FILE in warning
    summary = event["summary"]
    march = sum(len(healthy[day]) for day in MARCH_DATES)
    unknown = summary["cells"] - march
    assert [(m["month"], m["reason"], m["start"], m["end"], m["cells"]) for m in summary["unknown_months"]] == [
        ("2026-04", NO_FILE, "2026-04-01", "2026-04-07", unknown)
    ]
    assert (summary["known_cells"], summary["unknown_cells"]) == (march, unknown)
    assert summary["text"].endswith(f'; {unknown} cells without Amion data (2026-04: Amion answered "No file")')
    assert not [g for g in event["critical_gaps"] if g["date"].startswith("2026-04")]
    ((calculation_id, batch_id, findings),) = pipeline.query(
        "SELECT id, scrape_batch_id, findings FROM coverage_calculations WHERE version_id = :v", v=version_id
    )
    ((applied,),) = pipeline.query("SELECT id FROM scrape_batches WHERE version_id = :v", v=version_id)
    assert batch_id == applied
    assert not [f for f in findings if f["code"] == "MISSING_MIDC" and f["location"] in APRIL_DATES]

    stored = cells(pipeline, str(calculation_id))
    assert {day: stored[day] for day in MARCH_DATES} == {day: healthy[day] for day in MARCH_DATES}
    assert {c[-1] for day in APRIL_DATES for c in stored[day]} == {"NO_DATA"}
    assert {c[3] for day in APRIL_DATES for c in stored[day]} == {"[]"}  # nobody: Amion did not say

    refusal = refused_promotion(pipeline, version_id)
    assert 'dates of its period have no Amion data (2026-04: Amion answered "No file")' in refusal
    shown = cli(pipeline, "versions", "show", str(version_id))
    assert f"coverage: {summary['text']}" in shown.stdout
    assert summary["text"] in cli(pipeline, "coverage", "show", str(version_id)).stdout

    check_report(rendered_report(pipeline, version_id, tmp_path), APRIL_DATES, ["2026-04"], NO_FILE)


def test_a_month_with_an_unrecognised_page_is_unknown_and_the_other_month_exact(
    faults: Pipeline, healthy: dict[str, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    pipeline = faults
    april_fault(pipeline, "changed_layout")
    workflow_id, event = import_and_receive_coverage(pipeline, "test")
    version_id = ids.version_id_for(workflow_id)

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED_WITH_WARNINGS"
    (warning,) = missing_data_warnings(pipeline, workflow_id)
    assert warning.startswith("no Amion data for 2026-04") and "not in a layout schedcu recognises" in warning
    (month,) = event["summary"]["unknown_months"]
    assert (month["month"], month["start"], month["end"]) == ("2026-04", "2026-04-01", "2026-04-07")
    assert "April 2026 is not in a layout schedcu recognises" in month["reason"]
    assert not [g for g in event["critical_gaps"] if g["date"].startswith("2026-04")]

    stored = cells(pipeline, event["calculation_id"])
    assert {day: stored[day] for day in MARCH_DATES} == {day: healthy[day] for day in MARCH_DATES}
    assert {c[-1] for day in APRIL_DATES for c in stored[day]} == {"NO_DATA"}

    refusal = refused_promotion(pipeline, version_id)
    assert f"dates of its period have no Amion data (2026-04: {month['reason']})" in refusal
    check_report(rendered_report(pipeline, version_id, tmp_path), APRIL_DATES, ["2026-04"], month["reason"])
