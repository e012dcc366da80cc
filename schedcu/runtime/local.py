"""A whole schedcu on this machine, for `schedcu demo` and `schedcu dev`: PostgreSQL and RabbitMQ found, the
database created and migrated and its roles granted, a sample template, a roster and an Amion ground truth written
and the roster loaded, the fake Amion and the five workers started, each on its own database role. Every child is
stopped when the caller's stack closes."""

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import yaml
from sqlalchemy.engine import make_url

from schedcu.runtime import processes
from schedcu.runtime.infra import ensure_database_exists, resolve
from schedcu.runtime.registries import WORKERS
from schedcu.testing.demo_data import ROSTER, truth
from schedcu.testing.sample_template import sample_template
from services.amion_scraper.roster import read_roster, reconcile
from shared.db import roles
from shared.db.migrate import upgrade
from shared.db.session import transaction
from shared.settings import get_settings

AMION_PASSWORD = "demo pass"  # the fake Amion's; a space, as real view passwords may have
AMION_PASSWORD_ENV = "SCHEDCU_DEMO_AMION_PASSWORD"


@dataclass(frozen=True)
class LocalSystem:
    template: Path
    logs: Path
    env: dict[str, str]  # the environment the children run with: the services' URLs and the Amion account
    children: list[processes.Process]  # the fake Amion and the workers


def migrated_database(database_url: str, amqp_url: str, stack: ExitStack) -> tuple[str, str]:
    """The services' working URLs (MissingService when there are none), the database created and migrated."""
    database_url, amqp_url = resolve(database_url, amqp_url, stack)
    print(f"PostgreSQL {database_url.split('@')[-1]}, RabbitMQ {amqp_url.split('@')[-1]}", flush=True)
    ensure_database_exists(database_url)
    upgrade(database_url)
    print("database migrated", flush=True)
    return database_url, amqp_url


def worker_database_urls(database_url: str) -> dict[str, str]:
    """Each worker's database URL, on its own role (shared/db/roles.py) chosen at connection (`options=-crole=`,
    without a space: a URL encodes it as `+`, which libpq does not decode), the roles created and granted on the
    database; `database_url` for every worker when its user may not create the roles or become them (said once)."""
    url = make_url(database_url)
    try:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(False), autocommit=True) as conn:
            roles.ensure(conn, str(url.database))
            members = conn.execute(
                "SELECT bool_and(pg_has_role(current_user, rolname, 'MEMBER')) FROM pg_roles WHERE rolname = ANY(%s)",
                [list(roles.SERVICE_ROLES.values())],
            ).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        members = None
    if not (members and members[0]):
        print(f"user {url.username} may not create or become the schedcu roles: every worker runs as it", flush=True)
        return {name: database_url for name in processes.WORKER_NAMES}
    on_role = {
        name: url.update_query_dict({"options": f"-crole={roles.SERVICE_ROLES[WORKERS[name]]}"})
        for name in processes.WORKER_NAMES
    }
    return {name: worker_url.render_as_string(False) for name, worker_url in on_role.items()}


def start(
    workdir: Path, months: list[date], amion_account: str, database_url: str, amqp_url: str, stack: ExitStack
) -> LocalSystem:
    """The files under `workdir`, the roster loaded, the fake Amion serving the truth of `months` as
    `amion_account`, and the five workers healthy. This process's settings point at the same services."""
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    template = workdir / "sample-template.ods"
    template.write_bytes(sample_template())
    roster = workdir / "roster.yaml"
    roster.write_text(yaml.safe_dump({"people": ROSTER}, sort_keys=False), encoding="utf-8")
    truth_file = workdir / "amion-truth.yaml"
    assignments = [a for month in months for a in truth(month, AMION_PASSWORD)["assignments"]]
    truth_file.write_text(yaml.safe_dump({"password": AMION_PASSWORD, "assignments": assignments}), encoding="utf-8")

    fake = started(processes.fake_amion(truth_file, dict(os.environ), logs), stack)
    fake.wait_healthy()
    os.environ.update(
        {
            "SCHEDCU_DATABASE_URL": database_url,
            "SCHEDCU_AMQP_URL": amqp_url,
            AMION_PASSWORD_ENV: AMION_PASSWORD,
            "SCHEDCU_AMION_ACCOUNTS": json.dumps(
                {
                    amion_account: {
                        "base_url": fake.health_url.replace("/truth", "/cgi-bin/ocs"),
                        "password_env": AMION_PASSWORD_ENV,
                    }
                }
            ),
        }
    )
    get_settings.cache_clear()
    env = dict(os.environ)
    urls = worker_database_urls(database_url)
    workers = [
        started(processes.worker(name, {**env, "SCHEDCU_DATABASE_URL": urls[name]}, logs), stack)
        for name in processes.WORKER_NAMES
    ]
    for w in workers:
        w.wait_healthy()
    print(f"fake Amion and workers {', '.join(processes.WORKER_NAMES)} running (logs in {logs})", flush=True)

    with transaction() as session:
        change = reconcile(session, read_roster(roster))
    print(f"roster {roster}: {change.added} added, {change.updated} updated", flush=True)
    return LocalSystem(template, logs, env, [fake, *workers])


def started(process: processes.Process, stack: ExitStack) -> processes.Process:
    """`process` started, and stopped when `stack` closes (registered first: an interrupt in between leaves
    no child behind)."""
    stack.callback(process.stop)
    return process.start()
