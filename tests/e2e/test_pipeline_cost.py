"""What a workflow asks of PostgreSQL, through the real workers: one transaction per delivery in each worker, and
three in the scraper (its inbox and fence check that opens the batch, Amion's politeness slot, the result), as
each worker's /metrics counts them: a step split into two transactions shows here. The module runs its own
pipeline, whose periodic jobs run once at start and not again during the test."""

import json
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.kernel import ids
from tests.conftest import Pipeline, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEEK = ("2026-03-02", "2026-03-08")  # one month: one request to Amion
QUIET = {"metrics_interval_s": "3600", "saga_sweep_s": "3600", "watch_tick_s": "3600"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with (
        provisioned(f"schedcu_test_{os.getpid()}_cost") as services,
        running_pipeline(services, tmp_path_factory.mktemp("cost"), **QUIET) as running,
    ):
        yield running


def transactions(pipeline: Pipeline) -> dict[str, float]:
    """Each worker's `schedcu_sql_transactions_total`."""
    counted = {}
    for name, worker in pipeline.workers.items():
        text = httpx.get(worker.health_url.replace("/health", "/metrics"), timeout=10).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        counted[name] = sum(s.value for s in families["schedcu_sql_transactions"].samples if s.name.endswith("_total"))
    return counted


def complete_a_workflow(pipeline: Pipeline) -> None:
    request_id = f"cost-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, *WEEK)
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"


def test_a_workflow_costs_each_worker_one_transaction_per_delivery(pipeline: Pipeline) -> None:
    complete_a_workflow(pipeline)  # after the workers' start-up jobs
    before = transactions(pipeline)

    complete_a_workflow(pipeline)

    after = transactions(pipeline)
    spent = {name: after[name] - before[name] for name in after}
    assert spent == {"ods-importer": 1, "amion-scraper": 3, "coverage": 1, "versions": 4, "drafting": 0}
