"""Amion's own hours through the whole pipeline (real RabbitMQ, PostgreSQL and processes): the report source
and the grid source store the same labels and the same time-zone-aware hours, and coverage reports
DOUBLE_BOOKED from those hours: Mid C 17:00-01:00 and ON1 22:00-08:00 overlap, 17:00-22:00 and 22:00-08:00
only touch. `schedcu amion reparse` stores the hours again from the archive.

The module runs its own pipeline and a fake Amion of its own whose ground truth is this short story."""

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import text

from schedcu.runtime import processes
from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
PERIOD = ("2026-03-03", "2026-03-04")
TUE, WED = date(2026, 3, 3), date(2026, 3, 4)
PASSWORD = "hours pass"
TRUTH = {
    "password": PASSWORD,
    "assignments": [
        {"date": "2026-03-03", "label": "Mid C 5p-1a", "name": "Adams, Ada", "start": "1700", "end": "0100"},
        {"date": "2026-03-03", "label": "ON1 10p-8a", "name": "Adams, Ada", "start": "2200", "end": "0800"},
        {"date": "2026-03-04", "label": "Mid C 5p-10p", "name": "Chen, Cleo", "start": "1700", "end": "2200"},
        {"date": "2026-03-04", "label": "ON1 10p-8a", "name": "Chen, Cleo", "start": "2200", "end": "0800"},
        {"date": "2026-03-04", "label": "Jeopardy 7a-7p", "name": "Evans, Eve", "start": "0700", "end": "1900"},
    ],
}


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


EXPECTED = [
    (TUE, "MidC", "Adams, Ada", "Mid C 5p-1a", _at(TUE, 17), _at(WED, 1)),
    (TUE, "ON1", "Adams, Ada", "ON1 10p-8a", _at(TUE, 22), _at(WED, 8)),
    (WED, "MidC", "Chen, Cleo", "Mid C 5p-10p", _at(WED, 17), _at(WED, 22)),
    (WED, "ON1", "Chen, Cleo", "ON1 10p-8a", _at(WED, 22), _at(WED + timedelta(days=1), 8)),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    work = tmp_path_factory.mktemp("hours")
    with (
        provisioned(f"schedcu_test_{os.getpid()}_hours") as services,
        running_pipeline(services, work) as running,
    ):
        truth_file = work / "hours-truth.yaml"
        truth_file.write_text(yaml.safe_dump(TRUTH), encoding="utf-8")
        log_dir = work / "hours-fake"
        log_dir.mkdir()
        fake = processes.fake_amion(truth_file, running.env, log_dir).start()
        try:
            fake.wait_healthy()
            account = {
                "base_url": fake.health_url.replace("/truth", "/cgi-bin/ocs"),
                "password_env": "SCHEDCU_TEST_HOURS_PASSWORD",
                "requests_per_s": 20,
            }
            accounts = json.loads(running.env["SCHEDCU_AMION_ACCOUNTS"])
            accounts |= {"report": {**account, "source": "report"}, "grid": {**account, "source": "grid"}}
            running.env |= {"SCHEDCU_AMION_ACCOUNTS": json.dumps(accounts), "SCHEDCU_TEST_HOURS_PASSWORD": PASSWORD}
            running.workers["amion-scraper"].stop()
            running.restart("amion-scraper")
            yield running
        finally:
            fake.stop()


def _run(pipeline: Pipeline, account: str) -> uuid.UUID:
    """Import the period with the account; the version id once the workflow has ended."""
    request_id = f"hours-{account}-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, *PERIOD, account=account)
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) != "FAILED"
    return ids.version_id_for(workflow_id)


def _stored(pipeline: Pipeline, version_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return pipeline.query(
        "SELECT a.schedule_date, a.role, p.name, a.label, a.starts_at, a.ends_at FROM assignments a "
        "JOIN people p ON p.id = a.person_id WHERE a.version_id = :v AND a.source = 'AMION' "
        "ORDER BY a.schedule_date, a.role",
        v=version_id,
    )


def _findings(pipeline: Pipeline, version_id: uuid.UUID, table: str, codes: tuple[str, ...]) -> list[tuple[str, ...]]:
    ((findings,),) = pipeline.query(f"SELECT findings FROM {table} WHERE version_id = :v", v=version_id)
    return [(f["code"], f["text"]) for f in findings if f["code"] in codes]


def test_report_and_grid_store_amions_hours_and_agree_on_double_booked(pipeline: Pipeline) -> None:
    by_report, by_grid = _run(pipeline, "report"), _run(pipeline, "grid")

    assert _stored(pipeline, by_report) == _stored(pipeline, by_grid) == EXPECTED
    double_booked = (
        "DOUBLE_BOOKED",
        "Adams, Ada has overlapping roles MidC 17:00-01:00 (Amion) and ON1 22:00-08:00 (Amion) on 2026-03-03.",
    )
    # Chen's Mid C 17:00-22:00 and ON1 22:00-08:00 only touch: no finding for Wednesday
    assert _findings(pipeline, by_report, "coverage_calculations", ("DOUBLE_BOOKED",)) == [double_booked]
    assert _findings(pipeline, by_grid, "coverage_calculations", ("DOUBLE_BOOKED",)) == [double_booked]
    unmapped = ("UNMAPPED_LABEL", "Amion label 'Jeopardy 7a-7p' maps to no role; 1 row skipped")
    assert _findings(pipeline, by_report, "scrape_batches", ("UNMAPPED_LABEL",)) == [unmapped]
    assert _findings(pipeline, by_grid, "scrape_batches", ("UNMAPPED_LABEL",)) == [unmapped]


def test_reparse_stores_the_hours_again_from_the_archive(pipeline: Pipeline) -> None:
    version_id = _run(pipeline, "grid")
    ((batch_id,),) = pipeline.query("SELECT id FROM scrape_batches WHERE version_id = :v", v=version_id)
    with pipeline.services.engine.begin() as conn:
        conn.execute(
            text("UPDATE assignments SET starts_at = NULL, ends_at = NULL WHERE version_id = :v"), {"v": version_id}
        )
    assert {row[4:] for row in _stored(pipeline, version_id)} == {(None, None)}

    done = subprocess.run(
        schedcu_command("amion", "reparse", str(batch_id)), env=pipeline.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert _stored(pipeline, version_id) == EXPECTED
