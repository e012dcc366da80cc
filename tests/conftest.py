"""Real PostgreSQL and RabbitMQ (SCHEDCU_DATABASE_URL / SCHEDCU_AMQP_URL, else localhost, else Docker via
testcontainers), a fresh database per test session (each a copy of one migrated once per session), and the five
workers plus the fake Amion as separate processes."""

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import httpx
import psycopg
import pytest
import yaml
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from schedcu.runtime import processes
from schedcu.runtime.infra import MissingService, ensure_database_exists, resolve
from schedcu.runtime.registries import all_queues
from schedcu.testing.demo_data import ROSTER, truth
from schedcu.testing.sample_template import sample_template
from services.amion_scraper.roster import RosterEntry, reconcile
from shared.db.migrate import upgrade
from shared.messaging import topology

T = TypeVar("T")

AMION_PASSWORD = "test pass"
MONTH = date(2026, 3, 1)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
HEALTHY_S = 120.0  # for a worker to answer: all five import at once, on 2 cores that other runs may load


def eventually(probe: Callable[[], T | None], timeout_s: float = 60.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail with `what` past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


async def until(probe: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    """`eventually` for a test inside the event loop: polls `probe` without blocking the loop."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Services:
    database_url: str
    amqp_url: str
    engine: Engine


def servers(stack: ExitStack) -> tuple[str, str]:
    """The PostgreSQL and RabbitMQ URLs the tests use (containers started here stop with `stack`)."""
    try:
        return resolve(
            os.environ.get("SCHEDCU_DATABASE_URL", DEFAULT_DATABASE_URL),
            os.environ.get("SCHEDCU_AMQP_URL", DEFAULT_AMQP_URL),
            stack,
        )
    except MissingService as error:
        pytest.fail(str(error))


_templates: dict[str, str] = {}  # server URL → the URL of its database migrated in this session


def migrated_template(server_url: str) -> str:
    """A database on the server migrated to head once per session, for `provisioned` to copy."""
    if server_url not in _templates:
        template_url = make_url(server_url).set(database=f"schedcu_template_{os.getpid()}").render_as_string(False)
        drop_database(template_url)
        ensure_database_exists(template_url)
        upgrade(template_url)
        _templates[server_url] = template_url
    return _templates[server_url]


def pytest_sessionfinish() -> None:
    for template_url in _templates.values():
        drop_database(template_url)


def copy_database(template_url: str, database_url: str) -> None:
    """`database_url`'s database anew as a copy of the template's (CREATE DATABASE ... TEMPLATE)."""
    drop_database(database_url)
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(
            f'CREATE DATABASE "{make_url(database_url).database}" TEMPLATE "{make_url(template_url).database}"'
        )


@contextmanager
def provisioned(name: str) -> Iterator[Services]:
    """A fresh, migrated database and a broker vhost of their own, both removed afterwards."""
    with ExitStack() as stack:
        server_url, amqp_url = servers(stack)
        database_url = make_url(server_url).set(database=name).render_as_string(False)
        copy_database(migrated_template(server_url), database_url)
        amqp_url = isolated_vhost(amqp_url, name, stack)
        engine = create_engine(database_url)
        yield Services(database_url, amqp_url, engine)
        engine.dispose()
        drop_database(database_url)


def admin_url(database_url: str) -> str:
    """The server's maintenance database, in libpq's form."""
    return make_url(database_url).set(drivername="postgresql", database="postgres").render_as_string(False)


def drop_database(database_url: str) -> None:
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with provisioned(f"schedcu_test_{os.getpid()}") as provided:
        yield provided


def isolated_vhost(amqp_url: str, vhost: str, stack: ExitStack) -> str:
    """A vhost of this test session's own when the broker is local and `rabbitmqctl` is at hand, so that
    parallel runs and a running demo never see each other; otherwise the schedcu topology is reset."""
    url = urlsplit(amqp_url)
    if shutil.which("rabbitmqctl") is None or url.hostname not in ("127.0.0.1", "localhost"):
        asyncio.run(reset_broker(amqp_url))
        return amqp_url
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    stack.callback(subprocess.run, ["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)
    user = url.username or "guest"
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True, capture_output=True
    )
    return urlunsplit(url._replace(path=f"/{vhost}"))


async def reset_broker(amqp_url: str) -> None:
    """Start from an empty topology: no message left by an earlier run reaches this run's workers."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in all_queues():
            await channel.queue_delete(queue.name)
            await channel.queue_delete(queue.dead_letter_name)
        await channel.queue_delete(topology.UNROUTED_QUEUE.name)
        await channel.queue_delete(topology.UPSTREAM_REPLIES_QUEUE.name)
        for exchange in ("schedcu.events", "schedcu.commands", "schedcu.dead-letter", "schedcu.unrouted"):
            await channel.exchange_delete(exchange)


@dataclass
class Pipeline:
    services: Services
    env: dict[str, str]
    workers: dict[str, processes.Process]
    fake_amion: processes.Process
    template: bytes
    log_dir: Path

    @property
    def amion_root(self) -> str:
        return self.fake_amion.health_url.removesuffix("/truth")

    def restart(self, name: str) -> None:
        old = self.workers[name]
        self.workers[name] = processes.worker(name.split("#")[0], self.env, self.log_dir).start()
        self.workers[name].wait_healthy(HEALTHY_S)
        assert old.popen is not None and old.popen.poll() is not None

    def set_faults(self, **faults: float) -> None:
        httpx.post(f"{self.amion_root}/faults", json=faults, timeout=5).raise_for_status()

    def amion_requests(self) -> int:
        return httpx.get(f"{self.amion_root}/stats", timeout=5).json()["ocs_requests"]

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        with self.services.engine.begin() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def workflow_state(self, workflow_id: uuid.UUID) -> str | None:
        rows = self.query("SELECT state FROM workflows WHERE id = :id", id=workflow_id)
        return rows[0][0] if rows else None

    def wait_terminal(self, workflow_id: uuid.UUID, timeout_s: float = 90.0) -> str:
        return eventually(
            lambda: (s := self.workflow_state(workflow_id)) in {"COMPLETED", "COMPLETED_WITH_WARNINGS", "FAILED"} and s,
            timeout_s,
            f"workflow {workflow_id} to end",
        )


@contextmanager
def running_pipeline(
    services: Services,
    work: Path,
    replicas: int = 1,
    months: tuple[date, ...] = (MONTH,),
    worker_env: Mapping[str, Mapping[str, str]] | None = None,
    **settings: str,
) -> Iterator[Pipeline]:
    """The fake Amion (the demo truth of `months`) and `replicas` processes of each of the five workers on
    `services`, with extra SCHEDCU_ settings, and a worker named in `worker_env` with its own environment variables
    on top (its own broker or database login). Replicas after the first are named `<worker>#<n>`."""
    log_dir = work / "logs"
    log_dir.mkdir()
    truth_file = work / "truth.yaml"
    assignments = [a for month in months for a in truth(month, AMION_PASSWORD)["assignments"]]
    truth_file.write_text(yaml.safe_dump({"password": AMION_PASSWORD, "assignments": assignments}), encoding="utf-8")
    with Session(services.engine) as session, session.begin():
        reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])

    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    fake = processes.fake_amion(truth_file, env, log_dir).start()
    fake.wait_healthy()
    env["SCHEDCU_TEST_AMION_PASSWORD"] = AMION_PASSWORD
    env["SCHEDCU_AMION_ACCOUNTS"] = json.dumps(
        {
            "test": {
                "base_url": fake.health_url.replace("/truth", "/cgi-bin/ocs"),
                "password_env": "SCHEDCU_TEST_AMION_PASSWORD",
            }
        }
    )
    env.update({f"SCHEDCU_{key.upper()}": value for key, value in settings.items()})
    workers = {
        name if n == 1 else f"{name}#{n}": processes.worker(
            name, {**env, **(worker_env or {}).get(name, {})}, log_dir
        ).start()
        for name in processes.WORKER_NAMES
        for n in range(1, replicas + 1)
    }
    pipeline = Pipeline(services, env, workers, fake, sample_template(), log_dir)
    try:
        for w in workers.values():
            w.wait_healthy(HEALTHY_S)
        yield pipeline
    finally:
        for w in pipeline.workers.values():
            w.stop()
        fake.stop()


@pytest.fixture(scope="session")
def pipeline(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(services, tmp_path_factory.mktemp("pipeline")) as running:
        yield running
