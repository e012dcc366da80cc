"""PostgreSQL goes away for 15 s while import requests stream in: every workflow completes without an
operator, nothing is dead-lettered, and every worker's /health says it is degraded meanwhile.

The database is a private cluster of this test (`pg_createcluster` on a free port), so stopping it touches
nothing else; the broker is the normal one, in a vhost of this test."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from schedcu.runtime.infra import ensure_database_exists, free_port
from schedcu.runtime.registries import all_queues
from shared.db.migrate import upgrade
from shared.kernel import ids
from shared.messaging import dead_letters
from tests.conftest import DEFAULT_AMQP_URL, Services, eventually, isolated_vhost, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PG_VERSION = "15"
OUTAGE_S = 15.0
REQUESTS = 20
WEEK = ("2026-03-02", "2026-03-08")


class Cluster:
    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port

    def _ctl(self, *args: str) -> None:
        subprocess.run(["pg_ctlcluster", PG_VERSION, self.name, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._ctl("start")

    def crash(self) -> None:
        self._ctl("stop", "-m", "immediate")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if shutil.which("pg_createcluster") is None:
        pytest.skip("pg_createcluster (postgresql-common) is not installed: cannot make a private cluster to stop")
    cluster = Cluster(f"schedcu_outage_{os.getpid()}", free_port())
    subprocess.run(
        ["pg_createcluster", PG_VERSION, cluster.name, "--port", str(cluster.port), "--", "--auth=trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        cluster.start()
        yield cluster
    finally:
        subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, cluster.name], check=False, capture_output=True)


@pytest.fixture
def services(cluster: Cluster) -> Iterator[Services]:
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/schedcu"
    ensure_database_exists(database_url)
    upgrade(database_url)
    with ExitStack() as stack:
        amqp_url = isolated_vhost(os.environ.get("SCHEDCU_AMQP_URL", DEFAULT_AMQP_URL), cluster.name, stack)
        engine = create_engine(database_url, pool_pre_ping=True)  # its connections die with the outage
        stack.callback(engine.dispose)
        yield Services(database_url, amqp_url, engine)


def health(url: str) -> tuple[int, dict[str, object]]:
    response = httpx.get(url, timeout=5)
    return response.status_code, response.json()


def test_database_outage_while_requests_stream_in_loses_nothing(
    cluster: Cluster, services: Services, tmp_path: Path
) -> None:
    with running_pipeline(services, tmp_path) as pipeline:
        request_ids = [f"outage-{uuid.uuid4()}" for _ in range(REQUESTS)]
        bodies = [json.dumps(amqp_client.import_requested(r, pipeline.template, *WEEK)).encode() for r in request_ids]

        for body in bodies[:4]:  # some are being handled when the database goes
            amqp_client.publish(services.amqp_url, body)
        cluster.crash()
        down_at = time.monotonic()
        for body in bodies[4:]:
            amqp_client.publish(services.amqp_url, body)

        degraded: dict[str, dict[str, object]] = {}
        for name, worker in pipeline.workers.items():
            degraded[name] = eventually(
                lambda url=worker.health_url: (answer := health(url))[0] == 503 and answer[1],
                timeout_s=OUTAGE_S,
                what=f"{name} to report the database down",
            )
        assert time.monotonic() - down_at < OUTAGE_S, "the outage ended before every worker was seen degraded"
        time.sleep(OUTAGE_S - (time.monotonic() - down_at))  # the outage itself, not a synchronisation
        cluster.start()

        states = {r: pipeline.wait_terminal(ids.workflow_id_for(r), timeout_s=120) for r in request_ids}
        dead = asyncio.run(dead_letters.depths(services.amqp_url, all_queues()))
        healthy = {name: health(w.health_url) for name, w in pipeline.workers.items()}
        logs = {path.name: path.read_text(encoding="utf-8") for path in pipeline.log_dir.glob("*.log")}

    pids = {name: worker.popen.pid for name, worker in pipeline.workers.items() if worker.popen is not None}
    assert degraded == {
        name: {"status": "degraded", "down": ["database"], "broker": True, "database": False,
               "instance": f"{socket.gethostname()}:{pid}"}
        for name, pid in pids.items()
    }  # fmt: skip
    assert set(states.values()) == {"COMPLETED"}, states
    assert sum(dead.values()) == 0, dead
    assert all(status == 200 for status, _ in healthy.values()), healthy
    for name, text in logs.items():
        if name.startswith("fake-amion"):
            continue
        went = text.count("database unavailable (")
        back = text.count("database is back after")
        assert 1 <= went <= 2 and went == back, (name, went, back)  # once per change of state, not per retry
        assert "Traceback" not in text, name
