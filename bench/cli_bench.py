"""The CLI's start-up: how long a command takes from `exec` to exit, each run a new process.

    .venv/bin/python bench/cli_bench.py [--runs 10] [--database NAME]

Uses a fresh database (`schedcu_bench_cli` unless `--database`) on the server of SCHEDCU_DATABASE_URL (dropped,
created and migrated: the read commands read an empty schema) and the RabbitMQ of SCHEDCU_AMQP_URL (`status`
declares its queues passively). Printed: min, median and max wall time of `--runs` runs of each command, and the
CPU time (user + system) of the median run; `status` also with a heartbeat of each of the five workers, whose
/health a local server answers. Targets, on the median: `--help` and an argument error 0.25 s, the read commands
0.6 s; exits 1 when one is missed. The machine's load changes the wall times: it is printed.
"""

import argparse
import http.server
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from benchlib import fresh_database

HELP_S = 0.25
READ_S = 0.6
COMMANDS: list[tuple[str, list[str], float, set[int]]] = [
    ("--help", ["--help"], HELP_S, {0}),
    ("argument error", ["versions", "show", "not-an-id"], HELP_S, {2}),
    ("versions list", ["versions", "list"], READ_S, {0}),
    ("workflows show", ["workflows", "show", str(uuid.uuid4())], READ_S, {1}),
    ("status", ["status"], READ_S, {0, 1}),  # 1: unhealthy (no worker runs here), answered all the same
]
# `status` again with a heartbeat of each worker, each asked for its /health (a local server answers for all)
WORKERS_STATUS = ("status, 5 workers", ["status"], READ_S, {0, 1})


def timed(args: list[str], env: dict[str, str], statuses: set[int]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `schedcu ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "schedcu", *args], env=env, capture_output=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in statuses:
        raise SystemExit(f"schedcu {' '.join(args)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"instance": "elsewhere"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def heartbeats(database_url: str) -> Iterator[None]:
    """A heartbeat of each worker whose /health a local server answers; removed afterwards."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for service in ("ods_importer", "amion_scraper", "coverage", "versions", "drafting"):
                conn.execute(
                    "INSERT INTO worker_heartbeats VALUES (%s, %s, %s, now(), now() + interval '1 day')",
                    (f"bench:{service}", service, url),
                )
        yield
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DELETE FROM worker_heartbeats")
        server.shutdown()


def measured(name: str, command: list[str], target: float, statuses: set[int], env: dict[str, str], runs: int) -> bool:
    timed(command, env, statuses)  # the first run warms the file cache and the byte code
    done = sorted(timed(command, env, statuses) for _ in range(runs))
    walls = [wall for wall, _ in done]
    median = statistics.median(walls)
    cpu = done[len(done) // 2][1]
    ok = median <= target
    print(f"  {name:<17} {walls[0]:>6.3f} {median:>7.3f} {walls[-1]:>6.3f}  {cpu:>5.2f}  "
          f"<= {target} s: {'yes' if ok else 'NO'}")  # fmt: skip
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database", default="schedcu_bench_cli", help="dropped and created again")
    args = parser.parse_args()
    # as installed: the byte code of the project's modules written once and read after (an environment that sets
    # PYTHONDONTWRITEBYTECODE, as this machine's does, would compile every module again in every run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SCHEDCU_DATABASE_URL"] = fresh_database(args.database)
    print(f"CLI start-up, {args.runs} runs each; load average before {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"  {'command':<17} {'min':>6} {'median':>7} {'max':>6}  {'CPU':>5}  target (median)")
    missed = [name for name, *case in COMMANDS if not measured(name, *case, env, args.runs)]
    with heartbeats(env["SCHEDCU_DATABASE_URL"]):
        name, *case = WORKERS_STATUS
        if not measured(name, *case, env, args.runs):
            missed.append(name)
    print(f"load average after {os.getloadavg()[0]:.1f}")
    if missed:
        raise SystemExit(f"missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
