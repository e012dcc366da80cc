"""The CLI's start-up: how long a command takes from `exec` to exit, each run a new process.

    .venv/bin/python bench/cli_bench.py [--runs 10] [--database NAME]

Uses a fresh database (`schedcu_bench_cli` unless `--database`) on the server of SCHEDCU_DATABASE_URL (dropped,
created and migrated: the read commands read an empty schema) and the RabbitMQ of SCHEDCU_AMQP_URL (`status`
declares its queues passively). Printed: min, median and max wall time of `--runs` runs of each command, and the
CPU time (user + system) of the median run. Targets, on the median: `--help` and an argument error 0.25 s, the
read commands 0.6 s; exits 1 when one is missed. The machine's load changes the wall times: it is printed.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid

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
    print(f"  {'command':<16} {'min':>6} {'median':>7} {'max':>6}  {'CPU':>5}  target (median)")
    missed = []
    for name, command, target, statuses in COMMANDS:
        timed(command, env, statuses)  # the first run warms the file cache and the byte code
        runs = sorted(timed(command, env, statuses) for _ in range(args.runs))
        walls = [wall for wall, _ in runs]
        median = statistics.median(walls)
        cpu = runs[len(runs) // 2][1]
        ok = median <= target
        if not ok:
            missed.append(name)
        print(f"  {name:<16} {walls[0]:>6.3f} {median:>7.3f} {walls[-1]:>6.3f}  {cpu:>5.2f}  "
              f"<= {target} s: {'yes' if ok else 'NO'}")  # fmt: skip
    print(f"load average after {os.getloadavg()[0]:.1f}")
    if missed:
        raise SystemExit(f"missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
