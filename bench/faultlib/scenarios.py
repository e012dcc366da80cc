"""The faults, one scenario each: what is injected, when, and with which settings."""

import dataclasses
import json
import os
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import bus
from .accounting import Row
from .run import Environment, Run, Stream

COMPLETED = frozenset({"COMPLETED"})
WITH_WARNINGS = frozenset({"COMPLETED", "COMPLETED_WITH_WARNINGS"})
OUTAGE_S = 5.0  # how long the broker stays down
PAUSE_S = 30.0  # how long a worker stays stopped
SLOW_AMION_S = 12.0  # how long Amion answers slower than the phase deadline
DB_ERROR_WINDOW_S = 25.0  # how long connections are reset at the seeded rate
DB_ERROR_RATE = 0.02  # the chance that a packet a worker sends to PostgreSQL resets its connection


# Each fault sets `run.fault_end` when the suite starts undoing it: a new worker process, the server started
# again, SIGCONT, Amion's latency cleared, the proxy's rate back to 0.


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    inject: Callable[[Run, Stream], None]
    settings: dict[str, str] = field(default_factory=dict)
    interval_s: float = 0.5
    amion_latency_s: float = 0.0  # keeps the scraper busy so that it can be caught mid-phase
    allowed_states: frozenset[str] = COMPLETED
    use_proxy: bool = False
    tap: bool = False  # copies of commands and results kept in bus.TAP_QUEUE from the start
    extra: Callable[[Run, int, bus.Captured], list[bus.Captured]] = lambda run, i, request: [request]
    # a scenario that needs servers of its own (a RabbitMQ cluster) instead of the suite's node, and accounts itself
    own_servers: Callable[[Environment], Row] | None = None


def wait_published(stream: Stream, n: int) -> None:
    while stream.count < n and stream.thread is not None and stream.thread.is_alive():
        time.sleep(0.1)


def nothing(run: Run, stream: Stream) -> None:
    stream.join()


def kill_worker(worker: str) -> Callable[[Run, Stream], None]:
    def inject(run: Run, stream: Stream) -> None:
        wait_published(stream, 4)
        run.catch_mid_phase(worker)
        run.workers[worker].kill()
        run.fault_end = time.time()
        run.restart(worker)

    return inject


def sigterm_worker(worker: str) -> Callable[[Run, Stream], None]:
    def inject(run: Run, stream: Stream) -> None:
        wait_published(stream, 4)
        run.catch_mid_phase(worker)
        run.workers[worker].stop(timeout_s=30)
        run.fault_end = time.time()
        run.restart(worker)

    return inject


def pause_worker(worker: str) -> Callable[[Run, Stream], None]:
    def inject(run: Run, stream: Stream) -> None:
        wait_published(stream, 4)
        run.catch_mid_phase(worker)
        pid = run.pid(worker)
        os.kill(pid, signal.SIGSTOP)
        run.paused.add(pid)
        time.sleep(PAUSE_S)  # the fault's length
        os.kill(pid, signal.SIGCONT)
        run.paused.discard(pid)
        run.fault_end = time.time()

    return inject


def broker_outage(kill: bool) -> Callable[[Run, Stream], None]:
    def inject(run: Run, stream: Stream) -> None:
        wait_published(stream, 5)
        if kill:
            run.env.rabbit.kill()
        else:
            run.env.rabbit.stop()
        time.sleep(OUTAGE_S)  # the fault's length
        run.fault_end = time.time()
        run.env.rabbit.start()

    return inject


def database_outage(run: Run, stream: Stream) -> None:
    wait_published(stream, 3)
    run.env.pg.stop_immediate()
    time.sleep(run.env.pg_outage_s)  # the fault's length
    run.fault_end = time.time()
    run.env.pg.start()


def slow_amion(run: Run, stream: Stream) -> None:
    deadline_s = float(run.settings["AMION_TIMEOUT_MIN_S"])
    wait_published(stream, 3)
    run.set_amion_latency(deadline_s + 3)
    time.sleep(SLOW_AMION_S)  # the fault's length
    run.set_amion_latency(0)
    run.fault_end = time.time()


def database_errors(run: Run, stream: Stream) -> None:
    assert run.proxy is not None
    run.proxy.rate = DB_ERROR_RATE
    time.sleep(DB_ERROR_WINDOW_S)  # the fault's length
    run.proxy.rate = 0.0
    run.fault_end = time.time()
    run.notes.append(f"{run.proxy.resets} connections reset")


def duplicate_request(run: Run, i: int, request: bus.Captured) -> list[bus.Captured]:
    """The request twice with its message id (a redelivery), then once more with a new one (a resubmission)."""
    again = dataclasses.replace(request, message_id=f"{request.message_id}:again")
    return [request, request, again]


def deliver_again(run: Run, rng: random.Random) -> int:
    """Every other phase command and result seen so far delivered a second time, with its message id and sent by
    the account that sent it."""
    chosen = [m for m in bus.drain(run.amqp_url, bus.TAP_QUEUE) if rng.random() < 0.5]
    bus.publish(run.urls, chosen)
    return len(chosen)


def duplicates(run: Run, stream: Stream) -> None:
    rng = random.Random(f"{run.env.seed}:duplicates")
    wait_published(stream, run.env.workflows // 2)
    during = deliver_again(run, rng)
    stream.join()
    deadline = time.time() + 60
    while time.time() < deadline and run.query("SELECT count(*) FROM workflows WHERE finished_at IS NULL")[0][0]:
        time.sleep(0.5)
    after = deliver_again(run, rng)
    run.notes.append(f"{during} commands and results delivered again while workflows ran, {after} after they ended")


POISON: list[tuple[str, bytes]] = [
    ("import.requested", b"{not json"),
    ("import.requested", json.dumps({"schema_version": 1, "request_id": "no-template"}).encode()),
    ("import.requested", json.dumps({"schema_version": 2, "request_id": "future"}).encode()),
    ("command.coverage.calculate", json.dumps({"schema_version": 1, "version_id": "not-a-uuid"}).encode()),
    ("command.ods_importer.import_template", json.dumps({"schema_version": 1, "attempt": 0}).encode()),
    ("command.amion_scraper.scrape", b"[]"),
    ("event.amion.scraped", json.dumps({"schema_version": 1, "unexpected": True}).encode()),
    ("command.versions.unknown", json.dumps({"schema_version": 1}).encode()),
]


def with_poison(run: Run, i: int, request: bus.Captured) -> list[bus.Captured]:
    """Every other request is followed by a message that can never validate, sent by the operator (whose account
    may send any message, so that it reaches the worker's validation)."""
    if i % 2:
        return [request]
    routing_key, body = POISON[(i // 2) % len(POISON)]
    run.poison += 1
    return [request, bus.Captured(routing_key, body, f"poison-{i}", None, {}, bus.OPERATOR)]


NODE_KILL_AFTER = 5  # workflows finished when the node is killed
NODE_KILL_DEADLINE_S = 240.0


def node_kill(role: str) -> Callable[[Environment], Row]:
    """A three-node RabbitMQ cluster of the scenario's own (bench/cluster_bench.py), the suite's PostgreSQL: the
    node of `role` killed with SIGKILL once NODE_KILL_AFTER workflows finished."""

    def run(env: Environment) -> Row:
        from cluster_bench import Plan, run_victim  # bench/ is on the path of bench/faults.py

        plan = Plan(env.workflows, 1, NODE_KILL_AFTER, NODE_KILL_DEADLINE_S, env.pg.url("postgres"))
        work = Path(tempfile.mkdtemp(prefix=f"schedcu-faults-node-kill-{role}-"))
        work.chmod(0o755)  # the nodes run as the rabbitmq user
        try:
            row, lines = run_victim(role, plan, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        row.scenario = f"node-kill-{role}"
        row.notes.extend(line for line in lines if line.startswith(("killed", "outbox")))
        return row

    return run


SLOW_AMION_SETTINGS = {"AMION_TIMEOUT_MIN_S": "6"}

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("baseline", "no fault", nothing),
        Scenario("kill-ods-importer", "kill -9 of ods-importer mid-phase, restarted", kill_worker("ods-importer")),
        Scenario(
            "kill-amion-scraper",
            "kill -9 of amion-scraper mid-phase, restarted",
            kill_worker("amion-scraper"),
            amion_latency_s=1.0,
        ),
        Scenario("kill-coverage", "kill -9 of coverage mid-phase, restarted", kill_worker("coverage")),
        Scenario("kill-versions", "kill -9 of versions (the saga) mid-phase, restarted", kill_worker("versions")),
        Scenario(
            "sigterm-amion-scraper",
            "SIGTERM of amion-scraper mid-phase (graceful), restarted",
            sigterm_worker("amion-scraper"),
            amion_latency_s=1.0,
        ),
        Scenario(
            "rabbitmq-restart", f"rabbitmqctl stop, {OUTAGE_S:.0f} s, start", broker_outage(kill=False), interval_s=1.0
        ),
        Scenario(
            "rabbitmq-kill", f"kill -9 of the node, {OUTAGE_S:.0f} s, start", broker_outage(kill=True), interval_s=1.0
        ),
        Scenario(
            "postgres-restart", "stop -m immediate, the outage (--pg-outage), start", database_outage, interval_s=1.0
        ),
        Scenario(
            "sigstop-amion-scraper",
            f"SIGSTOP of amion-scraper mid-phase for {PAUSE_S:.0f} s (its phase deadline is 20 s), SIGCONT",
            pause_worker("amion-scraper"),
            settings={"AMION_TIMEOUT_MIN_S": "20"},
            amion_latency_s=1.0,
        ),
        Scenario(
            "duplicates",
            "requests twice, commands and results again, mid-run and after",
            duplicates,
            tap=True,
            extra=duplicate_request,
        ),
        Scenario("poison", "a message that cannot validate after every other request", nothing, extra=with_poison),
        Scenario(
            "slow-amion",
            f"Amion 3 s slower than the 6 s scrape deadline for {SLOW_AMION_S:.0f} s",
            slow_amion,
            settings=SLOW_AMION_SETTINGS,
            interval_s=1.0,
            allowed_states=WITH_WARNINGS,
        ),
        Scenario(
            "database-errors",
            f"{DB_ERROR_RATE:.0%} of packets to PostgreSQL reset their connection for {DB_ERROR_WINDOW_S:.0f} s",
            database_errors,
            use_proxy=True,
        ),
        *(
            Scenario(
                f"node-kill-{role}",
                f"three-node RabbitMQ cluster, kill -9 of the node {what} after {NODE_KILL_AFTER} workflows ended",
                nothing,
                own_servers=node_kill(role),
            )
            for role, what in (
                ("leaders", "leading most work queues"),
                ("connections", "holding most worker connections"),
                ("any-classic", "of a classic queue, or leading schedcu.unrouted"),
                ("final-publisher", "the versions worker connects to, leading the final events' queue"),
            )
        ),
    )
}

CI_SCENARIOS = (
    "kill-ods-importer",
    "kill-amion-scraper",
    "kill-coverage",
    "kill-versions",
    "postgres-restart",
    "rabbitmq-restart",
    "slow-amion",
)
