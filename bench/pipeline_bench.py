"""The pipeline (five worker processes over RabbitMQ) against the in-process floor (the dry run), on this machine.

    .venv/bin/python bench/pipeline_bench.py [--workflows N] [--replicas 1,2] [--rate R] [--broker private|shared]
        [--profile DIR]

Each workflow imports the real template for a month of its own (consecutive months from January 2026) and
scrapes the fake Amion, which answers at once, with politeness lifted (1,000 requests/s, 1,000 in flight).
Uses a database `schedcu_bench_<pid>` on the server of SCHEDCU_DATABASE_URL and a vhost of the same name on a
RabbitMQ node of the run's own (`--broker private`, the default: ports and directories of its own, so that its CPU
is this run's alone) or on the local broker (`--broker shared`), all removed on every exit path; the shared
servers are never stopped.

- Floor: `schedcu.operations.dry_run.dry_run` (the workers' own handlers, the saga's steps among them, in one process
  without the broker, one transaction rolled back), N times in a loop; CPU is this process's.
- Pipeline, for each replica count: the workers started and warmed by one workflow, then N requests published
  (all at once, or R per second with --rate). Latency is request published -> `workflows.finished_at`;
  throughput is N over first publish -> last finish. CPU is utime+stime from /proc of each worker process
  (and its children), also shown net of the workers' idle CPU over the quiet interval (polling, heartbeats);
  PostgreSQL's is that of the backends connected to the bench database (found by their process titles);
  RabbitMQ's that of the private node's Erlang VM (with `--broker shared`, of every local `beam.smp`, which other
  work on the machine shares), net of its idle CPU over the quiet interval. The
  machine's CPU per workflow (workers net of idle, PostgreSQL, RabbitMQ; for the floor, this process and
  PostgreSQL) bounds the throughput: at most CPUs / that many workflows per second.
  Messages published = N requests + outbox rows written (outbox id sequence delta; the relay deletes rows
  once confirmed); messages consumed = inbox rows written (one per message a consumer
  handled). Transactions = delta of `xact_commit + xact_rollback` and rows = delta of `tup_inserted/updated/
  deleted` in pg_stat_database for the bench database, from before the run until those statistics settled
  after it, minus this script's own queries and minus the workers' idle background (outbox polling,
  heartbeats) measured over a quiet interval beforehand.
- Per worker, from its /metrics, net of its idle background: transactions and statements on its engine
  (`schedcu_sql_*`), messages published (its relay's) and consumed (FastStream's counters). The relays' own
  transactions (on a connection of their own) are the rest of the database's count.
- Targets (one replica of each worker): machine CPU per workflow at most 1.3x the floor's, at most 12
  transactions per workflow. A missed target is printed with its figure and the exit status is 1.
- --profile DIR: py-spy (the `bench` extra) samples every worker process during the timed run and writes
  DIR/<replicas>-<worker>.txt, collapsed stacks of the threads on CPU (flamegraph.pl or speedscope read them).
  Not only those holding the GIL: sampling the GIL's holder put a third of the versions worker's samples in
  pydantic's validation, which timing the validation itself found to be under a millisecond per message.
"""

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from types import FrameType

import aio_pika
import httpx
import psycopg
import yaml
from faultlib.infra import PrivateRabbit
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from schedcu.operations.submit import import_request
from schedcu.runtime import processes
from schedcu.runtime.infra import ensure_database_exists
from schedcu.testing.demo_data import ROSTER, month_period, truth
from shared.db.migrate import upgrade
from shared.kernel import ids
from shared.kernel.contracts import ImportRequested, Period
from shared.kernel.states import TERMINAL
from shared.messaging.connection import connect, login

REAL_TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "templates" / "cuSchedNormalized.ods"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
AMION_ACCOUNT = "bench"
AMION_PASSWORD = "bench pass"
FIRST_MONTH = date(2026, 1, 1)
# A PostgreSQL 15 backend that goes idle within a second of its last flush of statistics keeps them for up to
# 10 s (PGSTAT_IDLE_INTERVAL), so counters are read once the rows written stopped changing for longer than that
# (the idle workers still commit transactions, but write no row)
STABLE_S = 11.0
SETTLE_TIMEOUT_S = 60.0
QUIET_S = 15.0  # one metrics interval (SCHEDCU_METRICS_INTERVAL_S), the longest period of the idle background
RUN_TIMEOUT_S = 240.0
TARGET_MACHINE_RATIO = 1.3  # the pipeline's machine CPU per workflow over the floor's, one replica of each worker
TARGET_XACTS = 12.0  # transactions per workflow, one replica of each worker
WORKER_FIGURES = {  # per worker, from its /metrics: figure -> (metric family, its sample name)
    "transactions": ("schedcu_sql_transactions", "schedcu_sql_transactions_total"),
    "statements": ("schedcu_sql_statements", "schedcu_sql_statements_total"),
    "published": ("faststream_published_messages", "faststream_published_messages_total"),
    "consumed": ("faststream_received_messages", "faststream_received_messages_total"),
}


def month(i: int) -> date:
    return date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + i) // 12, (FIRST_MONTH.month - 1 + i) % 12 + 1, 1)


def request(request_id: str, i: int) -> ImportRequested:
    start, end = month_period(month(i))
    return import_request(
        REAL_TEMPLATE, group="bench", period=Period(start=start, end=end), amion_account=AMION_ACCOUNT,
        requested_by="pipeline-bench", request_id=request_id,
    )  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def cpu_s(pid: int) -> float:
    """utime + stime of `pid` and its live descendants, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_s(int(child)) for child in children)


def processes_cpu_s(matches: Callable[[str, str], bool]) -> float:
    """utime + stime of the processes whose (name, command line) `matches`."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            name = (proc / "comm").read_text().strip()
            if matches(name, (proc / "cmdline").read_bytes().decode(errors="replace")):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def backends_cpu_s(database: str) -> float:
    """The PostgreSQL backends now connected to `database` (their process title names it)."""
    return processes_cpu_s(lambda _, cmdline: f" {database} " in cmdline)


def shared_broker_cpu_s() -> float:
    """The RabbitMQ nodes of this machine (the Erlang VM, `beam.smp`): the bench's vhost shares them with any
    other work on the machine."""
    return processes_cpu_s(lambda name, _: name == "beam.smp")


def worker_figures(worker: processes.Process) -> dict[str, float]:
    """The worker's WORKER_FIGURES, read from its /metrics."""
    text = httpx.get(worker.health_url.replace("/health", "/metrics"), timeout=10).text
    totals = dict.fromkeys(WORKER_FIGURES, 0.0)
    for family in text_string_to_metric_families(text):
        for figure, (name, sample) in WORKER_FIGURES.items():
            if family.name == name:
                totals[figure] += sum(s.value for s in family.samples if s.name == sample)
    return totals


def figures_of(workers: dict[str, processes.Process]) -> dict[str, dict[str, float]]:
    return {k: worker_figures(w) for k, w in workers.items()}


@contextmanager
def profiled(pids: dict[str, int], out: Path | None, replicas: int) -> Iterator[None]:
    """py-spy samples each process in `pids` while the body runs (nothing when `out` is None)."""
    if out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    spies = []
    for name, pid in pids.items():
        command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--subprocesses"]
        command += ["--output", str(out / f"{replicas}-{name}.txt")]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for spy in spies:
            spy.wait(timeout=30)


@dataclass
class Counters:
    xacts: int
    inserted: int
    updated: int
    deleted: int
    outbox: int
    inbox: int

    def __sub__(self, other: "Counters") -> "Counters":
        return Counters(*(a - b for a, b in zip(vars(self).values(), vars(other).values(), strict=True)))


class Database:
    """This script's own autocommit connection; it counts its transactions so they can be taken off."""

    def __init__(self, url: str, name: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.name = name
        self.own_xacts = 0

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        self.own_xacts += 1
        return self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def counters(self) -> Counters:
        stats = self.rows(
            "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = %s",
            self.name,
        )[0]
        outbox = self.rows("SELECT last_value FROM outbox_id_seq")[0][0]
        inbox = self.rows("SELECT count(*) FROM inbox")[0][0]
        return Counters(*(int(v) for v in (*stats, outbox, inbox)))  # type: ignore[call-overload]

    def settled(self) -> Counters:
        """The counters once the rows inserted and deleted, and the messages, stopped changing for STABLE_S."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        latest = self.counters()
        since = time.monotonic()
        while time.monotonic() - since < STABLE_S and time.monotonic() < deadline:
            time.sleep(0.5)
            current = self.counters()
            if (current - latest).inserted or (current - latest).deleted or current.outbox != latest.outbox:
                since = time.monotonic()
            latest = current
        return latest

    def finished(self, request_ids: list[str]) -> dict[str, tuple[str, float]]:
        rows = self.rows(
            "SELECT request_id, state, extract(epoch FROM finished_at)::float8 FROM workflows "
            "WHERE request_id = ANY(%s) AND state = ANY(%s) AND finished_at IS NOT NULL",
            request_ids,
            sorted(TERMINAL),
        )
        return {str(r[0]): (str(r[1]), float(r[2])) for r in rows}  # type: ignore[arg-type]


@contextmanager
def provisioned(
    name: str,
    amqp_root: str,
    rabbitmqctl: tuple[str, ...] = ("rabbitmqctl",),
    drop_vhost: bool = True,
    database_server: str | None = None,
) -> Iterator[tuple[str, str]]:
    """A fresh migrated database (on `database_server`, else SCHEDCU_DATABASE_URL's) and a vhost of this run's own
    on the broker at `amqp_root` (administered with `rabbitmqctl`); both dropped afterwards (the vhost unless
    `drop_vhost` is False: a broker of the run's own)."""
    server = make_url(database_server or os.environ.get("SCHEDCU_DATABASE_URL", DEFAULT_DATABASE_URL))
    database_url = server.set(database=name).render_as_string(False)
    admin_url = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    with ExitStack() as stack:

        def drop_database() -> None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        stack.callback(drop_database)
        ensure_database_exists(database_url)
        upgrade(database_url)
        ctl = [*rabbitmqctl, "-q"]
        if drop_vhost:
            stack.callback(subprocess.run, [*ctl, "delete_vhost", name], check=False, capture_output=True)
        subprocess.run([*ctl, "add_vhost", name], check=True, capture_output=True)
        subprocess.run([*ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True)  # fmt: skip
        yield database_url, f"{amqp_root.rstrip('/')}/{name}"


def start_fake_amion(months: int, env: dict[str, str], work: Path, stack: ExitStack) -> str:
    assignments = [a for i in range(months) for a in truth(month(i), AMION_PASSWORD)["assignments"]]
    truth_file = work / "truth.yaml"
    truth_file.write_text(yaml.safe_dump({"password": AMION_PASSWORD, "assignments": assignments}), encoding="utf-8")
    fake = processes.fake_amion(truth_file, env, work).start()
    stack.callback(fake.stop)
    fake.wait_healthy()
    return fake.health_url.replace("/truth", "/cgi-bin/ocs")


async def publish(amqp_url: str, requests: list[ImportRequested], rate: float | None, sent: dict[str, float]) -> None:
    """Publish persistent, confirmed requests on one connection (to the first host of `amqp_url` that answers), at
    `rate` per second or at once, signed (AMQP `user_id`) as the user `amqp_url` logs in as."""
    async with await connect(amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("schedcu.events")
        began = time.monotonic()
        for i, req in enumerate(requests):
            if rate is not None:
                await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
            sent[req.request_id] = time.time()
            message = aio_pika.Message(
                req.model_dump_json().encode(), content_type="application/json", type=type(req).__name__,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT, correlation_id=req.request_id,
                message_id=ids.import_requested_message_id(req.request_id), user_id=login(amqp_url),
            )  # fmt: skip
            await exchange.publish(message, routing_key=req.routing_key, mandatory=True)


def run_workflows(db: Database, amqp_url: str, requests: list[ImportRequested], rate: float | None) -> dict[str, float]:
    """Publish `requests` from a thread and wait until every workflow is terminal; returns the publish times."""
    sent: dict[str, float] = {}
    failure: list[BaseException] = []

    def publisher() -> None:
        try:
            asyncio.run(publish(amqp_url, requests, rate, sent))
        except BaseException as error:  # reported by the waiting thread
            failure.append(error)

    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    ids_ = [r.request_id for r in requests]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while len(db.finished(ids_)) < len(ids_):
        if failure:
            raise RuntimeError("publishing failed") from failure[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids_) - len(db.finished(ids_))} workflows not terminal in {RUN_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    thread.join()
    return sent


def floor(n: int) -> tuple[float, float, float, int]:
    """The dry run N times in this process: (wall seconds, CPU seconds, PostgreSQL CPU seconds, runs that produced
    coverage)."""
    from schedcu.operations.dry_run import dry_run
    from shared.settings import get_settings

    settings = get_settings()
    database = make_url(settings.database_url).database or ""
    requests = [request(f"floor-{i}", i) for i in range(n)]
    dry_run(request("floor-warm-up", 0))
    wall, cpu, postgres = time.perf_counter(), time.process_time(), backends_cpu_s(database)
    covered = sum(dry_run(r).coverage is not None for r in requests)
    return time.perf_counter() - wall, time.process_time() - cpu, backends_cpu_s(database) - postgres, covered


@dataclass(frozen=True)
class Result:
    throughput: float  # workflows/s
    worker_cpu: float  # seconds per workflow, the worker processes
    machine_cpu: float  # seconds per workflow: the workers net of idle, PostgreSQL, RabbitMQ
    xacts: float  # per workflow


def pipeline(
    replicas: int,
    n: int,
    rate: float | None,
    db: Database,
    env: dict[str, str],
    work: Path,
    profile: Path | None,
    broker_cpu_s: Callable[[], float],
) -> Result:
    """Runs and prints one replica count."""
    log_dir = work / f"logs-{replicas}"
    log_dir.mkdir()
    with ExitStack() as stack:
        workers = {
            f"{name}#{k}": processes.worker(name, env, log_dir).start()
            for name in processes.WORKER_NAMES
            for k in range(1, replicas + 1)
        }
        for w in workers.values():
            stack.callback(w.stop)
        for w in workers.values():
            w.wait_healthy(timeout_s=120)  # a loaded machine starts them slowly
        run_workflows(db, env["SCHEDCU_AMQP_URL"], [request(f"bench-{os.getpid()}-r{replicas}-warm-up", 0)], None)

        quiet_before, quiet_own, quiet_t = db.settled(), db.own_xacts, time.monotonic()
        quiet_cpu, quiet_broker = sum(cpu_s(w.popen.pid) for w in workers.values() if w.popen), broker_cpu_s()
        quiet_figures = figures_of(workers)
        time.sleep(QUIET_S)
        before, own_before, t_before = db.counters(), db.own_xacts, time.monotonic()
        figures_before = figures_of(workers)
        idle_xacts_per_s = ((before - quiet_before).xacts - (own_before - quiet_own)) / (t_before - quiet_t)
        cpu_before = {k: cpu_s(w.popen.pid) for k, w in workers.items() if w.popen}
        postgres_before, broker_before = backends_cpu_s(db.name), broker_cpu_s()
        idle_cpu_per_s = (sum(cpu_before.values()) - quiet_cpu) / (time.monotonic() - quiet_t)
        broker_idle_per_s = (broker_before - quiet_broker) / (time.monotonic() - quiet_t)
        cpu_t = time.monotonic()

        requests = [request(f"bench-{os.getpid()}-r{replicas}-{i:03d}", i) for i in range(n)]
        with profiled({k: w.popen.pid for k, w in workers.items() if w.popen}, profile, replicas):
            sent = run_workflows(db, env["SCHEDCU_AMQP_URL"], requests, rate)
        cpu = {k: cpu_s(w.popen.pid) - cpu_before[k] for k, w in workers.items() if w.popen}
        idle_cpu = idle_cpu_per_s * (time.monotonic() - cpu_t)
        postgres = backends_cpu_s(db.name) - postgres_before
        broker = broker_cpu_s() - broker_before - broker_idle_per_s * (time.monotonic() - cpu_t)
        done = db.finished([r.request_id for r in requests])

        delta, own, elapsed = db.settled() - before, db.own_xacts - own_before, time.monotonic() - t_before
        figures_after = figures_of(workers)

    per_worker = {
        k: {
            f: (figures_after[k][f] - figures_before[k][f])
            - (figures_before[k][f] - quiet_figures[k][f]) / (t_before - quiet_t) * elapsed
            for f in WORKER_FIGURES
        }
        for k in workers
    }
    latencies = [done[r][1] - sent[r] for r in sent]
    span = max(f for _, f in done.values()) - min(sent.values())
    states: dict[str, int] = {}
    for state, _ in done.values():
        states[state] = states.get(state, 0) + 1
    xacts = delta.xacts - own - idle_xacts_per_s * elapsed
    offered = "at once" if rate is None else f"{rate:g}/s"
    outcome = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    print(f"\npipeline, {replicas} replica(s) per worker, {n} workflows offered {offered}: {outcome}")
    print(f"  throughput        {n / span:6.2f} workflows/s ({span:.2f} s, first publish -> last finish)")
    print(f"  latency           p50 {percentile(latencies, 50):.2f} s, p99 {percentile(latencies, 99):.2f} s, "
          f"max {max(latencies):.2f} s (published -> workflows.finished_at)")  # fmt: skip
    print("  CPU per workflow  " + ", ".join(f"{k} {v / n * 1000:.0f} ms" for k, v in cpu.items()))
    net = (sum(cpu.values()) - idle_cpu) / n
    print(f"                    total {sum(cpu.values()) / n * 1000:.0f} ms (worker processes only), "
          f"{net * 1000:.0f} ms net of their idle {idle_cpu_per_s * 1000:.0f} ms/s")  # fmt: skip
    print(f"                    PostgreSQL {postgres / n * 1000:.0f} ms (the backends of the bench database), "
          f"RabbitMQ {broker / n * 1000:.0f} ms (net of its idle {broker_idle_per_s * 1000:.0f} ms/s)")  # fmt: skip
    machine = net + (postgres + broker) / n
    print(f"  machine CPU       {machine * 1000:.0f} ms per workflow (workers net, PostgreSQL, RabbitMQ): at most "
          f"{(os.cpu_count() or 1) / machine:.1f} workflows/s on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"  messages/workflow published {(n + delta.outbox) / n:.1f} (request + outbox rows), "
          f"consumed {delta.inbox / n:.1f} (inbox rows)")  # fmt: skip
    print(f"  SQL per workflow  {xacts / n:.1f} transactions (commit+rollback, net of idle {idle_xacts_per_s:.1f}/s "
          f"and this script's {own}), rows inserted {delta.inserted / n:.0f}, updated {delta.updated / n:.0f}, "
          f"deleted {delta.deleted / n:.0f}")  # fmt: skip
    print("  per worker and workflow, net of idle: " + ", ".join(WORKER_FIGURES))
    for k, figures in per_worker.items():
        print(
            f"    {k:<18} "
            + "  ".join(f"{figures[f] / n:5.1f}" for f in WORKER_FIGURES)
            + f"   CPU {cpu[k] / n * 1000:.0f} ms"
        )
    relays = xacts - sum(figures["transactions"] for figures in per_worker.values())
    print(f"    {'relays (the rest)':<18} {relays / n:5.1f}")
    return Result(n / span, sum(cpu.values()) / n, machine, xacts / n)


@contextmanager
def bench_environment(
    name: str,
    workflows: int,
    amqp_root: str,
    rabbitmqctl: tuple[str, ...] = ("rabbitmqctl",),
    drop_vhost: bool = True,
    database_server: str | None = None,
) -> Iterator[tuple[Database, dict[str, str], Path]]:
    """Everything a run needs but the workers: the database and vhost `name`, the roster, the fake Amion with the
    truth of `workflows` months, and the workers' environment (also put in this process's, for the floor)."""
    with ExitStack() as stack:
        database_url, amqp_url = stack.enter_context(
            provisioned(name, amqp_root, rabbitmqctl, drop_vhost, database_server)
        )
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pipeline-bench-")))
        env = {**os.environ, "SCHEDCU_DATABASE_URL": database_url, "SCHEDCU_AMQP_URL": amqp_url,
               "SCHEDCU_BENCH_AMION_PASSWORD": AMION_PASSWORD, "SCHEDCU_LOG_FORMAT": "json"}  # fmt: skip
        engine = create_engine(database_url)
        with Session(engine) as session, session.begin():
            from services.amion_scraper.roster import RosterEntry, reconcile

            reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])
        engine.dispose()
        ocs_url = start_fake_amion(workflows, env, work, stack)
        account = {"base_url": ocs_url, "password_env": "SCHEDCU_BENCH_AMION_PASSWORD",
                   "requests_per_s": 1000, "max_in_flight": 1000}  # fmt: skip
        env["SCHEDCU_AMION_ACCOUNTS"] = json.dumps({AMION_ACCOUNT: account})
        os.environ.update(env)
        db = Database(make_url(database_url).set(drivername="postgresql").render_as_string(False), name)
        stack.callback(db.conn.close)
        yield db, env, work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=30)
    parser.add_argument("--replicas", default="1,2", help="replica counts per worker, comma-separated")
    parser.add_argument("--rate", type=float, default=None, help="offered workflows/s (default: all at once)")
    parser.add_argument("--broker", choices=("private", "shared"), default="private",
                        help="a RabbitMQ node of the run's own (default), or the one of SCHEDCU_AMQP_URL")  # fmt: skip
    parser.add_argument("--profile", type=Path, default=None, help="write py-spy profiles of the workers here")
    args = parser.parse_args()
    replica_counts = [int(r) for r in args.replicas.split(",")]

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    with ExitStack() as stack:
        if args.broker == "private":
            rabbit = PrivateRabbit(f"schedcu-pipeline-bench-{os.getpid()}")
            stack.callback(rabbit.remove)
            rabbit.create()
            amqp_root, ctl = f"amqp://guest:guest@127.0.0.1:{rabbit.port}/", ("rabbitmqctl", "-n", rabbit.node)
            broker_cpu_s: Callable[[], float] = partial(cpu_s, rabbit.pid())
        else:
            amqp_root, ctl = os.environ.get("SCHEDCU_AMQP_URL", DEFAULT_AMQP_URL), ("rabbitmqctl",)
            broker_cpu_s = shared_broker_cpu_s
        environment = bench_environment(
            f"schedcu_bench_{os.getpid()}", args.workflows, amqp_root, ctl, drop_vhost=args.broker == "shared"
        )
        return run(args, replica_counts, stack.enter_context(environment), broker_cpu_s)


def run(
    args: argparse.Namespace,
    replica_counts: list[int],
    environment: tuple[Database, dict[str, str], Path],
    broker_cpu_s: Callable[[], float],
) -> int:
    """The floor and the pipeline for each replica count; 1 when a target is missed."""
    db, env, work = environment
    print(f"{args.workflows} workflows, one month each of {REAL_TEMPLATE.name}, fake Amion without latency, "
          f"politeness lifted; {os.cpu_count()} CPUs; RabbitMQ: {args.broker} node")  # fmt: skip
    wall, cpu, postgres, covered = floor(args.workflows)
    print(f"\nfloor (dry run in one process, {covered}/{args.workflows} with coverage)")
    print(f"  throughput        {args.workflows / wall:6.2f} workflows/s ({wall:.2f} s)")
    print(f"  CPU per workflow  {cpu / args.workflows * 1000:.0f} ms (this process), "
          f"PostgreSQL {postgres / args.workflows * 1000:.0f} ms")  # fmt: skip
    floor_machine = (cpu + postgres) / args.workflows
    print(f"  machine CPU       {floor_machine * 1000:.0f} ms per workflow (this process, PostgreSQL)")
    results = {
        r: pipeline(r, args.workflows, args.rate, db, env, work, args.profile, broker_cpu_s) for r in replica_counts
    }
    print("\npipeline / floor")
    for replicas, result in results.items():
        print(f"  {replicas} replica(s): throughput {result.throughput / (args.workflows / wall):.2f}x, "
              f"CPU per workflow {result.worker_cpu / (cpu / args.workflows):.2f}x, "
              f"machine CPU per workflow {result.machine_cpu / floor_machine:.2f}x")  # fmt: skip
    if 1 not in results:
        print("\ntargets: not checked (they are for one replica of each worker)")
        return 0
    missed = []
    ratio = results[1].machine_cpu / floor_machine
    if ratio > TARGET_MACHINE_RATIO:
        missed.append(f"machine CPU per workflow {ratio:.2f}x the floor's (target {TARGET_MACHINE_RATIO}x)")
    if results[1].xacts > TARGET_XACTS:
        missed.append(f"{results[1].xacts:.1f} transactions per workflow (target {TARGET_XACTS:g})")
    print("\ntargets (one replica): " + ("; ".join(f"MISSED {m}" for m in missed) if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
