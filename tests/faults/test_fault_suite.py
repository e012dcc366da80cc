"""The fault suite's CI set (bench/faults.py), in-process: a kill -9 of each worker mid-phase, a PostgreSQL
restart, a RabbitMQ restart and an Amion slower than the scrape deadline, each with 20 workflows on a private
PostgreSQL cluster and RabbitMQ node. Every request must end in exactly one terminal workflow, with no
duplicate effect, nothing stuck, nothing left in the outbox or the work queues, and no dead letter."""

import logging
import os
import shutil
from collections.abc import Iterator

import pytest

from bench.faultlib.accounting import matrix
from bench.faultlib.run import Environment
from bench.faultlib.scenarios import CI_SCENARIOS, SCENARIOS
from bench.faultlib.suite import DEFAULT_PG_OUTAGE_S, private_servers, run_scenario, verify_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(
        shutil.which("pg_createcluster") is None or shutil.which("rabbitmq-server") is None or os.geteuid() != 0,
        reason="the fault suite creates a PostgreSQL cluster and a RabbitMQ node: it needs root, pg_createcluster "
        "(PostgreSQL 15) and rabbitmq-server",
    ),
]


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    logging.getLogger("faults").setLevel(logging.INFO)
    work_dir = tmp_path_factory.mktemp("faults")
    with private_servers(work_dir) as (pg, rabbit):
        yield Environment(pg, rabbit, 1, 20, work_dir, verify_available(), DEFAULT_PG_OUTAGE_S)


@pytest.mark.parametrize("name", CI_SCENARIOS)
def test_fault_loses_nothing_duplicates_nothing_and_leaves_nothing_stuck(environment: Environment, name: str) -> None:
    row = run_scenario(SCENARIOS[name], environment)

    assert row.requests == environment.workflows
    assert row.passed, f"\n{matrix([row])}\nworkers' logs: {environment.work_dir / name}"
