"""`schedcu dlq`: operators see dead letters with their reasons and redrive them; a redriven message is
processed once."""

import json
import subprocess
import uuid
from datetime import UTC, datetime

import pytest

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline, eventually
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DLQ = "schedcu.versions.dead-letter"


def dlq(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        schedcu_command("dlq", *args), env=pipeline.env, capture_output=True, text=True, timeout=60, check=True
    )


def test_dead_letter_is_listed_shown_with_reason_and_redriven_once(pipeline: Pipeline) -> None:
    request_id = f"redrive-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-08"))
    message_id = f"redrive-me-{uuid.uuid4()}"
    amqp_client.park_in_dead_letters(pipeline.services.amqp_url, DLQ, body.encode(), "import.requested", message_id)

    listed = dlq(pipeline, "list").stdout
    assert any(line.split()[0] == DLQ and int(line.split()[1]) >= 1 for line in listed.splitlines())
    shown = json.loads(dlq(pipeline, "show", "versions", "--json").stdout)
    mine = [letter for letter in shown if letter["message_id"] == message_id]
    assert mine and mine[0]["reason"] == "worker crashed (test)" and mine[0]["routing_key"] == "import.requested"
    assert pipeline.workflow_state(workflow_id) is None

    redriven = json.loads(dlq(pipeline, "redrive", "versions", "--message-id", message_id, "--json").stdout)
    assert [letter["message_id"] for letter in redriven] == [message_id]
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"

    amqp_client.park_in_dead_letters(pipeline.services.amqp_url, DLQ, body.encode(), "import.requested", message_id)
    dlq(pipeline, "redrive", "versions", "--message-id", message_id)
    eventually(
        lambda: not [x for x in json.loads(dlq(pipeline, "show", "versions", "--json").stdout)
                     if x["message_id"] == message_id],
        what="the redriven message to leave the dead-letter queue",
    )  # fmt: skip
    processed = pipeline.query(
        "SELECT count(*) FROM inbox WHERE consumer = 'versions' AND message_id = :m", m=message_id
    )
    assert processed == [(1,)]
    assert pipeline.query("SELECT count(*) FROM workflows WHERE request_id = :r", r=request_id) == [(1,)]
    phases = pipeline.query("SELECT sum(attempt) FROM workflow_phases WHERE workflow_id = :w", w=workflow_id)
    assert phases == [(3,)]


def test_dead_letters_say_when_they_were_dead_lettered(pipeline: Pipeline) -> None:
    message_id = amqp_client.publish(pipeline.services.amqp_url, b'{"schema_version": 1}')

    def parked() -> list[dict[str, str]]:
        shown = json.loads(dlq(pipeline, "show", "versions", "--limit", "1000", "--json").stdout)
        return [letter for letter in shown if letter["message_id"] == message_id]

    (mine,) = eventually(parked, 30, "the invalid request to be dead-lettered")
    at = datetime.fromisoformat(mine["at"])
    assert abs((datetime.now(UTC) - at).total_seconds()) < 120
    (line,) = [line for line in dlq(pipeline, "list").stdout.splitlines() if line.startswith(DLQ)]
    assert "oldest 20" in line and "newest 20" in line


def test_discard_lists_first_then_removes_with_yes_and_both_redrive_and_discard_are_audited(pipeline: Pipeline) -> None:
    reason = "worker crashed (test)"
    kept, dropped = f"keep-{uuid.uuid4()}", f"drop-{uuid.uuid4()}"
    for message_id in (kept, dropped):
        amqp_client.park_in_dead_letters(pipeline.services.amqp_url, DLQ, b'{"x": 1}', "import.requested", message_id)

    def parked_ids() -> set[str]:
        shown = json.loads(dlq(pipeline, "show", "versions", "--limit", "1000", "--json").stdout)
        return {letter["message_id"] for letter in shown}

    asked = dlq(pipeline, "discard", "versions", "--message-id", dropped).stdout
    assert asked.startswith("1 would be discarded (add --yes) from schedcu.versions.dead-letter") and dropped in asked
    assert {kept, dropped} <= parked_ids()

    done = json.loads(dlq(pipeline, "discard", "versions", "--message-id", dropped, "--yes", "--json").stdout)
    assert [(x["message_id"], x["reason"]) for x in done] == [(dropped, reason)]
    ids_left = parked_ids()
    assert kept in ids_left and dropped not in ids_left

    dlq(pipeline, "redrive", "versions", "--message-id", kept)
    audited = pipeline.query(
        "SELECT action, entity_id, from_state, reason FROM audit_log WHERE entity = 'dead_letter' "
        "AND entity_id IN (:k, :d) ORDER BY id",
        k=f"{DLQ}/{kept}",
        d=f"{DLQ}/{dropped}",
    )
    assert audited == [("discard", f"{DLQ}/{dropped}", DLQ, reason), ("redrive", f"{DLQ}/{kept}", DLQ, reason)]


def test_discard_without_a_choice_is_refused_in_one_line(pipeline: Pipeline) -> None:
    done = subprocess.run(
        schedcu_command("dlq", "discard", "versions"), env=pipeline.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "schedcu: say what to discard: --message-id ID or --reason TEXT (see `schedcu dlq show`)"
    )
