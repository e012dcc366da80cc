"""What an upstream system and a downstream subscriber see on the bus: answers to every request, events tied
to the request that caused them, and a retry that succeeds counted as a success."""

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from shared.kernel.contracts import BY_ROUTING_KEY
from tests.conftest import Pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASYNCAPI = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml").read_text("utf-8"))
WEEK = ("2026-03-02", "2026-03-08")
ANSWERS = ["event.import.*", "event.coverage.calculated", "event.workflow.*"]


def request(pipeline: Pipeline, request_id: str, period: tuple[str, str] = WEEK, **extra: Any) -> dict[str, Any]:
    return {**amqp_client.import_requested(request_id, pipeline.template, *period), **extra}


def valid_against_asyncapi(routing_key: str, body: dict[str, Any]) -> None:
    name = BY_ROUTING_KEY[routing_key].__name__
    assert ASYNCAPI["channels"][name]["address"] == routing_key
    jsonschema.validate(body, {**ASYNCAPI["components"]["schemas"][name], "components": ASYNCAPI["components"]})


def send(pipeline: Pipeline, body: dict[str, Any], until: str, correlation_id: str | None = None) -> list[Any]:
    return amqp_client.publish_and_collect(
        pipeline.services.amqp_url, json.dumps(body).encode(), ANSWERS, correlation_id, until
    )


def test_a_plain_client_gets_accepted_coverage_and_completed_under_its_own_correlation_id(pipeline: Pipeline) -> None:
    request_id = f"corr-{uuid.uuid4()}"
    correlation_id = f"upstream-{uuid.uuid4()}"

    events = send(pipeline, request(pipeline, request_id), "event.workflow.completed", correlation_id)

    keys = [key for key, _, _ in events]
    assert keys == ["event.import.accepted", "event.coverage.calculated", "event.workflow.completed"]
    workflow_id = str(ids.workflow_id_for(request_id))
    for key, message, body in events:
        assert message.correlation_id == correlation_id
        assert body["request_id"] == request_id
        assert body["workflow_id"] == workflow_id
        assert body["group"] == "test-group"
        assert body["period"] == {"start": WEEK[0], "end": WEEK[1]}
        valid_against_asyncapi(key, body)
    assert events[0][2]["state"] == "RUNNING"
    assert events[-1][2]["state"] == "COMPLETED"


def test_without_a_correlation_id_events_carry_the_request_id(pipeline: Pipeline) -> None:
    request_id = f"nocorr-{uuid.uuid4()}"
    events = send(pipeline, request(pipeline, request_id), "event.workflow.completed")
    assert {message.correlation_id for _, message, _ in events} == {request_id}


def test_an_invalid_request_is_rejected_and_still_dead_lettered(pipeline: Pipeline) -> None:
    body = request(pipeline, "invalid-request")
    del body["amion_account"]
    message_id = str(uuid.uuid4())
    events = amqp_client.publish_and_collect(
        pipeline.services.amqp_url, json.dumps(body).encode(), ANSWERS, "corr-invalid", "event.import.rejected",
        message_id=message_id,
    )  # fmt: skip

    ((key, message, rejected),) = events
    valid_against_asyncapi(key, rejected)
    assert rejected["code"] == "INVALID_REQUEST"
    assert "amion_account" in rejected["reason"]
    assert rejected["request_message_id"] == message_id
    assert rejected["request_correlation_id"] == "corr-invalid"
    assert rejected["request_id"] == "invalid-request"
    assert message.correlation_id == "corr-invalid"
    dead = amqp_client.find_dead_letter(pipeline.services.amqp_url, "schedcu.versions.dead-letter", message_id)
    assert "amion_account" in dead.headers["x-schedcu-reason"]


def test_a_request_nested_a_hundred_thousand_deep_is_rejected_with_an_answer(pipeline: Pipeline) -> None:
    body = b'{"schema_version": 1, "request_id": "deep", "group": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    message_id = str(uuid.uuid4())
    events = amqp_client.publish_and_collect(
        pipeline.services.amqp_url, body, ANSWERS, "corr-deep", "event.import.rejected", message_id=message_id
    )

    ((key, _, rejected),) = events
    valid_against_asyncapi(key, rejected)
    assert rejected["code"] == "INVALID_REQUEST" and "recursion limit exceeded" in rejected["reason"]
    assert rejected["request_message_id"] == message_id
    dead = amqp_client.find_dead_letter(pipeline.services.amqp_url, "schedcu.versions.dead-letter", message_id)
    assert "recursion limit exceeded" in dead.headers["x-schedcu-reason"]


def test_a_new_request_reusing_a_message_id_is_rejected_not_dropped(pipeline: Pipeline) -> None:
    message_id = f"reused-{uuid.uuid4()}"
    first, second = f"first-{uuid.uuid4()}", f"second-{uuid.uuid4()}"
    url = pipeline.services.amqp_url
    body = json.dumps(request(pipeline, first)).encode()
    events = amqp_client.publish_and_collect(url, body, ANSWERS, first, "event.import.accepted", message_id=message_id)
    assert [key for key, _, _ in events] == ["event.import.accepted"]

    body = json.dumps(request(pipeline, second)).encode()
    events = amqp_client.publish_and_collect(url, body, ANSWERS, second, "event.import.rejected", message_id=message_id)

    ((key, _, rejected),) = events
    valid_against_asyncapi(key, rejected)
    assert (rejected["code"], rejected["request_id"], rejected["request_message_id"]) == (
        "MESSAGE_ID_REUSED",
        second,
        message_id,
    )
    assert pipeline.query("SELECT count(*) FROM workflows WHERE request_id = :r", r=second) == [(0,)]


def test_a_command_reusing_a_message_id_is_dead_lettered_with_the_reason(pipeline: Pipeline) -> None:
    message_id = f"reused-{uuid.uuid4()}"
    request_id = f"taken-{uuid.uuid4()}"
    url = pipeline.services.amqp_url
    body = json.dumps(request(pipeline, request_id)).encode()
    amqp_client.publish_and_collect(url, body, ANSWERS, request_id, "event.import.accepted", message_id=message_id)

    command = {"schema_version": 1, "version_id": str(uuid.uuid4()), "requested_by": "test"}
    amqp_client.publish(url, json.dumps(command).encode(), "command.versions.draft", message_id)

    dead = amqp_client.find_dead_letter(url, "schedcu.versions.dead-letter", message_id)
    assert f"message id {message_id!r} was processed before with another body" in dead.headers["x-schedcu-reason"]


def test_a_request_with_the_longest_message_id_amqp_allows_is_answered(pipeline: Pipeline) -> None:
    request_id = f"long-id-{uuid.uuid4()}"
    message_id = f"{uuid.uuid4()}-".ljust(255, "m")
    body = json.dumps(request(pipeline, request_id)).encode()
    events = amqp_client.publish_and_collect(
        pipeline.services.amqp_url, body, ANSWERS, request_id, "event.import.accepted", message_id=message_id
    )
    assert [key for key, _, _ in events] == ["event.import.accepted"]
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"


def test_a_newer_schema_version_is_rejected_with_that_reason(pipeline: Pipeline) -> None:
    body = request(pipeline, f"future-{uuid.uuid4()}", schema_version=2)
    ((_, _, rejected),) = send(pipeline, body, "event.import.rejected", "corr-future")
    assert rejected["code"] == "SCHEMA_VERSION_UNSUPPORTED"
    assert "schema_version 2 is newer" in rejected["reason"]


def test_a_reused_request_id_with_another_period_is_rejected_and_the_identical_request_is_accepted_again(
    pipeline: Pipeline,
) -> None:
    request_id = f"reused-{uuid.uuid4()}"
    first = send(pipeline, request(pipeline, request_id), "event.workflow.completed", "corr-first")
    workflow_id = first[0][2]["workflow_id"]

    ((_, _, rejected),) = send(
        pipeline, request(pipeline, request_id, ("2026-03-09", "2026-03-15")), "event.import.rejected", "corr-2"
    )
    assert rejected["code"] == "REQUEST_ID_REUSED"
    assert rejected["workflow_id"] == workflow_id
    assert "period" in rejected["reason"]

    ((_, _, accepted),) = send(pipeline, request(pipeline, request_id), "event.import.accepted", "corr-3")
    assert accepted["workflow_id"] == workflow_id
    assert accepted["state"] == "COMPLETED"
    assert pipeline.query("SELECT count(*) FROM workflows WHERE request_id = :r", r=request_id) == [(1,)]


def test_a_producer_that_reuses_a_message_id_for_another_request_is_answered_not_skipped(
    pipeline: Pipeline,
) -> None:
    """Upstream systems derive message ids from request ids (as `schedcu submit` does): the second request is
    not a duplicate delivery of the first."""
    request_id = f"same-message-{uuid.uuid4()}"
    message_id = ids.import_requested_message_id(request_id)
    amqp_client.publish(
        pipeline.services.amqp_url, json.dumps(request(pipeline, request_id)).encode(), message_id=message_id
    )
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"
    rejected = amqp_client.publish_and_receive(
        pipeline.services.amqp_url, json.dumps(request(pipeline, request_id, ("2026-05-01", "2026-05-07"))).encode(),
        binding="event.import.rejected", match={"request_id": request_id}, message_id=message_id,
    )  # fmt: skip
    assert rejected["code"] == "REQUEST_ID_REUSED" and rejected["workflow_id"] == str(ids.workflow_id_for(request_id))
    assert "group test-group, 2026-03-02 .. 2026-03-08, requested with a different period" in rejected["reason"]


def test_submit_with_a_reused_request_id_says_so_and_exits_1_and_the_same_request_again_says_it_was_done(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    template = tmp_path / "template.ods"
    template.write_bytes(pipeline.template)
    request_id = f"cli-reused-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)

    def submit(start: str, end: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            schedcu_command("submit", str(template), "--group", "test-group", "--start", start, "--end", end,
                            "--amion-account", "test", "--request-id", request_id, "--wait", "--timeout", "120"),
            env=pipeline.env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip

    first = submit(*WEEK)
    assert first.returncode == 0 and f"workflow {workflow_id}: COMPLETED" in first.stdout, first.stderr
    reused = submit("2027-05-01", "2027-05-07")
    assert reused.returncode == 1 and "COMPLETED" not in reused.stdout
    assert reused.stderr.strip() == (
        f"ImportRejected REQUEST_ID_REUSED: request id {request_id!r} already names workflow {workflow_id} "
        "(group test-group, 2026-03-02 .. 2026-03-08, requested with a different period); send a new request id "
        "for a new request"
    )
    again = submit(*WEEK)
    assert again.returncode == 0, again.stderr
    assert f"request {request_id} was already submitted: workflow {workflow_id} is COMPLETED" in again.stdout
    assert f"workflow {workflow_id}: COMPLETED" in again.stdout
    assert pipeline.query("SELECT count(*) FROM workflows WHERE request_id = :r", r=request_id) == [(1,)]


def test_a_request_with_an_unknown_field_is_accepted(pipeline: Pipeline) -> None:
    request_id = f"extra-{uuid.uuid4()}"
    body = request(pipeline, request_id, priority="high")
    body["period"]["timezone"] = "America/New_York"
    events = send(pipeline, body, "event.workflow.completed", "corr-extra")
    assert events[0][0] == "event.import.accepted"
    assert events[-1][2]["state"] == "COMPLETED"


def test_a_scrape_that_fails_once_and_then_succeeds_completes_with_both_attempts_shown(pipeline: Pipeline) -> None:
    request_id = f"retry-ok-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    # every request of attempt 1 (the client's 4 tries) answers 503: the month is not fetched, the phase retried
    pipeline.set_faults(rules=[{"fault": "status", "status": 503, "times": 4}])

    events = send(pipeline, request(pipeline, request_id), "event.workflow.completed", "corr-retry")

    assert events[-1][2]["state"] == "COMPLETED"
    shown = subprocess.run(
        [*schedcu_command(), "workflows", "show", str(workflow_id), "--json"],
        env=pipeline.env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    view = json.loads(shown.stdout)
    scrape = next(p for p in view["phases"] if p["phase"] == "AMION_SCRAPE")
    assert scrape["state"] == "SUCCEEDED"
    assert [a["attempt"] for a in scrape["attempts"]] == [1, 2]
    first_codes = {m["code"] for m in scrape["attempts"][0]["messages"]}
    assert {"MONTH_NOT_FETCHED", "PHASE_RETRIED"} <= first_codes
    assert all(m["severity"] != "ERROR" for m in scrape["attempts"][1]["messages"])
