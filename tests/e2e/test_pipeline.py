"""The whole pipeline on real RabbitMQ and PostgreSQL, each service its own process."""

import json
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from schedcu.runtime.processes import schedcu_command
from schedcu.runtime.registries import WORKERS
from shared.kernel import ids
from tests.conftest import AMION_PASSWORD, Pipeline, eventually
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
WEEK = ("2026-03-02", "2026-03-08")
SCHEDCU_METRICS = (
    "schedcu_outbox_backlog",
    "schedcu_outbox_oldest_age_seconds",
    'schedcu_workflows{state="COMPLETED"}',
    'schedcu_dead_letters{queue="schedcu.versions.dead-letter"}',
)


def request_body(pipeline: Pipeline, request_id: str, period: tuple[str, str] = WEEK) -> bytes:
    return json.dumps(amqp_client.import_requested(request_id, pipeline.template, *period)).encode()


def test_plain_client_request_yields_coverage_event_matching_asyncapi(pipeline: Pipeline) -> None:
    request_id = f"plain-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)

    event = amqp_client.publish_and_receive(
        pipeline.services.amqp_url,
        request_body(pipeline, request_id),
        binding="event.coverage.calculated",
        match={"workflow_id": str(workflow_id)},
    )

    document = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    schema = {**document["components"]["schemas"]["CoverageCalculated"], "components": document["components"]}
    jsonschema.validate(event, schema)
    # 7 dates x the windows applying each day x their worklists, every cell with a status
    assert event["summary"]["cells"] > 7 * 3 * 20
    assert sum(event["summary"]["by_status"].values()) == event["summary"]["cells"]
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"


def test_same_request_twice_gives_one_workflow_and_one_version(pipeline: Pipeline) -> None:
    request_id = f"twice-{uuid.uuid4()}"
    body = request_body(pipeline, request_id)
    first = amqp_client.publish(pipeline.services.amqp_url, body)
    amqp_client.publish(pipeline.services.amqp_url, body, message_id=first)  # redelivered by the upstream
    other = amqp_client.publish(pipeline.services.amqp_url, body)  # a new message for the same request
    workflow_id = ids.workflow_id_for(request_id)

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    eventually(
        lambda: pipeline.query("SELECT 1 FROM inbox WHERE consumer = 'versions' AND message_id = :m", m=other),
        what="the second request message to be consumed",
    )
    assert pipeline.query("SELECT count(*) FROM workflows WHERE request_id = :r", r=request_id) == [(1,)]
    assert pipeline.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(1,)]


def test_worker_killed_mid_workflow_completes_without_duplicates(pipeline: Pipeline) -> None:
    request_id = f"kill-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    pipeline.set_faults(latency_s=5.0)
    before = pipeline.amion_requests()
    try:
        amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
        eventually(lambda: pipeline.amion_requests() > before, what="the scraper to be fetching from Amion")
        pipeline.workers["amion-scraper"].kill()
    finally:
        pipeline.set_faults(latency_s=0.0)
    pipeline.restart("amion-scraper")

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    version_id = ids.version_id_for(workflow_id)
    phases = pipeline.query(
        "SELECT phase, state, attempt FROM workflow_phases WHERE workflow_id = :w ORDER BY position", w=workflow_id
    )
    assert phases == [("ODS_IMPORT", "SUCCEEDED", 1), ("AMION_SCRAPE", "SUCCEEDED", 1), ("COVERAGE", "SUCCEEDED", 1)]
    assert pipeline.query("SELECT count(*) FROM scrape_batches WHERE version_id = :v", v=version_id) == [(1,)]
    assert pipeline.query("SELECT count(*) FROM coverage_calculations WHERE version_id = :v", v=version_id) == [(1,)]
    # one week of the demo truth: ON1, ON2, MidC, MidL every night, Mid3 except on the 9th of a month
    assert pipeline.query("SELECT count(*) FROM assignments WHERE version_id = :v", v=version_id) == [(7 * 5,)]
    duplicates = pipeline.query(
        "SELECT schedule_date, role, person_id, count(*) FROM assignments WHERE version_id = :v "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1",
        v=version_id,
    )
    assert duplicates == []


def test_invalid_message_is_dead_lettered_with_reason_and_worker_goes_on(pipeline: Pipeline) -> None:
    bad = json.loads(request_body(pipeline, "bad-request"))
    bad["period"] = {"start": "2026-03-08", "end": "2026-03-01"}
    del bad["amion_account"]
    message_id = amqp_client.publish(pipeline.services.amqp_url, json.dumps(bad).encode())

    dead = amqp_client.find_dead_letter(pipeline.services.amqp_url, "schedcu.versions.dead-letter", message_id)
    reason = dead.headers["x-schedcu-reason"]
    assert "amion_account" in reason and "period" in reason

    request_id = f"after-bad-{uuid.uuid4()}"
    amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"


def test_a_body_that_is_not_json_is_dead_lettered_not_left_unacknowledged(pipeline: Pipeline) -> None:
    message_id = amqp_client.publish(pipeline.services.amqp_url, b"\xff not json {")  # says application/json

    dead = amqp_client.find_dead_letter(pipeline.services.amqp_url, "schedcu.versions.dead-letter", message_id)
    assert "Invalid JSON" in dead.headers["x-schedcu-reason"]


def test_workflows_show_json_lists_three_phases_with_states_and_durations(pipeline: Pipeline) -> None:
    request_id = f"show-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
    pipeline.wait_terminal(workflow_id)

    shown = subprocess.run(
        schedcu_command("workflows", "show", str(workflow_id), "--json"),
        env=pipeline.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    view = json.loads(shown.stdout)
    assert view["state"] == "COMPLETED"
    assert [(p["phase"], p["state"]) for p in view["phases"]] == [
        ("ODS_IMPORT", "SUCCEEDED"),
        ("AMION_SCRAPE", "SUCCEEDED"),
        ("COVERAGE", "SUCCEEDED"),
    ]
    assert all(p["duration_s"] is not None and p["duration_s"] >= 0 for p in view["phases"])


def test_template_with_errors_fails_the_workflow_and_creates_no_version(pipeline: Pipeline) -> None:
    request_id = f"broken-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    body = json.loads(request_body(pipeline, request_id))
    body["template"]["inline_base64"] = "bm90IGFuIG9kcyBmaWxl"  # "not an ods file"
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())

    assert pipeline.wait_terminal(workflow_id) == "FAILED"
    assert pipeline.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(0,)]
    phases = pipeline.query(
        "SELECT phase, state FROM workflow_phases WHERE workflow_id = :w ORDER BY position", w=workflow_id
    )
    assert phases == [("ODS_IMPORT", "FAILED"), ("AMION_SCRAPE", "SKIPPED"), ("COVERAGE", "SKIPPED")]


def test_every_worker_serves_health_and_prometheus_metrics(pipeline: Pipeline) -> None:
    request_id = f"metrics-{uuid.uuid4()}"
    amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
    pipeline.wait_terminal(ids.workflow_id_for(request_id))
    # the import reaches four workers; a draft of its version reaches the fifth
    drafted = subprocess.run(
        schedcu_command("draft", "new", "test-group", "--start", WEEK[0], "--end", WEEK[1], "--time-limit", "1",
                        "--wait"),
        env=pipeline.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert drafted.returncode == 0, drafted.stderr

    for name, worker in pipeline.workers.items():
        health = httpx.get(worker.health_url, timeout=10)
        assert health.status_code == 200, name
        assert worker.popen is not None
        instance = f"{socket.gethostname()}:{worker.popen.pid}"  # as in its heartbeat
        assert health.json() == {"status": "ok", "down": [], "broker": True, "database": True, "instance": instance}
        assert httpx.get(f"{worker.health_url}/live", timeout=10).json() == {"status": "alive"}, name
        metrics = httpx.get(worker.health_url.replace("/health", "/metrics"), timeout=10).text
        assert 'schedcu_build_info{version="' in metrics, name
        assert "process_cpu_seconds_total" in metrics and "python_info" in metrics, name
        assert f'app_name="schedcu-{WORKERS[name]}"' in metrics, name
        assert "faststream_received_messages_total" in metrics, name
        for family in SCHEDCU_METRICS:
            assert family in metrics, (name, family)
    versions_metrics = httpx.get(pipeline.workers["versions"].health_url.replace("/health", "/metrics"), timeout=10)
    assert 'schedcu_phase_duration_seconds_count{outcome="SUCCEEDED",phase="COVERAGE"}' in versions_metrics.text


def test_status_shows_workers_queues_outbox_and_workflows(pipeline: Pipeline) -> None:
    request_id = f"status-{uuid.uuid4()}"
    amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
    pipeline.wait_terminal(ids.workflow_id_for(request_id))

    def healthy_workers() -> dict | None:
        shown = subprocess.run(
            schedcu_command("status", "--json"),
            env=pipeline.env,
            capture_output=True,
            text=True,
            timeout=60,
        )  # exit status 1 until every worker answers
        status = json.loads(shown.stdout)
        services = {w["service"] for w in status["workers"] if w["health"] == "ok"}
        everyone = services >= {"versions", "ods_importer", "amion_scraper", "coverage"}
        return status if everyone and status["outbox"]["backlog"] == 0 else None

    status = eventually(healthy_workers, 30, "every worker healthy and the outbox drained in `schedcu status`")
    queues = {q["queue"]: q for q in status["queues"]}
    assert queues["schedcu.coverage"]["consumers"] >= 1
    assert "schedcu.versions.dead-letter" in queues
    assert status["outbox"] == {"backlog": 0, "oldest_age_s": 0.0}
    assert status["workflows"].get("COMPLETED", 0) >= 1


def test_sigterm_lets_the_in_flight_scrape_finish_before_the_worker_exits(pipeline: Pipeline) -> None:
    request_id = f"sigterm-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    scraper = pipeline.workers["amion-scraper"]
    assert scraper.popen is not None
    pipeline.set_faults(latency_s=3.0)
    before = pipeline.amion_requests()
    try:
        amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
        eventually(lambda: pipeline.amion_requests() > before, what="the scraper to be fetching from Amion")
        scraper.popen.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM once shutdown is complete: the conventional exit status for orchestrators
        assert scraper.popen.wait(timeout=60) == -signal.SIGTERM
    finally:
        pipeline.set_faults(latency_s=0.0)

    # the scrape's result waits in the outbox for a relay of the scraper's own (its account alone may publish it)
    pipeline.restart("amion-scraper")
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    assert pipeline.amion_requests() == before + 1, "the scrape was interrupted and ran again"


def test_amion_password_appears_in_no_log_and_no_stored_row(pipeline: Pipeline) -> None:
    request_id = f"secret-{uuid.uuid4()}"
    amqp_client.publish(pipeline.services.amqp_url, request_body(pipeline, request_id))
    pipeline.wait_terminal(ids.workflow_id_for(request_id))

    forms = {AMION_PASSWORD, AMION_PASSWORD.replace(" ", "+"), AMION_PASSWORD.replace(" ", "%20")}
    for log in pipeline.log_dir.glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        assert not [f for f in forms if f in text], log.name
    stored = pipeline.query(
        "SELECT url FROM amion_pages UNION ALL SELECT request::text FROM workflows "
        "UNION ALL SELECT messages::text FROM workflow_phases UNION ALL SELECT findings::text FROM scrape_batches"
    )
    assert stored and not [row for row in stored if any(f in row[0] for f in forms)]


def test_failed_scrape_still_yields_coverage_and_ends_with_warnings(pipeline: Pipeline) -> None:
    request_id = f"no-account-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    body = json.loads(request_body(pipeline, request_id))
    body["amion_account"] = "nobody"
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())

    assert pipeline.wait_terminal(workflow_id) == "COMPLETED_WITH_WARNINGS"
    phases = pipeline.query(
        "SELECT phase, state FROM workflow_phases WHERE workflow_id = :w ORDER BY position", w=workflow_id
    )
    assert phases == [("ODS_IMPORT", "SUCCEEDED"), ("AMION_SCRAPE", "FAILED"), ("COVERAGE", "SUCCEEDED")]
    version_id = ids.version_id_for(workflow_id)
    assert pipeline.query("SELECT state FROM scrape_batches WHERE version_id = :v", v=version_id) == [("FAILED",)]
    ((summary,),) = pipeline.query("SELECT summary FROM coverage_calculations WHERE version_id = :v", v=version_id)
    # an unknown account gives no Amion data: every cell is unknown, none is a gap
    assert summary["by_status"]["NO_DATA"] == summary["unknown_cells"] == summary["total"] > 0
    assert summary["critical_gaps_total"] == 0
    assert {m["reason"] for m in summary["unknown_months"]} == {"Unknown Amion account 'nobody'"}
