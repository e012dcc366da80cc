"""Operations: two replicas of every worker on the same queues, and one import traced as one trace."""

import json
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from schedcu.runtime import processes
from shared.kernel import ids
from tests.conftest import Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICES = {"schedcu-versions", "schedcu-ods_importer", "schedcu-amion_scraper", "schedcu-coverage"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def replicated(receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with (
        provisioned(f"schedcu_test_ops_{uuid.uuid4().hex[:8]}") as services,
        running_pipeline(
            services,
            tmp_path_factory.mktemp("ops"),
            replicas=2,
            otel_exporter="otlp",
            otel_endpoint=receiver.endpoint,
        ) as pipeline,
    ):
        yield pipeline


def submit(pipeline: Pipeline, request_id: str) -> uuid.UUID:
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-08")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    return ids.workflow_id_for(request_id)


def test_two_replicas_of_each_worker_complete_every_workflow_once(replicated: Pipeline) -> None:
    assert len(replicated.workers) == 2 * len(processes.WORKER_NAMES)
    workflows = [submit(replicated, f"replicas-{n}-{uuid.uuid4()}") for n in range(8)]
    for workflow_id in workflows:
        assert replicated.wait_terminal(workflow_id, timeout_s=120) == "COMPLETED"
    per_workflow = replicated.query(
        "SELECT w.id, sum(p.attempt), "
        "(SELECT count(*) FROM schedule_versions v WHERE v.workflow_id = w.id), "
        "(SELECT count(*) FROM scrape_batches b WHERE b.workflow_id = w.id), "
        "(SELECT count(*) FROM coverage_calculations c JOIN schedule_versions v ON v.id = c.version_id "
        " WHERE v.workflow_id = w.id) "
        "FROM workflows w JOIN workflow_phases p ON p.workflow_id = w.id WHERE w.id = ANY(:ids) GROUP BY w.id",
        ids=workflows,
    )
    assert sorted(row[1:] for row in per_workflow) == [(3, 1, 1, 1)] * 8
    duplicates = replicated.query(
        "SELECT version_id, schedule_date, role, person_id FROM assignments GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"
    )
    assert duplicates == []


def test_one_import_is_one_trace_across_all_four_workers(replicated: Pipeline, receiver: OtlpReceiver) -> None:
    request_id = f"traced-{uuid.uuid4()}"
    workflow_id = submit(replicated, request_id)
    assert replicated.wait_terminal(workflow_id) == "COMPLETED"

    def trace_services() -> set[str] | None:
        mine = {
            s.trace_id for s in receiver.spans if s.attributes.get("messaging.message.conversation_id") == request_id
        }
        if len(mine) != 1:
            return None
        services = {s.service for s in receiver.spans if s.trace_id in mine}
        return services if services >= SERVICES else None

    services = eventually(trace_services, 30, "spans of all four workers under the workflow's trace")
    assert services >= SERVICES


def test_worker_logs_are_json_lines_carrying_workflow_message_and_trace_ids(replicated: Pipeline) -> None:
    workflow_id = submit(replicated, f"logged-{uuid.uuid4()}")
    assert replicated.wait_terminal(workflow_id) == "COMPLETED"

    lines = [
        json.loads(line)
        for log in replicated.log_dir.glob("*.log")
        if not log.name.startswith("fake-amion")
        for line in log.read_text(encoding="utf-8").splitlines()
        if line.startswith("{")
    ]
    mine = [line for line in lines if line.get("workflow_id") == str(workflow_id)]
    assert {line["service"] for line in mine} == {"versions", "ods_importer", "amion_scraper", "coverage"}
    assert {line["message"] for line in mine} >= {"Received", "Processed"}
    for line in mine:
        assert line["message_id"] and line["trace_id"], line
    for line in lines:
        assert datetime.fromisoformat(line["time"]).utcoffset() is not None, line["time"]
        assert "color_message" not in line and "\x1b[" not in json.dumps(line), line
