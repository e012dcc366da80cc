"""The saga coordinator enforces phase timeouts and attempts, with real workers stopped and started."""

import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from schedcu.runtime.processes import schedcu_command
from services.versions import sweeper
from shared.kernel import ids
from tests.conftest import Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMEOUT_S = 5.0
SWEEP_S = 0.5
WEEK = ("2026-03-02", "2026-03-08")


@pytest.fixture(scope="module")
def saga(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A pipeline of its own (database and vhost) whose phases time out after a few seconds."""
    with (
        provisioned(f"schedcu_test_saga_{uuid.uuid4().hex[:8]}") as services,
        running_pipeline(
            services,
            tmp_path_factory.mktemp("saga"),
            ods_timeout_s=str(TIMEOUT_S),
            amion_timeout_min_s=str(TIMEOUT_S),
            amion_timeout_base_s="0",
            amion_timeout_per_month_s="0",
            coverage_timeout_s=str(TIMEOUT_S),
            saga_sweep_s=str(SWEEP_S),
        ) as pipeline,
    ):
        yield pipeline


def submit(pipeline: Pipeline, prefix: str) -> uuid.UUID:
    request_id = f"{prefix}-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, *WEEK)
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    return ids.workflow_id_for(request_id)


def phases(pipeline: Pipeline, workflow_id: uuid.UUID) -> list[tuple[str, str, int]]:
    return pipeline.query(
        "SELECT phase, state, attempt FROM workflow_phases WHERE workflow_id = :w ORDER BY position", w=workflow_id
    )


def attempt_of(pipeline: Pipeline, workflow_id: uuid.UUID, phase: str) -> int:
    return next((a for p, _, a in phases(pipeline, workflow_id) if p == phase), 0)


def test_phase_whose_worker_is_stopped_times_out_and_is_retried_when_it_returns(saga: Pipeline) -> None:
    saga.workers["ods-importer"].stop()
    workflow_id = submit(saga, "stopped-ods")
    eventually(lambda: attempt_of(saga, workflow_id, "ODS_IMPORT") >= 2, 3 * TIMEOUT_S, "phase 1 to be retried")
    saga.restart("ods-importer")

    assert saga.wait_terminal(workflow_id) == "COMPLETED"
    (ods, *_rest) = phases(saga, workflow_id)
    assert ods[1] == "SUCCEEDED" and ods[2] >= 2
    messages = saga.query(
        "SELECT messages::text FROM workflow_phases WHERE workflow_id = :w AND phase = 'ODS_IMPORT'", w=workflow_id
    )
    assert "PHASE_RETRIED" in messages[0][0] and "timed out" in messages[0][0]
    # every queued attempt was processed once the worker returned: still exactly one version
    eventually(lambda: not saga.query("SELECT 1 FROM outbox") and True, 30, "the outbox to drain")
    assert saga.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(1,)]


def test_scrape_that_fails_every_attempt_still_yields_coverage_and_warnings(saga: Pipeline) -> None:
    saga.workers["amion-scraper"].stop()
    try:
        workflow_id = submit(saga, "dead-scraper")
        assert saga.wait_terminal(workflow_id, timeout_s=10 * TIMEOUT_S) == "COMPLETED_WITH_WARNINGS"
    finally:
        saga.restart("amion-scraper")
    assert phases(saga, workflow_id) == [
        ("ODS_IMPORT", "SUCCEEDED", 1),
        ("AMION_SCRAPE", "FAILED", 2),
        ("COVERAGE", "SUCCEEDED", 1),
    ]
    version_id = ids.version_id_for(workflow_id)
    assert saga.query("SELECT count(*) FROM coverage_calculations WHERE version_id = :v", v=version_id) == [(1,)]


def test_workflow_never_stays_running_past_its_timeouts_and_retry_reruns_it(saga: Pipeline) -> None:
    saga.workers["ods-importer"].stop()
    started = time.monotonic()
    try:
        workflow_id = submit(saga, "dead-ods")
        # three attempts of TIMEOUT_S each, plus the results' grace and the sweeper's interval per attempt, and
        # slack for the broker
        grace = sweeper.RESULT_GRACE.total_seconds()
        assert saga.wait_terminal(workflow_id, timeout_s=3 * (TIMEOUT_S + grace + SWEEP_S) + 10) == "FAILED"
        elapsed = time.monotonic() - started
        assert elapsed >= 3 * TIMEOUT_S
        assert phases(saga, workflow_id) == [
            ("ODS_IMPORT", "FAILED", 3),
            ("AMION_SCRAPE", "SKIPPED", 0),
            ("COVERAGE", "SKIPPED", 0),
        ]
    finally:
        saga.restart("ods-importer")

    retried = subprocess.run(
        schedcu_command("workflows", "retry", str(workflow_id)),
        env=saga.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert retried.returncode == 0, retried.stderr
    assert saga.wait_terminal(workflow_id) == "COMPLETED"
    assert [(p, s) for p, s, _ in phases(saga, workflow_id)] == [
        ("ODS_IMPORT", "SUCCEEDED"),
        ("AMION_SCRAPE", "SUCCEEDED"),
        ("COVERAGE", "SUCCEEDED"),
    ]
    refused = subprocess.run(
        schedcu_command("workflows", "retry", str(workflow_id)),
        env=saga.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "nothing to retry" in refused.stderr


def test_cancel_ends_a_running_workflow_failed(saga: Pipeline) -> None:
    saga.workers["ods-importer"].stop()
    try:
        workflow_id = submit(saga, "cancel")
        eventually(lambda: attempt_of(saga, workflow_id, "ODS_IMPORT") == 1, 30, "phase 1 to start")
        cancelled = subprocess.run(
            schedcu_command("workflows", "cancel", str(workflow_id), "--reason", "wrong template", "--yes"),
            env=saga.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert cancelled.returncode == 0, cancelled.stderr
        assert saga.workflow_state(workflow_id) == "FAILED"
        assert phases(saga, workflow_id)[0][1] == "FAILED"
    finally:
        saga.restart("ods-importer")


def scrape_batches(pipeline: Pipeline, version_id: uuid.UUID) -> list[str]:
    rows = pipeline.query("SELECT state FROM scrape_batches WHERE version_id = :v ORDER BY created_at", v=version_id)
    return [state for (state,) in rows]


def test_amion_slower_than_the_deadline_supersedes_each_attempt_and_nothing_late_is_stored(saga: Pipeline) -> None:
    saga.set_faults(latency_s=3 * TIMEOUT_S)
    try:
        workflow_id = submit(saga, "slow-amion")
        assert saga.wait_terminal(workflow_id, timeout_s=60) == "COMPLETED_WITH_WARNINGS"
        version_id = ids.version_id_for(workflow_id)
        # each attempt learns that it is superseded and stops fetching, before Amion would have answered
        eventually(lambda: scrape_batches(saga, version_id) == ["SUPERSEDED", "SUPERSEDED"], 30, "both to stop")
    finally:
        httpx.delete(f"{saga.amion_root}/faults", timeout=5).raise_for_status()
    assert phases(saga, workflow_id)[1] == ("AMION_SCRAPE", "FAILED", 2)
    assert saga.query("SELECT count(*) FROM assignments WHERE version_id = :v", v=version_id) == [(0,)]
    assert saga.query("SELECT count(*) FROM coverage_calculations WHERE version_id = :v", v=version_id) == [(1,)]
    assert saga.query("SELECT count(*) FROM inbox WHERE consumer = 'amion_scraper' AND message_id LIKE :w",
                      w=f"{workflow_id}:%") == [(0,)]  # fmt: skip


def test_a_late_result_of_attempt_one_after_attempt_two_started_changes_nothing(saga: Pipeline) -> None:
    saga.set_faults(latency_s=3 * TIMEOUT_S)
    try:
        request_id = f"late-{uuid.uuid4()}"
        body = amqp_client.import_requested(request_id, saga.template, *WEEK)
        amqp_client.publish(saga.services.amqp_url, json.dumps(body).encode())
        workflow_id = ids.workflow_id_for(request_id)
        eventually(lambda: attempt_of(saga, workflow_id, "AMION_SCRAPE") == 2, 30, "attempt 2 to start")
        late_id = f"{ids.command_message_id(workflow_id, 'AMION_SCRAPE', 1)}:result"
        late = {
            "workflow_id": str(workflow_id), "request_id": request_id, "group": body["group"],
            "period": body["period"], "attempt": 1, "version_id": str(ids.version_id_for(workflow_id)),
            "batch_id": str(uuid.uuid4()), "state": "COMPLETE", "assignments": 34,
        }  # fmt: skip
        amqp_client.publish(
            saga.services.amqp_url,
            json.dumps({"schema_version": 1, **late}).encode(),
            routing_key="event.amion.scraped",
            message_id=late_id,
        )
        eventually(
            lambda: saga.query("SELECT 1 FROM inbox WHERE consumer = 'versions' AND message_id = :m", m=late_id),
            30,
            "the coordinator to handle the late result",
        )
        assert phases(saga, workflow_id)[1] == ("AMION_SCRAPE", "RUNNING", 2)
        messages = saga.query(
            "SELECT messages::text FROM workflow_phases WHERE workflow_id = :w AND phase = 'AMION_SCRAPE'",
            w=workflow_id,
        )
        assert "34 assignments" not in messages[0][0]
        assert saga.wait_terminal(workflow_id, timeout_s=60) == "COMPLETED_WITH_WARNINGS"
    finally:
        httpx.delete(f"{saga.amion_root}/faults", timeout=5).raise_for_status()
    assert phases(saga, workflow_id)[1] == ("AMION_SCRAPE", "FAILED", 2)


def test_verify_all_is_clean_after_timeouts_retries_cancels_and_late_results(saga: Pipeline) -> None:
    done = subprocess.run(
        schedcu_command("verify", "--all", "--json"), env=saga.env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert done.returncode == 0, report["violations"]
    assert report["versions_checked"] >= 4
