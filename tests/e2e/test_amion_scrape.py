"""Phase 2 through the whole pipeline (real RabbitMQ, PostgreSQL and processes) against the fake Amion's
faults: the stored assignments equal the fake's ground truth, the batch goes PENDING -> COMPLETE / PARTIAL /
FAILED, `schedcu amion reparse` rebuilds from the archive without fetching, and the password is nowhere.

The module runs its own pipeline (its own database and vhost, traces on the console so that they land in
the worker logs), so its fault rules, logs and events are its own."""

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest

from schedcu.runtime.processes import schedcu_command
from services.amion_scraper.rows import split_label
from shared.kernel import ids
from shared.kernel.roles import normalize_role
from tests.conftest import AMION_PASSWORD, Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRONG_PASSWORD = "not the right pass"
SECRETS = {
    form for pw in (AMION_PASSWORD, WRONG_PASSWORD) for form in (pw, pw.replace(" ", "+"), pw.replace(" ", "%20"))
}
MARCH = ("2026-03-01", "2026-03-31")


@dataclass(frozen=True)
class Capture:
    """A private queue bound to every message on `schedcu.events` and `schedcu.commands`, for the whole module."""

    amqp_url: str
    queue: str

    def drain(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        async def run() -> list[aio_pika.abc.AbstractIncomingMessage]:
            async with await aio_pika.connect(self.amqp_url) as connection:
                queue = await (await connection.channel()).get_queue(self.queue)
                taken = []
                while (message := await queue.get(no_ack=True, fail=False)) is not None:
                    taken.append(message)
                return taken

        return asyncio.run(run())


def _bind_capture(amqp_url: str) -> Capture:
    name = f"test.capture.{uuid.uuid4()}"

    async def run() -> None:
        async with await aio_pika.connect(amqp_url) as connection:
            queue = await (await connection.channel()).declare_queue(name, durable=False, auto_delete=False)
            for exchange in (amqp_client.EXCHANGE, amqp_client.COMMANDS_EXCHANGE):
                await queue.bind(exchange, routing_key="#")

    asyncio.run(run())
    return Capture(amqp_url, name)


@pytest.fixture(scope="module")
def amion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, Capture]]:
    with (
        provisioned(f"schedcu_test_{os.getpid()}_amion") as services,
        running_pipeline(services, tmp_path_factory.mktemp("amion"), otel_exporter="console") as pipeline,
    ):
        capture = _bind_capture(services.amqp_url)
        accounts = json.loads(pipeline.env["SCHEDCU_AMION_ACCOUNTS"])
        fast = {**accounts["test"], "requests_per_s": 20, "attempts": 7, "backoff_s": 0.05, "timeout_s": 2.5}
        accounts |= {
            "fast": fast,
            "grid": {**fast, "source": "grid"},
            "flaky": {**fast, "attempts": 2, "timeout_s": 0.5},
            "wrong": {**fast, "password_env": "SCHEDCU_TEST_WRONG_PASSWORD"},
        }
        pipeline.env |= {"SCHEDCU_AMION_ACCOUNTS": json.dumps(accounts), "SCHEDCU_TEST_WRONG_PASSWORD": WRONG_PASSWORD}
        pipeline.workers["amion-scraper"].stop()
        pipeline.restart("amion-scraper")
        yield pipeline, capture


@pytest.fixture
def pipeline(amion: tuple[Pipeline, Capture]) -> Iterator[Pipeline]:
    running, _ = amion
    yield running
    httpx.delete(f"{running.amion_root}/faults", timeout=5).raise_for_status()


def _faults(pipeline: Pipeline, *rules: dict[str, Any]) -> None:
    httpx.post(f"{pipeline.amion_root}/faults", json={"rules": list(rules)}, timeout=5).raise_for_status()


def _submit(pipeline: Pipeline, account: str, period: tuple[str, str] = MARCH) -> uuid.UUID:
    request_id = f"amion-{account}-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, *period, account=account)
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    return ids.workflow_id_for(request_id)


def _truth(pipeline: Pipeline, start: str, end: str) -> list[tuple[str, str, str]]:
    listed = httpx.get(f"{pipeline.amion_root}/truth", timeout=5).json()
    return sorted(
        (row["date"], normalize_role(split_label(row["label"])[0]) or "", row["name"])
        for row in listed
        if start <= row["date"] <= end
    )


def _stored(pipeline: Pipeline, version_id: uuid.UUID) -> list[tuple[str, str, str]]:
    found = pipeline.query(
        "SELECT a.schedule_date, a.role, p.name FROM assignments a JOIN people p ON p.id = a.person_id "
        "WHERE a.version_id = :v AND a.source = 'AMION'",
        v=version_id,
    )
    return sorted((d.isoformat(), role, name) for d, role, name in found)


def _batches(pipeline: Pipeline, version_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return pipeline.query(
        "SELECT id, state, months FROM scrape_batches WHERE version_id = :v ORDER BY created_at", v=version_id
    )


def _phases(pipeline: Pipeline, workflow_id: uuid.UUID) -> list[tuple[str, str]]:
    return [
        (phase, state)
        for phase, state in pipeline.query(
            "SELECT phase, state FROM workflow_phases WHERE workflow_id = :w ORDER BY position", w=workflow_id
        )
    ]


def test_scrape_through_every_transient_fault_stores_the_truth_and_reparse_rebuilds_it(pipeline: Pipeline) -> None:
    _faults(
        pipeline,
        {"fault": "status", "status": 503, "retry_after": "0.2", "month": "3-26"},
        {"fault": "status", "status": 500, "month": "3-26"},
        {"fault": "status", "status": 429, "retry_after": "0.1", "month": "3-26"},
        {"fault": "reset", "month": "3-26"},
        {"fault": "truncate", "month": "3-26"},
        {"fault": "latency", "latency_s": 3.0, "month": "3-26"},
    )
    workflow_id = _submit(pipeline, "fast")

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    version_id = ids.version_id_for(workflow_id)
    ((batch_id, state, months),) = _batches(pipeline, version_id)
    assert (state, months) == ("COMPLETE", {"2026-03": {"outcome": "OK"}})
    truth = _truth(pipeline, *MARCH)
    assert len(truth) > 100
    assert _stored(pipeline, version_id) == truth
    archived = pipeline.query(
        "SELECT status, url FROM amion_pages WHERE batch_id = :b ORDER BY fetched_at, id", b=batch_id
    )
    # reset, truncated and timed-out attempts got no response to archive
    assert [status for status, _ in archived] == [503, 500, 429, 200]
    assert all("Lo=***" in url and "Rpt=619" in url for _, url in archived)

    pipeline.query("DELETE FROM assignments WHERE version_id = :v RETURNING id", v=version_id)
    requests_before = pipeline.amion_requests()
    done = subprocess.run(
        schedcu_command("amion", "reparse", str(batch_id)), env=pipeline.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"scrape batch {batch_id}: COMPLETE; {len(truth)} assignments (2026-03 OK)" in done.stdout
    assert _stored(pipeline, version_id) == truth
    assert pipeline.amion_requests() == requests_before


def test_grid_source_stores_the_truth(pipeline: Pipeline) -> None:
    workflow_id = _submit(pipeline, "grid", ("2026-03-02", "2026-03-15"))

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    version_id = ids.version_id_for(workflow_id)
    assert [b[1] for b in _batches(pipeline, version_id)] == ["COMPLETE"]
    assert _stored(pipeline, version_id) == _truth(pipeline, "2026-03-02", "2026-03-15")
    ((url,),) = pipeline.query(
        "SELECT p.url FROM amion_pages p JOIN scrape_batches b ON b.id = p.batch_id WHERE b.version_id = :v",
        v=version_id,
    )
    assert "Page=Call&Month=3-26" in url


def test_batch_is_pending_while_fetching_and_partial_when_a_month_fails(pipeline: Pipeline) -> None:
    _faults(
        pipeline,
        {"fault": "latency", "latency_s": 2.0, "month": "3-26"},
        {"fault": "status", "status": 503, "month": "4-26", "times": None},
    )
    workflow_id = _submit(pipeline, "fast", ("2026-03-01", "2026-04-30"))
    version_id = ids.version_id_for(workflow_id)

    pending = eventually(lambda: _batches(pipeline, version_id), 60, "the scrape batch to be created")
    assert [(state, months) for _, state, months in pending] == [("PENDING", {})]
    # April is missing: the workflow completes, with warnings
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED_WITH_WARNINGS"
    ((batch_id, state, months),) = _batches(pipeline, version_id)
    assert (state, months["2026-03"], months["2026-04"]["outcome"]) == ("PARTIAL", {"outcome": "OK"}, "ERROR")
    assert _stored(pipeline, version_id) == _truth(pipeline, *MARCH)
    ((findings,),) = pipeline.query("SELECT findings FROM scrape_batches WHERE id = :b", b=batch_id)
    assert [(f["code"], f["location"]) for f in findings if f["severity"] == "ERROR"] == [
        ("MONTH_NOT_FETCHED", "April 2026")
    ]
    assert pipeline.query("SELECT count(*) FROM coverage_calculations WHERE version_id = :v", v=version_id) == [(1,)]


def test_every_month_failing_fails_the_scrape_and_coverage_still_runs(pipeline: Pipeline) -> None:
    _faults(pipeline, {"fault": "status", "status": 500, "month": "5-26", "times": None})
    workflow_id = _submit(pipeline, "flaky", ("2026-05-04", "2026-05-10"))

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED_WITH_WARNINGS"
    assert _phases(pipeline, workflow_id) == [
        ("ODS_IMPORT", "SUCCEEDED"), ("AMION_SCRAPE", "FAILED"), ("COVERAGE", "SUCCEEDED"),
    ]  # fmt: skip
    version_id = ids.version_id_for(workflow_id)
    batches = _batches(pipeline, version_id)
    assert batches and all(
        (state, list(months), months["2026-05"]["outcome"]) == ("FAILED", ["2026-05"], "ERROR")
        for _, state, months in batches
    )
    assert _stored(pipeline, version_id) == []
    assert pipeline.query("SELECT count(*) FROM coverage_calculations WHERE version_id = :v", v=version_id) == [(1,)]


def test_wrong_password_fails_at_once_and_the_password_is_nowhere(amion: tuple[Pipeline, Capture]) -> None:
    """Last in the module: it also checks what every earlier scrape left behind (logs, traces, events,
    rows), failures included."""
    pipeline, capture = amion
    _faults(
        pipeline,
        {"fault": "latency", "latency_s": 2.0, "month": "6-26"},
        {"fault": "status", "status": 500, "month": "6-26", "times": None},
    )
    requests_before = pipeline.amion_requests()
    refused = _submit(pipeline, "wrong")
    timed_out = _submit(pipeline, "flaky", ("2026-06-01", "2026-06-07"))

    assert pipeline.wait_terminal(refused) == "COMPLETED_WITH_WARNINGS"
    assert pipeline.wait_terminal(timed_out) == "COMPLETED_WITH_WARNINGS"
    ((batch_id, state, _),) = _batches(pipeline, ids.version_id_for(refused))
    assert state == "FAILED"
    assert pipeline.query("SELECT body FROM amion_pages WHERE batch_id = :b", b=batch_id) == [("NOFI=Bad password",)]
    httpx.delete(f"{pipeline.amion_root}/faults", timeout=5).raise_for_status()
    for worker in pipeline.workers.values():
        worker.stop()  # flushes their traces

    events = capture.drain()
    assert {"command.amion_scraper.scrape", "event.amion.scrape_failed"} <= {m.routing_key for m in events}
    failures = [json.loads(m.body) for m in events if m.routing_key == "event.amion.scrape_failed"]
    reasons = " ".join(f["reason"] for f in failures)
    assert "refused the password" in reasons and "HTTP 500" in reasons
    for message in events:
        seen = message.body.decode("utf-8", errors="replace") + repr(message.headers) + repr(message.info())
        assert not [s for s in SECRETS if s in seen], message.routing_key

    logs = {log.name: log.read_text(encoding="utf-8", errors="replace") for log in pipeline.log_dir.glob("*.log")}
    scraper = "".join(text for name, text in logs.items() if name.startswith("amion-scraper"))
    assert '"name": "amion fetch month"' in scraper, "no trace reached the scraper's log"
    assert "Lo=***" in scraper and "timed out" in scraper
    for name, text in logs.items():
        assert not [s for s in SECRETS if s in text], name

    stored = pipeline.query(
        "SELECT url || body FROM amion_pages UNION ALL SELECT findings::text FROM scrape_batches "
        "UNION ALL SELECT messages::text FROM workflow_phases UNION ALL SELECT request::text FROM workflows "
        "UNION ALL SELECT convert_from(body, 'UTF8') FROM outbox"
    )
    assert stored and not [row for row in stored if any(s in row[0] for s in SECRETS)]
    assert pipeline.amion_requests() > requests_before
