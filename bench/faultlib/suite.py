"""Runs the scenarios one after the other on a private PostgreSQL cluster and RabbitMQ node, and accounts
for every request. `bench/faults.py` is its command line; tests/faults runs the CI set in-process."""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from schedcu.runtime import processes

from . import bus
from .accounting import Row, account, matrix, not_run
from .infra import PrivatePostgres, PrivateRabbit
from .run import BASE_SETTINGS, Environment, Run, Stream, new_requests
from .scenarios import CI_SCENARIOS, SCENARIOS, Scenario

log = logging.getLogger("faults")

DEFAULT_PG_OUTAGE_S = 15.0


def verify_available() -> bool:
    """Whether this schedcu has `schedcu verify` (it exits 1 on any violation)."""
    done = subprocess.run(processes.schedcu_command("--help"), capture_output=True, text=True, check=False)
    return "verify" in done.stdout


def run_scenario(scenario: Scenario, env: Environment) -> Row:
    if scenario.own_servers is not None:
        return run_on_own_servers(scenario, scenario.own_servers, env)
    run = Run(
        scenario.name,
        env,
        {**BASE_SETTINGS, **scenario.settings},
        scenario.use_proxy,
        scenario.amion_latency_s,
    )
    started = time.time()
    try:
        log.info("%s: starting (%s)", scenario.name, scenario.what)
        run.start()
        if scenario.tap:
            bus.declare_subscriber_queue(run.amqp_url, bus.TAP_QUEUE, bus.TAP_BINDINGS)
        stream = Stream(run, new_requests(scenario.name, env), scenario.interval_s,
                        lambda i, request: scenario.extra(run, i, request))  # fmt: skip
        stream.start()
        scenario.inject(run, stream)
        stream.join()
        log.info("%s: %d requests published; waiting for the workflows to end", scenario.name, stream.count)
        run.settle(since=max(time.time(), run.fault_end or 0))
        row = account(scenario.name, run.facts(dict(stream.published), scenario.allowed_states))
        row.notes.extend(run.notes)
    except Exception as error:  # one broken scenario is a failed row; the others still run
        log.exception("%s: could not run", scenario.name)
        row = not_run(scenario.name, f"could not run: {error}")
    finally:
        run.stop()
    (run.log_dir / "row.json").write_text(json.dumps(row.to_dict(), indent=2), encoding="utf-8")
    log.info("%s: %s in %.0f s", scenario.name, "PASS" if row.passed else "FAIL", time.time() - started)
    return row


def run_on_own_servers(scenario: Scenario, run: Callable[[Environment], Row], env: Environment) -> Row:
    started = time.time()
    log.info("%s: starting (%s)", scenario.name, scenario.what)
    try:
        row = run(env)
    except Exception as error:  # one broken scenario is a failed row; the others still run
        log.exception("%s: could not run", scenario.name)
        row = not_run(scenario.name, f"could not run: {error}")
    log.info("%s: %s in %.0f s", scenario.name, "PASS" if row.passed else "FAIL", time.time() - started)
    return row


@contextmanager
def private_servers(work_dir: Path) -> Iterator[tuple[PrivatePostgres, PrivateRabbit]]:
    """The suite's own PostgreSQL cluster and RabbitMQ node, removed at the end, on error and on Ctrl-C."""
    name = f"schedcu_faults_{os.getpid()}"
    pg = PrivatePostgres(name)
    rabbit = PrivateRabbit(name)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        log.info("starting PostgreSQL cluster %s on port %d, RabbitMQ node %s on port %d; logs in %s",
                 name, pg.port, rabbit.node, rabbit.port, work_dir)  # fmt: skip
        pg.create()
        rabbit.create()
        yield pg, rabbit
    finally:
        rabbit.remove()
        pg.drop()
        signal.signal(signal.SIGTERM, previous)


def run_suite(
    names: Sequence[str],
    workflows: int = 20,
    seed: int = 1,
    pg_outage_s: float = DEFAULT_PG_OUTAGE_S,
    work_dir: Path | None = None,
) -> list[Row]:
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenarios {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    work_dir = work_dir or Path(tempfile.mkdtemp(prefix="schedcu-faults-"))
    with private_servers(work_dir) as (pg, rabbit):
        env = Environment(pg, rabbit, seed, workflows, work_dir, verify_available(), pg_outage_s)
        return [run_scenario(SCENARIOS[name], env) for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="schedcu's fault suite: inject faults, account for every request.")
    parser.add_argument("--scenarios", help=f"comma-separated, of: {', '.join(SCENARIOS)} (default all); or 'ci'")
    parser.add_argument("--workflows", type=int, default=20, help="import requests per scenario (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-outage", type=float, default=DEFAULT_PG_OUTAGE_S, help="seconds, 10 to 30")
    parser.add_argument("--work-dir", type=Path, help="where the workers' logs go (default a new temp dir)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the matrix")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name:22} {'ci ' if s.name in CI_SCENARIOS else '   '}{s.what}")
        return 0
    if not 10 <= args.pg_outage <= 30:
        parser.error("--pg-outage must be between 10 and 30 seconds")
    if args.scenarios == "ci":
        names: Sequence[str] = CI_SCENARIOS
    elif args.scenarios:
        names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    else:
        names = list(SCENARIOS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for quiet in ("alembic", "httpx"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    for retried in ("aio_pika", "aiormq"):  # the stream publishes again while the broker is away
        logging.getLogger(retried).setLevel(logging.CRITICAL)
    work_dir = args.work_dir.resolve() if args.work_dir else None
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        rows = run_suite(names, args.workflows, args.seed, args.pg_outage, work_dir)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        print(matrix(rows))
        print(f"\n{len(rows)} scenarios, {args.workflows} workflows each, seed {args.seed}, "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
    return 0 if all(r.passed for r in rows) else 1
