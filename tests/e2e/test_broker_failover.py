"""Workers and the command line on an AMQP URL of two hosts whose first refuses connections, and a broker where a
queue they do not consume cannot be declared (an older classic `schedcu.unrouted` with other arguments, as a
broker upgraded from an earlier release has): they connect to the second host, log the refusal once with what
to do, and go on working."""

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest

from schedcu.runtime.infra import free_port
from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline, Services, provisioned, running_pipeline
from tests.support import amqp_client
from tests.support.amqp_client import import_requested

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEEK = ("2026-03-02", "2026-03-08")
REFUSAL = "RabbitMQ refused to declare the queue schedcu.unrouted"


def two_hosts(amqp_url: str, closed_port: int) -> str:
    """`amqp_url` with a host that refuses connections (a closed port) before its own."""
    scheme, rest = amqp_url.split("://", 1)
    credentials, host_and_path = rest.rsplit("@", 1)
    return f"{scheme}://{credentials}@127.0.0.1:{closed_port},{host_and_path}"


def declare_classic_unrouted(amqp_url: str) -> None:
    async def declare() -> None:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            await channel.declare_queue("schedcu.unrouted", durable=True, arguments={"x-max-length": 5})

    asyncio.run(declare())


def queue_type(vhost: str, name: str) -> str:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "type"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.split("\t") for line in listed.splitlines() if line.strip())[name]


@pytest.fixture(scope="module")
def failover(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with provisioned(f"schedcu_test_failover_{uuid.uuid4().hex[:8]}") as services:
        declare_classic_unrouted(services.amqp_url)
        url = two_hosts(services.amqp_url, free_port())
        with running_pipeline(
            Services(services.database_url, url, services.engine), tmp_path_factory.mktemp("failover")
        ) as pipeline:
            yield pipeline


def vhost_of(pipeline: Pipeline) -> str:
    return pipeline.services.amqp_url.rsplit("/", 1)[1]


def test_workers_connect_to_the_second_host_and_complete_work_past_a_queue_they_cannot_declare(
    failover: Pipeline,
) -> None:
    request_id = f"failover-{uuid.uuid4()}"
    body = import_requested(request_id, failover.template, *WEEK)
    second_host = failover.services.amqp_url.split(",", 1)[1]
    amqp_client.publish(f"amqp://guest:guest@{second_host}", json.dumps(body).encode())

    assert failover.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"
    assert queue_type(vhost_of(failover), "schedcu.unrouted") == "classic"  # left as it was
    for name, worker in failover.workers.items():
        log = worker.log_path.read_text(encoding="utf-8")
        assert log.count(REFUSAL) == 1, name
        assert "PRECONDITION_FAILED" in log and "delete it once" in log, name
        assert "guest:guest" not in log, name


def test_the_command_line_tries_the_hosts_in_turn(failover: Pipeline, tmp_path: Path) -> None:
    env = {**os.environ, **failover.env}
    listed = subprocess.run(schedcu_command("dlq", "list"), env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "schedcu.versions.dead-letter" in listed.stdout

    template = tmp_path / "template.ods"
    template.write_bytes(failover.template)
    request_id = f"failover-cli-{uuid.uuid4()}"
    submitted = subprocess.run(
        schedcu_command("submit", str(template), "--group", "test-group", "--start", WEEK[0], "--end", WEEK[1],
                        "--amion-account", "test", "--request-id", request_id),
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    assert "guest:guest" not in submitted.stdout + submitted.stderr
    assert failover.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"
