"""The pipeline on a three-node RabbitMQ cluster on this machine, with one node killed mid-run: nothing is lost.

    .venv/bin/python bench/cluster_bench.py [--workflows N] [--replicas R] [--kill-after K]

Starts three RabbitMQ nodes of this run's own (node names `schedcu-bench-<pid>-<i>@localhost`, ports, data and log
directories of their own; the shared node on 5672 is never touched), clusters them with `rabbitmqctl
join_cluster`, and runs the workers of bench/pipeline_bench.py (a database of this run's own, the fake Amion)
against the cluster. The workers and the publisher reach the cluster through one address, as they would
through a Kubernetes Service or compose's DNS alias: a small TCP forwarder in this process that connects each
new connection to the next node that accepts it. Once K workflows (default 5) have finished, the node holding
the most worker connections is killed with SIGKILL; the run then waits until every workflow is terminal and
counts them from the database, and checks that the outbox drained and no dead-letter queue holds anything.
Every node is stopped and its directories removed on every exit path.
"""

import argparse
import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pipeline_bench import DEFAULT_AMQP_URL, Database, bench_environment, cpu_s, percentile, request, run_workflows

from schedcu import processes
from schedcu.infra import free_port
from schedcu.registries import WORKERS, registry

NODES = 3
BOOT_TIMEOUT_S = 120.0
OUTBOX_DRAIN_S = 30.0


@dataclass
class Node:
    name: str
    port: int
    dist_port: int
    base: Path
    beam_pid: int | None = None

    def ctl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["rabbitmqctl", "-n", self.name, "-q", *args], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def answers(self) -> bool:
        return subprocess.run(["rabbitmqctl", "-n", self.name, "-q", "ping"], capture_output=True).returncode == 0

    def start(self) -> None:
        """Start the node (as the rabbitmq user the package's scripts switch to) and wait until it runs."""
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n", encoding="utf-8")
        (self.base / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        (self.base / "rabbitmq-env.conf").write_text("", encoding="utf-8")  # not the shared node's
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }
        with (self.base / "server.out").open("ab") as out:
            subprocess.Popen(["rabbitmq-server"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while not self.answers() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.ctl("await_startup", "-t", str(int(BOOT_TIMEOUT_S)))
        self.beam_pid = int(self.ctl("eval", "list_to_integer(os:getpid()).").strip())

    def stop(self) -> None:
        if self.beam_pid is not None and Path(f"/proc/{self.beam_pid}").exists():
            self.ctl("stop", check=False)

    def kill(self) -> None:
        assert self.beam_pid is not None
        os.kill(self.beam_pid, signal.SIGKILL)


@contextmanager
def cluster(work: Path) -> Iterator[list[Node]]:
    """Three running nodes joined into one cluster; stopped afterwards."""
    owner = pwd.getpwnam("rabbitmq") if os.geteuid() == 0 else None
    nodes = [
        Node(f"schedcu-bench-{os.getpid()}-{i}@localhost", free_port(), free_port(), work / f"node-{i}")
        for i in range(1, NODES + 1)
    ]
    with ExitStack() as stack:
        for node in nodes:
            node.base.mkdir()
            if owner is not None:
                os.chown(node.base, owner.pw_uid, owner.pw_gid)
            stack.callback(node.stop)
        for node in nodes:
            node.start()
        for node in nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", nodes[0].name)
            node.ctl("start_app")
            node.ctl("await_startup", "-t", str(int(BOOT_TIMEOUT_S)))
        running = nodes[0].ctl("eval", "length(rabbit_nodes:all_running()).").strip()
        if running != str(NODES):
            raise RuntimeError(f"the cluster runs {running} nodes, not {NODES}")
        yield nodes


class Forwarder:
    """One address for the cluster: each accepted connection is piped to the next node (round robin) that
    accepts a connection; when that node dies the connection drops and the client's reconnection lands on
    another node. What a Kubernetes Service or a DNS name with the nodes' addresses does for the workers."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.port = free_port()
        self.connections: Counter[str] = Counter()  # node name -> open client connections
        self._next = 0
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(self.nodes)):
            node = self.nodes[self._next % len(self.nodes)]
            self._next += 1
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", node.port)
            except OSError:
                continue
            self.connections[node.name] += 1
            try:
                await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
            finally:
                self.connections[node.name] -= 1
            return
        writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


def queue_members(node: Node, vhost: str) -> dict[str, str]:
    """Queue name -> how many members (replicas) it has, from `list_queues`."""
    out = node.ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "type", "members")
    found = {}
    for line in out.splitlines():
        name, kind, members = line.split("\t", 2)
        found[name] = str(members.count("@")) if kind == "quorum" else kind
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=1, help="replicas per worker")
    parser.add_argument("--kill-after", type=int, default=5, help="kill a node once this many workflows finished")
    args = parser.parse_args()
    if shutil.which("rabbitmq-server") is None:
        print("cluster_bench: rabbitmq-server is not installed", file=sys.stderr)
        return 3

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    name = f"schedcu_cluster_{os.getpid()}"
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cluster-bench-")))
        os.chmod(work, 0o755)  # the nodes run as the rabbitmq user
        started = time.monotonic()
        nodes = stack.enter_context(cluster(work))
        print(f"cluster of {NODES} nodes up in {time.monotonic() - started:.1f} s: {', '.join(n.name for n in nodes)}")
        forwarder = Forwarder(nodes)
        stack.callback(forwarder.close)
        amqp_root = DEFAULT_AMQP_URL.replace(":5672/", f":{forwarder.port}/")
        ctl = ("rabbitmqctl", "-n", nodes[0].name)
        # the vhost goes with the nodes (deleting it first would wait on the queues' replicas on the killed node)
        db, env, _ = stack.enter_context(bench_environment(name, args.workflows, amqp_root, ctl, drop_vhost=False))
        log_dir = work / "logs"
        log_dir.mkdir()
        workers = {
            f"{worker}#{k}": processes.worker(worker, env, log_dir).start()
            for worker in processes.WORKER_NAMES
            for k in range(1, args.replicas + 1)
        }
        for w in workers.values():
            stack.callback(w.stop)
        for w in workers.values():
            w.wait_healthy(timeout_s=120)
        members = queue_members(nodes[0], name)
        work_queues = [registry(w).queue.name for w in WORKERS]
        print("quorum queues and their replicas: " + ", ".join(f"{q} {members[q]}" for q in work_queues))
        print(f"worker connections per node: {dict(forwarder.connections)}")

        requests = [request(f"cluster-{os.getpid()}-{i:03d}", i) for i in range(args.workflows)]
        ids = [r.request_id for r in requests]
        killed: list[str] = []

        def kill_when_due() -> None:
            while len(db_watch.finished(ids)) < args.kill_after:
                time.sleep(0.1)
            victim = max(nodes, key=lambda n: forwarder.connections[n.name])
            print(f"killing {victim.name} (beam pid {victim.beam_pid}, {forwarder.connections[victim.name]} "
                  f"connections) after {len(db_watch.finished(ids))} workflows finished")  # fmt: skip
            victim.kill()
            killed.append(victim.name)

        db_watch = Database(db.conn.info.dsn, name)
        stack.callback(db_watch.conn.close)
        killer = threading.Thread(target=kill_when_due, daemon=True)
        killer.start()
        cpu_before = {k: cpu_s(w.popen.pid) for k, w in workers.items() if w.popen}
        sent = run_workflows(db, env["SCHEDCU_AMQP_URL"], requests, None)
        killer.join(timeout=5)
        cpu = sum(cpu_s(w.popen.pid) - cpu_before[k] for k, w in workers.items() if w.popen)
        done = db.finished(ids)
        span = max(f for _, f in done.values()) - min(sent.values())
        latencies = [done[r][1] - sent[r] for r in sent]
        states = Counter(state for state, _ in done.values())
        in_db = dict(db.rows("SELECT state, count(*) FROM workflows WHERE request_id = ANY(%s) GROUP BY state", ids))
        deadline = time.monotonic() + OUTBOX_DRAIN_S  # the final events commit with the workflow, then go out
        while (outbox := db.rows("SELECT count(*) FROM outbox")[0][0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivor = next(n for n in nodes if n.name not in killed)
        dead_letters = {q: c for q, c in queue_depths(survivor, name).items() if q.endswith(".dead-letter")}

        print(f"\n{args.workflows} workflows, {args.replicas} replica(s) per worker, node killed: {', '.join(killed)}")
        print(f"  terminal          {len(done)} of {args.workflows}: "
              + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))  # fmt: skip
        print(f"  in the database   {dict(sorted(in_db.items()))}, outbox rows left unpublished {outbox}")
        print(f"  dead letters      {sum(dead_letters.values())} ({dead_letters})")
        print(f"  lost              {args.workflows - len(done)}")
        print(f"  throughput        {args.workflows / span:.2f} workflows/s ({span:.2f} s, node kill included)")
        print(f"  latency           p50 {percentile(latencies, 50):.2f} s, p99 {percentile(latencies, 99):.2f} s")
        print(f"  CPU per workflow  {cpu / args.workflows * 1000:.0f} ms (worker processes)")
        print(f"  worker connections per node afterwards: {dict(forwarder.connections)}")
        members = queue_members(survivor, name)
        print("  quorum queues and their replicas: " + ", ".join(f"{q} {members[q]}" for q in work_queues))
        lost = args.workflows - len(done) + sum(dead_letters.values()) + outbox
    return 1 if lost or not killed else 0


def queue_depths(node: Node, vhost: str) -> dict[str, int]:
    out = node.ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "messages")
    return {name: int(count) for name, count in (line.split("\t") for line in out.splitlines())}


if __name__ == "__main__":
    sys.exit(main())
