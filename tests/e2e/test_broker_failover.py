"""Workers and the command line on an AMQP URL of two hosts whose first refuses connections, and a broker where a
queue they do not consume cannot be declared (an older classic `schedcu.unrouted` with other arguments, as a
broker upgraded from an earlier release has): they connect to the second host, log the refusal once with what
to do, and go on working. The same on a three-node cluster of the test's own whose node holding that classic queue
was killed: the queue is unavailable, and the workers go on consuming their own."""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.faultlib.infra import Node, cluster
from schedcu.runtime.infra import free_port
from schedcu.runtime.processes import schedcu_command
from schedcu.runtime.registries import all_queues
from shared.kernel import ids
from shared.messaging import topology
from shared.settings import get_settings
from tests.conftest import (
    Pipeline,
    Services,
    copy_database,
    drop_database,
    eventually,
    migrated_template,
    provisioned,
    running_pipeline,
    servers,
)
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


def on_nodes(vhost: str, *nodes: Node) -> str:
    return f"amqp://guest:guest@{','.join(f'127.0.0.1:{n.port}' for n in nodes)}/{vhost}"


@pytest.mark.skipif(
    shutil.which("rabbitmq-server") is None or os.geteuid() != 0,
    reason="starts a RabbitMQ cluster of three nodes of its own: it needs root and rabbitmq-server",
)
def test_workers_go_on_consuming_their_queues_while_the_node_of_the_classic_unrouted_queue_is_down(
    tmp_path: Path,
) -> None:
    name = f"schedcu_test_node_down_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        server_url, _ = servers(stack)
        database_url = make_url(server_url).set(database=name).render_as_string(False)
        copy_database(migrated_template(server_url), database_url)
        stack.callback(drop_database, database_url)
        engine = create_engine(database_url)
        stack.callback(engine.dispose)
        work = Path(tempfile.mkdtemp(prefix="schedcu-test-node-down-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        work.chmod(0o755)  # the nodes run as the rabbitmq user
        n1, n2, n3 = stack.enter_context(cluster(work / "cluster", "node-down"))
        n1.ctl("add_vhost", name)
        n1.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        # a broker upgraded from an earlier release: the classic queue, declared through n3, lives on n3 alone
        declare_classic_unrouted(on_nodes(name, n3))
        asyncio.run(topology.declare(on_nodes(name, n1), get_settings().delivery_limit, all_queues()))
        n3.kill()
        eventually(
            lambda: n1.ctl("eval", "length(rabbit_nodes:all_running()).").strip() == "2", what="n1 to see n3 down"
        )

        services = Services(database_url, on_nodes(name, n1, n2), engine)
        with running_pipeline(services, tmp_path, declare_topology="true") as pipeline:
            request_id = f"node-down-{uuid.uuid4()}"
            body = import_requested(request_id, pipeline.template, *WEEK)
            amqp_client.publish(on_nodes(name, n2), json.dumps(body).encode())

            assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"
            for worker_name, worker in pipeline.workers.items():
                log = worker.log_path.read_text(encoding="utf-8")
                assert log.count(REFUSAL) == 1, worker_name
                assert "NOT_FOUND" in log and "its node down" in log, worker_name
