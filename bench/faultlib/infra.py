"""A private PostgreSQL cluster, a private RabbitMQ node and a private three-node RabbitMQ cluster for the fault
suite, bench/cluster_bench.py and the tests that kill a node, on ports of their own, so that stopping or killing
them never touches the servers that tests and other work use (5432, 5672). The private node has the broker accounts
of deploy/rabbitmq/definitions.json, with passwords of its own."""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from schedcu.runtime.infra import free_port
from schedcu.testing import broker_accounts

PG_VERSION = "15"


def _run(args: list[str], env: dict[str, str] | None = None, timeout_s: float = 60.0) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
    return done.stdout


@dataclass
class PrivatePostgres:
    """`pg_createcluster 15 NAME --port P` with trust authentication on localhost; `drop` removes it."""

    name: str
    port: int = field(default_factory=free_port)
    created: bool = False

    def create(self) -> None:
        # fsync off keeps the cluster quick; an immediate stop kills processes, not the OS page cache,
        # so nothing committed is lost by it
        _run(
            ["pg_createcluster", PG_VERSION, self.name, "--port", str(self.port),
             "-o", "fsync=off", "-o", "max_connections=300", "--", "--auth=trust"]
        )  # fmt: skip
        self.created = True
        self.start()

    def start(self) -> None:
        _run(["pg_ctlcluster", PG_VERSION, self.name, "start"])
        self.wait_ready()

    def stop_immediate(self) -> None:
        _run(["pg_ctlcluster", PG_VERSION, self.name, "stop", "-m", "immediate"])

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url("postgres", driver="postgresql"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def url(self, database: str, driver: str = "postgresql+psycopg", port: int | None = None) -> str:
        return f"{driver}://postgres@127.0.0.1:{port or self.port}/{database}"

    def create_database(self, database: str) -> None:
        with psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')

    def drop(self) -> None:
        if self.created:
            subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, self.name], capture_output=True, check=False)
            self.created = False


@dataclass
class PrivateRabbit:
    """A RabbitMQ node of its own (node name, ports, data and log directories in a temporary directory),
    started with `rabbitmq-server -detached` and stopped with `rabbitmqctl stop`."""

    name: str
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="schedcu-faults-rabbit-")))
    running: bool = False
    accounts: dict[str, broker_accounts.Account] = field(default_factory=dict)  # by user of the definitions

    @property
    def node(self) -> str:
        return f"{self.name}@localhost"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update(
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            # the system's files name the shared node and its port: this node reads empty ones of its own
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
        )
        return env

    def create(self) -> None:
        # the server runs as the rabbitmq user (the packaged script switches to it): it must write here
        self.base.chmod(0o777)
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n", encoding="utf-8")
        (self.base / "rabbitmq-env.conf").write_text("", encoding="utf-8")
        (self.base / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        for name in ("rabbitmq.conf", "rabbitmq-env.conf", "enabled_plugins"):
            (self.base / name).chmod(0o666)
        self.start()
        self.accounts = broker_accounts.add_users(self.ctl)

    def start(self, timeout_s: float = 90.0) -> None:
        _run(["rabbitmq-server", "-detached"], env=self.env())
        self.running = True
        # await_startup refuses at once while the node has not registered with epmd yet
        deadline = time.monotonic() + timeout_s
        while True:
            done = subprocess.run(
                ["rabbitmqctl", "-n", self.node, "await_startup", "--timeout", "30"],
                env=self.env(), capture_output=True, check=False, timeout=60,
            )  # fmt: skip
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} did not start; see {self.base / 'log'}")
            time.sleep(0.5)

    def ctl(self, *args: str, timeout_s: float = 60.0) -> str:
        return _run(["rabbitmqctl", "-q", "-n", self.node, *args], env=self.env(), timeout_s=timeout_s)

    def stop(self) -> None:
        self.ctl("stop")
        self.running = False

    def pid(self) -> int:
        return int((self.base / "mnesia" / f"{self.node}.pid").read_text(encoding="utf-8").strip())

    def kill(self) -> None:
        """kill -9 of the node's Erlang VM: no shutdown, as when its machine loses power."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.running = False

    def add_vhost(self, vhost: str) -> str:
        """A fresh vhost, where the accounts have the definitions' permissions and the administrator (guest, who
        declares the topology and the suite's own queues) may do anything; the administrator's AMQP URL."""
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        broker_accounts.grant(self.ctl, vhost, self.accounts.values())
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def urls(self, vhost: str) -> dict[str, str]:
        """The AMQP URL of `vhost` for each account, by its login."""
        admin = f"amqp://127.0.0.1:{self.port}/{vhost}"
        return {account.login: account.url(admin) for account in self.accounts.values()}

    def queue_messages(self, vhost: str) -> dict[str, int]:
        """Every queue's messages, ready and unacknowledged (a message being handled counts). For a quorum
        queue the figure comes from the queue's periodic metrics: it may be up to 5 s old."""
        out = self.ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "messages", timeout_s=30)
        counts = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
        return counts

    def remove(self) -> None:
        if self.running:
            try:
                self.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                self.kill()
        shutil.rmtree(self.base, ignore_errors=True)


NODES = 3
BOOT_TIMEOUT_S = 120.0


@dataclass
class Node:
    name: str
    port: int
    dist_port: int
    base: Path
    beam_pid: int | None = None

    def ctl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.name, "-q", *args], capture_output=True, text=True, timeout=90, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def answers(self) -> bool:
        return subprocess.run(["rabbitmqctl", "-n", self.name, "-q", "ping"], capture_output=True).returncode == 0

    @property
    def alive(self) -> bool:
        return self.beam_pid is not None and Path(f"/proc/{self.beam_pid}").exists()

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
        """`rabbitmqctl stop` (also of a node that booted without being seen to), SIGKILL when that fails."""
        if (self.beam_pid is None and not self.answers()) or (self.beam_pid is not None and not self.alive):
            return
        try:
            self.ctl("stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            if self.alive:
                self.kill()

    def kill(self) -> None:
        assert self.beam_pid is not None
        os.kill(self.beam_pid, signal.SIGKILL)


@contextmanager
def cluster(work: Path, tag: str) -> Iterator[list[Node]]:
    """Three running nodes joined into one cluster; stopped afterwards."""
    owner = pwd.getpwnam("rabbitmq") if os.geteuid() == 0 else None
    work.mkdir()
    nodes = [
        Node(f"schedcu-bench-{os.getpid()}-{tag}-{i}@localhost", free_port(), free_port(), work / f"node-{i}")
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
