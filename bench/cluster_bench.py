"""The pipeline on a three-node RabbitMQ cluster on this machine, one node killed mid-run, and an account of every
workflow that can fail.

    .venv/bin/python bench/cluster_bench.py [--victim leaders|connections|any-classic|final-publisher|each]
        [--kill-after K] [--workflows N] [--replicas R] [--deadline S]

For each victim role (`each`: the four in turn, each on a fresh cluster) it starts three RabbitMQ nodes of its
own (node names `schedcu-bench-<pid>-<role>-<i>@localhost`, ports, data and log directories of their own; the
shared node on 5672 is never touched), clusters them with `rabbitmqctl join_cluster`, and runs the workers of
bench/pipeline_bench.py (a database of the run's own, the fake Amion) against them. The workers list the three
nodes in SCHEDCU_AMQP_URL, each worker starting from another node (as VMs that list their local node first), and
each logs in as its own broker account of deploy/rabbitmq/definitions.json (created on the cluster with a
password of the run's own and the definitions' permissions), checking each message's sender and only checking
that the topology exists (SCHEDCU_DECLARE_TOPOLOGY=false). The administrator (guest) declares it first, and the
quorum queues' leaders spread over the nodes (`rabbitmq-queues rebalance quorum`); the requests come from the
upstream account. A downstream subscriber's queue (the administrator's) takes every final event.

The node of the role is chosen from the broker's own figures before the requests are published (leaders and
long-lived connections stay put until a node goes), and killed with SIGKILL once K workflows have finished
(`--kill-after`, default 5; 0: as soon as the requests are published):

- `leaders`: the node leading most work queues;
- `connections`: the node holding most client connections open for 2 s or more (short-lived ones, the
  metrics' and the command line's, are left out);
- `any-classic`: the node of a classic queue of the vhost; with none (every queue is a quorum queue), the node
  leading `schedcu.unrouted`, the queue that used to be classic;
- `final-publisher`: the node the versions worker (the one publisher of the final events) connects to first,
  which also leads the downstream subscriber's queue: the publisher loses its connection and the queue its
  leader at once, and the outbox relay publishes into the queue while its new leader is being elected.

The run waits until every workflow is terminal or the deadline (`--deadline`, default 240 s after publishing)
passes, then until the outbox and the work queues are empty (at most 30 s more), and counts, from the database
and from a surviving node: completed, lost (a request without a workflow, or an ended workflow without its final
event), duplicated (versions per workflow, scrape batches applied per workflow, calculations per version and
final events per workflow beyond one, by distinct message id), stuck (not terminal), dead letters, the outbox
left and the oldest outbox row seen after the kill (at most 10 s), queues the survivors could not report, and
`schedcu verify --all`. Deliveries beyond the inbox's (a message delivered again after the kill) are caught by the
consumers' inboxes and printed as the redeliveries they skipped; a duplicated effect is what fails a row. It
prints the matrix (one row per victim) and exits 1 when any figure is off; it never ends in a timeout. Every node
is stopped and its directories removed on every exit path.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from faultlib import bus
from faultlib.accounting import WORK_QUEUES, Facts, Row, account, matrix, not_run
from faultlib.infra import NODES, Node, cluster
from faultlib.run import WORKFLOW_FACTS, final_events, violations, workflow_facts
from pipeline_bench import DEFAULT_AMQP_URL, Database, bench_environment, publish, request
from prometheus_client.parser import text_string_to_metric_families

from schedcu.runtime import processes
from schedcu.runtime.registries import all_queues
from schedcu.testing import broker_accounts
from shared.messaging import topology
from shared.messaging.topology import UNROUTED_QUEUE
from shared.settings import get_settings

ROLES = ("leaders", "connections", "any-classic", "final-publisher")
FINAL_PUBLISHER = "versions#1"
LONG_LIVED_S = 2.0
QUIET_S = 30.0  # after every workflow ended: how long the outbox and the work queues may take to empty
OUTBOX_AGE_LIMIT_S = 10.0
BROKER_ERRORS = (RuntimeError, subprocess.TimeoutExpired)  # rabbitmqctl refused, or did not answer in time
COMPLETED = frozenset({"COMPLETED"})


def amqp_url(nodes: list[Node], first: int = 0) -> str:
    """Every node in SCHEDCU_AMQP_URL, from node `first` on."""
    order = nodes[first:] + nodes[:first]
    return DEFAULT_AMQP_URL.replace("127.0.0.1:5672", ",".join(f"127.0.0.1:{n.port}" for n in order))


def short(node: Node) -> str:
    return f"n{node.name.rsplit('-', 1)[1].split('@')[0]}"


def leaders(listed: list[dict[str, Any]], nodes: list[Node], only: tuple[str, ...] | None = None) -> str:
    shown = {n.name: short(n) for n in nodes}
    return ", ".join(
        f"{q['name'].removeprefix('schedcu.')} {shown.get(q.get('leader') or '', '?')}"
        for q in listed
        if only is None or q["name"] in only
    )


def queues(node: Node, vhost: str) -> list[dict[str, Any]]:
    """Every queue of the vhost as `node` reports it; a queue it cannot read has no integer `messages`."""
    out = node.ctl("list_queues", "-p", vhost, "name", "type", "leader", "messages", "--formatter", "json")
    return list(json.loads(out or "[]"))


def local_queues(node: Node, vhost: str) -> set[str]:
    return {
        q["name"] for q in json.loads(node.ctl("list_queues", "-p", vhost, "--local", "name", "--formatter", "json"))
    }


def long_lived_connections(nodes: list[Node], survivor: Node, expected: int) -> Counter[str]:
    """Client connections per node open for LONG_LIVED_S or more, once there are `expected` of them (one per
    worker process; polled, at most 60 s)."""
    by_port = {n.port: n.name for n in nodes}
    deadline = time.monotonic() + 60
    while True:
        listed = json.loads(survivor.ctl("list_connections", "port", "connected_at", "--formatter", "json") or "[]")
        old = (time.time() - LONG_LIVED_S) * 1000
        held = Counter(by_port[c["port"]] for c in listed if c["port"] in by_port and c["connected_at"] <= old)
        if sum(held.values()) >= expected or time.monotonic() > deadline:
            return held
        time.sleep(0.5)


def choose(role: str, nodes: list[Node], vhost: str, workers: int) -> tuple[Node, str]:
    """The node to kill for `role` (with `workers` processes connected), and why it was chosen."""
    by_name = {n.name: n for n in nodes}
    listed = queues(nodes[0], vhost)
    if role == "leaders":
        leading = Counter(q["leader"] for q in listed if q["name"] in WORK_QUEUES and q.get("leader") in by_name)
        name, count = leading.most_common(1)[0]
        return by_name[name], f"leads {count} of {len(WORK_QUEUES)} work queues"
    if role == "connections":
        held = long_lived_connections(nodes, nodes[0], workers)
        name, count = held.most_common(1)[0]
        return by_name[name], f"holds {count} of {sum(held.values())} long-lived connections"
    classic = sorted(q["name"] for q in listed if q["type"] == "classic")
    if classic:
        (home,) = [n for n in nodes if classic[0] in local_queues(n, vhost)]
        return home, f"holds the classic queue {classic[0]}"
    (unrouted,) = [q for q in listed if q["name"] == UNROUTED_QUEUE.name]
    return by_name[unrouted["leader"]], f"no classic queue; leads {UNROUTED_QUEUE.name} (classic before)"


@dataclass
class Kill:
    role: str
    after: int
    node: Node | None = None
    why: str = ""
    at: float | None = None  # epoch seconds
    finished_then: int = 0
    error: str | None = None


@dataclass
class Watch:
    """What the run saw while it waited: the oldest outbox row after the kill."""

    oldest_outbox_s: float = 0.0
    samples: int = 0
    notes: list[str] = field(default_factory=list)


def kill_when_due(kill: Kill, db_url: str, name: str, ids: list[str], stop: threading.Event) -> None:
    assert kill.node is not None
    watch = Database(db_url, name)
    try:
        while not stop.is_set() and len(watch.finished(ids)) < kill.after:
            time.sleep(0.05)
        if stop.is_set():
            return
        kill.node.kill()
        kill.at = time.time()
        kill.finished_then = len(watch.finished(ids))
    except Exception as error:  # reported in the row: the run goes on and is counted
        kill.error = f"{type(error).__name__}: {error}"
    finally:
        watch.conn.close()


def oldest_outbox_s(db: Database) -> float:
    value = db.rows("SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM outbox")[0][0]
    return float(value)  # type: ignore[arg-type]


def wait_for_the_end(db: Database, ids: list[str], kill: Kill, deadline: float, watch: Watch) -> None:
    """Until every workflow is terminal, or the deadline; sampling the outbox's oldest row once the node died."""
    while time.monotonic() < deadline:
        if kill.at is not None:
            watch.oldest_outbox_s = max(watch.oldest_outbox_s, oldest_outbox_s(db))
            watch.samples += 1
        if len(db.finished(ids)) == len(ids) and (kill.at is not None or kill.error is not None):
            return
        time.sleep(0.25)


def broker_figures(survivor: Node, vhost: str) -> tuple[dict[str, int], list[str]]:
    """Messages per queue (ready and unacknowledged), and the queues the survivor could not report."""
    counts, unavailable = {}, []
    for q in queues(survivor, vhost):
        if isinstance(q.get("messages"), int):
            counts[q["name"]] = q["messages"]
        else:
            unavailable.append(q["name"])
    return counts, unavailable


def settle(db: Database, survivor: Node, vhost: str) -> None:
    """Until the outbox and the work queues are empty, at most QUIET_S."""
    deadline = time.monotonic() + QUIET_S
    while time.monotonic() < deadline:
        counts, _ = broker_figures(survivor, vhost)
        if not db.rows("SELECT count(*) FROM outbox")[0][0] and not any(counts.get(q) for q in WORK_QUEUES):
            return
        time.sleep(0.5)


def counted(workers: dict[str, processes.Process], name: str) -> int:
    """The workers' counter `name`, summed: for `schedcu_inbox_duplicates`, deliveries the inboxes skipped (a
    message handled before, delivered again); for `schedcu_outbox_nacked`, rows the broker nacked."""
    total = 0.0
    for worker in workers.values():
        try:
            text = httpx.get(worker.health_url.replace("/health", "/metrics"), timeout=5).text
        except httpx.HTTPError:
            continue
        for family in text_string_to_metric_families(text):
            if family.name == name:
                total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return int(total)


def verify(env: dict[str, str]) -> tuple[str, bool]:
    done = subprocess.run(processes.schedcu_command("verify", "--all", "--json"), env=env, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip
    if done.returncode == 0:
        return "clean", True
    return (f"{violations(done.stdout)} violations" if done.returncode == 1 else f"error {done.returncode}"), False


@dataclass(frozen=True)
class Plan:
    workflows: int
    replicas: int
    kill_after: int
    deadline: float
    database_server: str | None = None  # SCHEDCU_DATABASE_URL's server when None


def run_victim(role: str, args: Plan, work: Path) -> tuple[Row, list[str]]:
    """One fresh cluster, one node of `role` killed: the row of the matrix and the lines that explain it."""
    name = f"schedcu_cluster_{os.getpid()}_{role.replace('-', '_')}"
    kill = Kill(role, args.kill_after)
    watch = Watch()
    lines: list[str] = []
    with ExitStack() as stack:
        started = time.monotonic()
        nodes = stack.enter_context(cluster(work / role, role))
        lines.append(f"cluster of {NODES} nodes up in {time.monotonic() - started:.0f} s: "
                     + ", ".join(f"{short(n)} {n.name} :{n.port}" for n in nodes))  # fmt: skip
        ctl = ("rabbitmqctl", "-n", nodes[0].name)
        # the vhost goes with the nodes (deleting it first would wait on the queues' replicas on the killed node)
        db, env, _ = stack.enter_context(
            bench_environment(name, args.workflows, amqp_url(nodes), ctl, False, args.database_server)
        )
        # the topology declared by the administrator (guest), as the definitions declare it in deploy/, and the
        # leaders spread over the nodes before the workers connect (moving a leader drops the connections of its
        # consumers); the workers only check that it exists
        asyncio.run(topology.declare(env["SCHEDCU_AMQP_URL"], get_settings().delivery_limit, all_queues()))
        accounts = broker_accounts.add_users(nodes[0].ctl)
        broker_accounts.grant(nodes[0].ctl, name, accounts.values())
        env = {**env, "SCHEDCU_BROKER_ACCOUNTS": broker_accounts.names(), "SCHEDCU_DECLARE_TOPOLOGY": "false"}
        subprocess.run(["rabbitmq-queues", "-n", nodes[0].name, "-q", "rebalance", "quorum", "--vhost-pattern", name],
                       capture_output=True, timeout=120, check=True)  # fmt: skip
        log_dir = work / f"logs-{role}"
        log_dir.mkdir()
        workers, first_node = {}, {}
        for i, (worker, k) in enumerate((w, k) for w in processes.WORKER_NAMES for k in range(1, args.replicas + 1)):
            login = accounts[broker_accounts.names().format(name=worker)]
            own = {**env, "SCHEDCU_AMQP_URL": login.url(f"{amqp_url(nodes, i % NODES)}{name}")}
            workers[f"{worker}#{k}"] = processes.worker(worker, own, log_dir).start()
            first_node[f"{worker}#{k}"] = nodes[i % NODES]
        for w in workers.values():
            stack.callback(w.stop)
        for w in workers.values():
            w.wait_healthy(timeout_s=120)
        node_url = {n.name: f"amqp://guest:guest@127.0.0.1:{n.port}/{name}" for n in nodes}
        # declared through the final events' publisher's first node, which leads it (client-local leaders)
        publisher_node = first_node[FINAL_PUBLISHER]
        bus.declare_subscriber_queue(node_url[publisher_node.name], bus.FINAL_QUEUE, ("event.workflow.*",))
        lines.append("queue leaders: " + leaders(queues(nodes[0], name), nodes))

        # leaders and long-lived connections stay where they are until a node goes: chosen now, the kill itself
        # waits for nothing but the kill point
        if role == "final-publisher":
            kill.node, kill.why = publisher_node, f"{FINAL_PUBLISHER}'s first node, leading {bus.FINAL_QUEUE}"
        else:
            kill.node, kill.why = choose(role, nodes, name, len(workers))
        requests = [request(f"cluster-{os.getpid()}-{role}-{i:03d}", i) for i in range(args.workflows)]
        ids = [r.request_id for r in requests]
        sent: dict[str, float] = {}
        asyncio.run(publish(accounts["schedcu-upstream"].url(env["SCHEDCU_AMQP_URL"]), requests, None, sent))
        stop_killer = threading.Event()
        stack.callback(stop_killer.set)
        killer = threading.Thread(
            target=kill_when_due, args=(kill, db.conn.info.dsn, name, ids, stop_killer), daemon=True
        )
        killer.start()
        wait_for_the_end(db, ids, kill, time.monotonic() + args.deadline, watch)
        stop_killer.set()
        killer.join(timeout=30)
        survivor = next(n for n in nodes if n.alive)
        try:
            settle(db, survivor, name)
        except BROKER_ERRORS as error:  # what is left is counted below
            lines.append(f"the survivor could not report its queues while waiting for them to empty: {error}")

        finals, again = final_events(bus.drain(node_url[survivor.name], bus.FINAL_QUEUE))
        workflows = workflow_facts(db.rows(WORKFLOW_FACTS), finals)  # type: ignore[arg-type]
        outbox = int(db.rows("SELECT count(*) FROM outbox")[0][0])  # type: ignore[call-overload]
        try:
            counts, unavailable = broker_figures(survivor, name)
        except BROKER_ERRORS as error:
            counts, unavailable = {}, [f"all ({error})"]
        checked, verify_ok = verify(env)
        skipped = counted(workers, "schedcu_inbox_duplicates")
        nacked = counted(workers, "schedcu_outbox_nacked")
        facts = Facts(
            published=sent, workflows=workflows, outbox_rows=outbox, queue_messages=counts, poison=0,
            verify=checked, verify_ok=verify_ok, fault_end=kill.at, allowed_states=COMPLETED,
        )  # fmt: skip
        victim = short(kill.node) if kill.node else "none"
        row = account(f"{role} ({victim})", facts)
        if again:
            row.notes.append(f"{again} final events delivered again with their message id")
        if kill.at is None:
            row.passed = False
            row.notes.append(f"no node killed: {kill.error or 'the kill point was never reached'}")
        if watch.oldest_outbox_s > OUTBOX_AGE_LIMIT_S:
            row.passed = False
            row.notes.append(f"an outbox row waited {watch.oldest_outbox_s:.1f} s after the kill")
        if unavailable:
            row.passed = False
            row.notes.append(f"queues the survivors could not report: {', '.join(unavailable)}")
        if kill.node is not None:
            lines.append(f"killed {short(kill.node)} {kill.node.name} ({kill.why}) after {kill.finished_then} "
                         f"workflows finished")  # fmt: skip
        lines.append(f"outbox: oldest row after the kill {watch.oldest_outbox_s:.1f} s (limit {OUTBOX_AGE_LIMIT_S:.0f} "
                     f"s, {watch.samples} samples), {outbox} rows left; queues unavailable: {len(unavailable)}; "
                     f"redeliveries the inboxes skipped: {skipped}; rows nacked, sent again: {nacked}")  # fmt: skip
        try:
            afterwards = leaders(queues(survivor, name), nodes, WORK_QUEUES)
        except BROKER_ERRORS as error:
            afterwards = f"unknown ({error})"
        lines.append(f"work queue leaders afterwards: {afterwards}")
    return row, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victim", choices=(*ROLES, "each"), default="each")
    parser.add_argument("--workflows", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=1, help="replicas per worker")
    parser.add_argument("--kill-after", type=int, default=5, help="kill a node once this many workflows finished")
    parser.add_argument("--deadline", type=float, default=240.0, help="seconds after publishing to wait for the end")
    args = parser.parse_args()
    if shutil.which("rabbitmq-server") is None:
        print("cluster_bench: rabbitmq-server is not installed", file=sys.stderr)
        return 3

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    roles = ROLES if args.victim == "each" else (args.victim,)
    plan = Plan(args.workflows, args.replicas, args.kill_after, args.deadline)
    rows, explained = [], []
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the nodes run as the rabbitmq user
        for role in roles:
            print(f"--- victim {role}", flush=True)
            try:
                row, lines = run_victim(role, plan, work)
            except Exception as error:  # one broken run is a failed row; the others still run
                row, lines = not_run(role, f"could not run: {type(error).__name__}: {error}"), []
            for line in lines:
                print(f"  {line}", flush=True)
            rows.append(row)
            explained += [f"{row.scenario}: {line}" for line in lines if line.startswith(("killed", "outbox"))]
    version = subprocess.run(["rabbitmqctl", "version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"\n{args.workflows} workflows per victim, {args.replicas} replica(s) per worker, node killed after "
          f"{args.kill_after} finished; RabbitMQ {version}\n")  # fmt: skip
    print(matrix(rows))
    for line in explained:
        print(line)
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
