"""`schedcu status` knows a worker by its instance, not by its port, and stops listing a worker that has been
gone longer than SCHEDCU_STATUS_GONE_AFTER_S (2 minutes by default)."""

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from schedcu.runtime import processes
from schedcu.runtime.infra import free_port
from shared.db.models import WorkerHeartbeat
from tests.conftest import Services, eventually

pytestmark = pytest.mark.integration


def status(services: Services, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCHEDCU_DATABASE_URL": services.database_url,
        "SCHEDCU_AMQP_URL": services.amqp_url,
        **{f"SCHEDCU_{key.upper()}": value for key, value in settings.items()},
    }
    return subprocess.run(
        processes.schedcu_command("status", *args), env=env, capture_output=True, text=True, timeout=60, check=False
    )


def listed(services: Services, **settings: str) -> dict[str, dict[str, Any]]:
    return {w["instance"]: w for w in json.loads(status(services, "--json", **settings).stdout)["workers"]}


def instance(process: processes.Process) -> str:
    assert process.popen is not None
    return f"{socket.gethostname()}:{process.popen.pid}"


def has_heartbeat(services: Services, name: str) -> bool:
    with Session(services.engine) as session:
        return session.get(WorkerHeartbeat, name) is not None


@pytest.fixture
def two_workers_on_one_port(services: Services, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A coverage worker killed, and another started on its port: (the dead one's instance, the living one's)."""
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    port = free_port()

    def start() -> processes.Process:
        worker = processes.Process(
            "coverage",
            processes.schedcu_command("worker", "coverage", "--port", str(port)),
            env,
            f"http://127.0.0.1:{port}/health",
            tmp_path / "coverage.log",
        ).start()
        worker.wait_healthy()
        eventually(lambda: has_heartbeat(services, instance(worker)), 30, "the worker's heartbeat")
        return worker

    dead = start()
    dead.kill()
    living = start()
    try:
        yield instance(dead), instance(living)
    finally:
        living.stop()
        with Session(services.engine) as session, session.begin():
            session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.instance.in_([instance(dead), instance(living)]))
            )


def test_a_dead_worker_whose_port_another_took_is_gone_not_ok(
    services: Services, two_workers_on_one_port: tuple[str, str]
) -> None:
    dead, living = two_workers_on_one_port

    workers = listed(services)
    shown = status(services).stdout

    assert workers[dead]["health"] == "gone"
    assert workers[dead]["note"] == f"its port answers for {living}"
    assert workers[living]["health"] == "ok"
    assert f"{dead:<28} gone" in shown and f"(its port answers for {living})" in shown


@pytest.fixture
def heartbeats(services: Services) -> Iterator[dict[str, str]]:
    """Two workers that stopped answering: one 60 s ago, one 200 s ago (name: instance)."""
    now = datetime.now(UTC)
    rows = {"a minute": ("status-test-a-minute:1", 60), "200 s": ("status-test-200-s:1", 200)}
    with Session(services.engine) as session, session.begin():
        for name, seen_s in rows.values():
            session.add(
                WorkerHeartbeat(
                    instance=name, service="coverage", health_url=f"http://127.0.0.1:{free_port()}/health",
                    started_at=now - timedelta(hours=1), last_seen=now - timedelta(seconds=seen_s),
                )
            )  # fmt: skip
    yield {key: name for key, (name, _) in rows.items()}
    with Session(services.engine) as session, session.begin():
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.instance.in_([n for n, _ in rows.values()])))


def test_a_worker_gone_longer_than_the_setting_is_no_longer_listed(
    services: Services, heartbeats: dict[str, str]
) -> None:
    by_default = listed(services)
    within_30_s = listed(services, status_gone_after_s="30")

    assert by_default[heartbeats["a minute"]]["health"] == "gone"
    assert heartbeats["200 s"] not in by_default
    assert heartbeats["a minute"] not in within_30_s
    with Session(services.engine) as session:  # forgotten by status, not deleted
        assert (
            len(session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.instance.in_(heartbeats.values()))).all())
            == 2
        )
