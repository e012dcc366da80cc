"""One scenario's world: a fresh database on the private cluster, a fresh vhost on the private node, the
fake Amion and the workers as processes, the stream of import requests, and what they left behind.

The vhost is set up as deploy/ sets up the broker: the administrator declares the topology, each worker logs in
as its own account of the definitions (so it checks each message's sender) and only checks that the topology
exists, the requests come from the upstream account. The suite's own queues (final events, tap) and figures
(rabbitmqctl) are the administrator's."""

import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from schedcu.runtime import processes
from schedcu.runtime.registries import all_queues
from schedcu.testing import broker_accounts
from schedcu.testing.demo_data import ROSTER, truth
from schedcu.testing.sample_template import sample_template
from services.amion_scraper.roster import RosterEntry, reconcile
from shared.db.migrate import upgrade
from shared.kernel import ids
from shared.messaging import topology
from shared.settings import Settings

from . import bus
from .accounting import TERMINAL, WORK_QUEUES, Facts, WorkflowFacts
from .dbproxy import ResettingProxy
from .infra import PrivatePostgres, PrivateRabbit

AMION_PASSWORD = "faults pass"
AMION_ACCOUNT = "faults"
MONTH = date(2026, 3, 1)

QUIET_HOLD_S = 6.0

# Phase deadlines short enough that a workflow whose message was lost ends within minutes, long enough that a
# 30 s outage does not time phases out.
BASE_SETTINGS = {
    "SAGA_SWEEP_S": "1",
    "ODS_TIMEOUT_S": "45",
    "AMION_TIMEOUT_MIN_S": "30",
    "AMION_TIMEOUT_BASE_S": "0",
    "AMION_TIMEOUT_PER_MONTH_S": "0",
    "COVERAGE_TIMEOUT_S": "45",
    "GRACEFUL_TIMEOUT_S": "15",
    "METRICS_INTERVAL_S": "5",
    "LOG_FORMAT": "json",
}


@dataclass
class Environment:
    """What every scenario shares: the private servers, the seed and where logs go."""

    pg: PrivatePostgres
    rabbit: PrivateRabbit
    seed: int
    workflows: int
    work_dir: Path
    verify_available: bool
    pg_outage_s: float


def settle_deadline_s(settings: dict[str, str]) -> float:
    """How long after the last request and the end of the fault every workflow must have ended: each phase's
    deadline times its attempts (the saga's guarantee), plus sweeps."""
    s = {k: float(v) for k, v in settings.items() if k.endswith(("_S", "_ATTEMPTS"))}
    amion = max(s["AMION_TIMEOUT_MIN_S"], s["AMION_TIMEOUT_BASE_S"] + s["AMION_TIMEOUT_PER_MONTH_S"])
    return (
        s["ODS_TIMEOUT_S"] * s.get("ODS_ATTEMPTS", 3)
        + amion * s.get("AMION_ATTEMPTS", 2)
        + s["COVERAGE_TIMEOUT_S"] * s.get("COVERAGE_ATTEMPTS", 1)
        + 10 * s["SAGA_SWEEP_S"]
    )


def request_message(request_id: str, rng: random.Random, template: bytes) -> bus.Captured:
    """An ImportRequested as README documents it, for a seeded period of 3 to 7 days in MONTH."""
    start = MONTH + timedelta(days=rng.randrange(0, 24))
    end = start + timedelta(days=rng.randrange(2, 7))
    body = {
        "schema_version": 1,
        "request_id": request_id,
        "group": "faults",
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "template": {"filename": "template.ods", "inline_base64": base64.b64encode(template).decode()},
        "amion_account": AMION_ACCOUNT,
        "requested_by": "fault-suite",
    }
    return bus.Captured(
        "import.requested",
        json.dumps(body).encode(),
        ids.import_requested_message_id(request_id),
        str(ids.workflow_id_for(request_id)),
        {},
        bus.UPSTREAM,
    )


@dataclass
class Stream:
    """Publishes the scenario's requests one every `interval_s` in a thread of its own; `extra(i, request)`
    gives the messages to publish for the i-th request (the request itself, duplicates, poison)."""

    run: "Run"
    requests: list[bus.Captured]
    interval_s: float
    extra: Callable[[int, bus.Captured], list[bus.Captured]]
    published: dict[str, float] = field(default_factory=dict)
    thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._publish_all, name="stream", daemon=True)
        self.thread.start()

    def _publish_all(self) -> None:
        try:
            for i, request in enumerate(self.requests):
                request_id = json.loads(request.body)["request_id"]
                self.published[request_id] = time.time()
                bus.publish(self.run.urls, self.extra(i, request))
                time.sleep(self.interval_s)
        except BaseException as error:  # reported by join(): a stream that died must fail the scenario
            self.error = error

    @property
    def count(self) -> int:
        return len(self.published)

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join()
        if self.error is not None:
            raise RuntimeError("publishing the requests failed") from self.error


@dataclass
class Run:
    name: str
    env: Environment
    settings: dict[str, str]
    use_proxy: bool
    amion_latency_s: float
    database: str = ""
    amqp_url: str = ""  # the administrator's
    urls: dict[str, str] = field(default_factory=dict)  # the accounts', by login
    worker_env: dict[str, str] = field(default_factory=dict)
    workers: dict[str, processes.Process] = field(default_factory=dict)
    fake_amion: processes.Process | None = None
    proxy: ResettingProxy | None = None
    poison: int = 0
    fault_end: float | None = None
    paused: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def vhost(self) -> str:
        return self.name

    @property
    def log_dir(self) -> Path:
        return self.env.work_dir / self.name

    @property
    def database_url(self) -> str:
        return self.env.pg.url(self.database)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.env.pg.url(self.database, driver="postgresql"), connect_timeout=3) as conn:
            return list(conn.execute(sql, params).fetchall())

    def start(self) -> None:
        self.database = f"schedcu_{self.name.replace('-', '_')}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env.pg.create_database(self.database)
        upgrade(self.database_url)
        engine = create_engine(self.database_url)
        with Session(engine) as session, session.begin():
            reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])
        engine.dispose()
        self.amqp_url = self.env.rabbit.add_vhost(self.vhost)
        self.urls = self.env.rabbit.urls(self.vhost)

        workers_db = self.database_url
        if self.use_proxy:
            self.proxy = ResettingProxy(self.env.pg.port, self.env.seed).start()
            workers_db = self.env.pg.url(self.database, port=self.proxy.port)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDCU_")}
        self.worker_env = {
            **base,
            "SCHEDCU_DATABASE_URL": workers_db,
            "SCHEDCU_AMQP_URL": self.urls[bus.OPERATOR],  # as the command line (`schedcu verify`); workers: their own
            "SCHEDCU_BROKER_ACCOUNTS": broker_accounts.names(),
            "SCHEDCU_DECLARE_TOPOLOGY": "false",
        }
        truth_file = self.log_dir / "amion-truth.yaml"
        truth_file.write_text(yaml.safe_dump(truth(MONTH, AMION_PASSWORD)), encoding="utf-8")
        self.fake_amion = processes.fake_amion(truth_file, self.worker_env, self.log_dir).start()
        self.fake_amion.wait_healthy()
        self.worker_env["SCHEDCU_FAULTS_AMION_PASSWORD"] = AMION_PASSWORD
        account = {
            "base_url": self.fake_amion.health_url.replace("/truth", "/cgi-bin/ocs"),
            "password_env": "SCHEDCU_FAULTS_AMION_PASSWORD",
            "requests_per_s": 50,
            "timeout_s": 30,
        }
        self.worker_env["SCHEDCU_AMION_ACCOUNTS"] = json.dumps({AMION_ACCOUNT: account})
        self.worker_env.update({f"SCHEDCU_{k}": v for k, v in self.settings.items()})
        delivery_limit = int(
            self.worker_env.get("SCHEDCU_DELIVERY_LIMIT", Settings.model_fields["delivery_limit"].default)
        )
        asyncio.run(topology.declare(self.amqp_url, delivery_limit, all_queues(), needs=[q.name for q in all_queues()]))
        self.workers = {name: self._worker(name) for name in processes.WORKER_NAMES}
        for worker in self.workers.values():
            worker.wait_healthy(60)
        if self.amion_latency_s:
            self.set_amion_latency(self.amion_latency_s)
        bus.declare_subscriber_queue(self.amqp_url, bus.FINAL_QUEUE, ("event.workflow.*",))

    def _worker(self, name: str) -> processes.Process:
        login = {**self.worker_env, "SCHEDCU_AMQP_URL": self.urls[broker_accounts.names().format(name=name)]}
        return processes.worker(name, login, self.log_dir).start()

    def stop(self) -> None:
        for pid in self.paused:
            os.kill(pid, signal.SIGCONT)
        self.paused.clear()
        for worker in self.workers.values():
            worker.stop(timeout_s=20)
        if self.fake_amion is not None:
            self.fake_amion.stop()
        if self.proxy is not None:
            self.proxy.stop()

    # --- faults ---------------------------------------------------------------------------------------

    def set_amion_latency(self, seconds: float) -> None:
        assert self.fake_amion is not None
        root = self.fake_amion.health_url.removesuffix("/truth")
        httpx.post(f"{root}/faults", json={"latency_s": seconds}, timeout=5).raise_for_status()

    def catch_mid_phase(self, worker: str, timeout_s: float = 30.0) -> None:
        """Wait until the worker's log shows a message received and not processed yet (it is handling a
        phase); a note says when that was not seen within `timeout_s`."""
        handling: set[str] = set()
        pending = ""
        deadline = time.monotonic() + timeout_s
        with self.workers[worker].log_path.open(encoding="utf-8", errors="replace") as log:
            while time.monotonic() < deadline:
                pending += log.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    record = json.loads(line) if line.startswith("{") else {}
                    if record.get("message") == "Received":
                        handling.add(record.get("message_id"))
                    elif record.get("message") == "Processed":
                        handling.discard(record.get("message_id"))
                if handling:
                    return
                time.sleep(0.01)
        self.notes.append(f"{worker} was not seen handling a message when the fault began")

    def restart(self, worker: str) -> None:
        """As a supervisor does: a new process for the worker, healthy before this returns."""
        self.workers[worker] = self._worker(worker)
        self.workers[worker].wait_healthy(60)

    def pid(self, worker: str) -> int:
        popen = self.workers[worker].popen
        assert popen is not None
        return popen.pid

    # --- the end --------------------------------------------------------------------------------------

    def quiet(self) -> bool:
        """Nothing left that could still change the outcome: every workflow ended, the outbox is empty and
        no work queue holds a message, ready or being handled."""
        try:
            [(running, outbox)] = self.query(
                "SELECT (SELECT count(*) FROM workflows WHERE state <> ALL(%s)), (SELECT count(*) FROM outbox)",
                list(TERMINAL),
            )
            if running or outbox:
                return False
            messages = self.env.rabbit.queue_messages(self.vhost)
        except (psycopg.Error, RuntimeError, subprocess.TimeoutExpired):
            return False
        return all(messages.get(q, 0) == 0 for q in WORK_QUEUES)

    def settle(self, since: float) -> None:
        """Wait until the run has stayed quiet for QUIET_HOLD_S (longer than the queue figures may lag), or
        until the saga's deadline has passed."""
        deadline = since + settle_deadline_s(self.settings)
        quiet_since = None
        while time.time() < deadline:
            if not self.quiet():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_HOLD_S:
                return
            time.sleep(1.0)

    def verify(self) -> tuple[str, bool | None]:
        if not self.env.verify_available:
            return "n/a", None
        env = {**self.worker_env, "SCHEDCU_DATABASE_URL": self.database_url}
        done = subprocess.run(
            processes.schedcu_command("verify", "--all", "--json"),
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        (self.log_dir / "verify.json").write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode == 0:
            return "clean", True
        if done.returncode == 1:
            return f"{violations(done.stdout)} violations", False
        return f"error {done.returncode}", False

    def facts(self, published: dict[str, float], allowed_states: frozenset[str]) -> Facts:
        finals, again = final_events(bus.drain(self.amqp_url, bus.FINAL_QUEUE))
        if again:
            self.notes.append(f"{again} final events delivered again with their message id")
        workflows = workflow_facts(self.query(WORKFLOW_FACTS), finals)
        [(outbox,)] = self.query("SELECT count(*) FROM outbox")
        verify, verify_ok = self.verify()
        return Facts(
            published=published,
            workflows=workflows,
            outbox_rows=outbox,
            queue_messages=self.env.rabbit.queue_messages(self.vhost),
            poison=self.poison,
            verify=verify,
            verify_ok=verify_ok,
            fault_end=self.fault_end,
            allowed_states=allowed_states,
        )


# One row per workflow: what it left in the database, for WorkflowFacts.
WORKFLOW_FACTS = """
SELECT w.request_id, w.id::text, w.state, extract(epoch FROM w.finished_at)::float8,
  (SELECT count(*) FROM schedule_versions v WHERE v.workflow_id = w.id),
  (SELECT count(*) FROM coverage_calculations c JOIN schedule_versions v ON v.id = c.version_id
    WHERE v.workflow_id = w.id),
  (SELECT count(*) FROM scrape_batches b WHERE b.workflow_id = w.id AND b.state IN ('COMPLETE', 'PARTIAL')),
  (SELECT p.state FROM workflow_phases p WHERE p.workflow_id = w.id AND p.phase = 'AMION_SCRAPE'),
  (SELECT p.state FROM workflow_phases p WHERE p.workflow_id = w.id AND p.phase = 'COVERAGE'),
  EXISTS (
    SELECT 1 FROM schedule_versions v
    JOIN LATERAL (SELECT c.scrape_batch_id, c.created_at FROM coverage_calculations c
                  WHERE c.version_id = v.id ORDER BY c.created_at DESC LIMIT 1) latest ON true
    JOIN assignments a ON a.version_id = v.id AND a.source = 'AMION'
    WHERE v.workflow_id = w.id
      AND (a.created_at > latest.created_at OR a.scrape_batch_id <> latest.scrape_batch_id))
FROM workflows w
"""


def workflow_facts(rows: list[tuple[Any, ...]], finals: Counter[str]) -> list[WorkflowFacts]:
    """`rows` of WORKFLOW_FACTS, with the final events received per workflow id (`finals`)."""
    return [
        WorkflowFacts(
            request_id=r[0],
            workflow_id=r[1],
            state=r[2],
            finished_at=r[3],
            versions=r[4],
            calculations=r[5],
            applied_batches=r[6],
            amion_phase=r[7],
            coverage_phase=r[8],
            stale_assignments=r[9],
            final_events=finals.get(r[1], 0),
        )
        for r in rows
    ]


def final_events(received: list[bus.Captured]) -> tuple[Counter[str], int]:
    """Final events per workflow id, by distinct message id; and how many were deliveries of one already
    counted (a relay that lost its database between the broker's confirm and deleting the row publishes it
    again with the same message id: a redelivery that subscribers skip, not a second event)."""
    distinct = {(str(json.loads(m.body).get("workflow_id")), m.message_id) for m in received}
    return Counter(workflow_id for workflow_id, _ in distinct), len(received) - len(distinct)


def violations(report: str) -> str:
    """How many violations `schedcu verify --json` reported, when its output says."""
    try:
        data = json.loads(report)
    except ValueError:
        return "?"
    found = data.get("violations") if isinstance(data, dict) else data
    return str(len(found)) if isinstance(found, list) else "?"


def new_requests(name: str, env: Environment) -> list[bus.Captured]:
    rng = random.Random(f"{env.seed}:{name}")
    template = sample_template()
    run_id = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    return [request_message(f"{name}-{run_id}-{i:03d}", rng, template) for i in range(env.workflows)]
