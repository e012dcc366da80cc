"""`schedcu dev`: from a fresh clone to a running system a person can click through.

The database (`schedcu_dev` unless SCHEDCU_DATABASE_URL names one) is created when missing and migrated; a
sample template, a roster, a fake-Amion truth, the console's users file and an env file for the CLI are
written under the work folder; the fake Amion, the five workers and the console run as children; some months
are imported (a month imported by an earlier start is not imported again); the console's URL and login are
printed. It runs until SIGINT or SIGTERM, then stops every child and exits 0."""

import asyncio
import os
import secrets
import shlex
import signal
import socket
import time
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from schedcu.console.users import Role, token_hash
from schedcu.errors import UsageMistake
from schedcu.operations.submit import import_request, publish_request
from schedcu.operations.workflow_progress import TERMINAL, wait_for, workflow
from schedcu.runtime import local, processes
from schedcu.runtime.infra import MissingService
from schedcu.testing.demo_data import add_months, month_period
from shared.kernel import ids
from shared.kernel.contracts import Period
from shared.settings import get_settings

DATABASE = "schedcu_dev"
GROUP = "dev"
AMION_ACCOUNT = "dev"
USER = "dev"
IMPORT_TIMEOUT_S = 300.0
CHILD_CHECK_S = 1.0


def run_dev(first: date, months: int, port: int, workdir: Path) -> int:
    began = time.monotonic()
    _refuse_busy(port)
    for signum in (signal.SIGINT, signal.SIGTERM):  # both stop it, even where SIGINT was ignored (started with &)
        signal.signal(signum, signal.default_int_handler)
    with ExitStack() as stack:
        try:
            return _serve(first, months, port, workdir, began, stack)
        except KeyboardInterrupt:
            print("\nstopping schedcu dev", flush=True)
            return 0
        finally:  # the children are stopped as the stack closes; a second Ctrl-C does not cut that short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _serve(first: date, months: int, port: int, workdir: Path, began: float, stack: ExitStack) -> int:
    settings = get_settings()
    database_url = settings.database_url
    if "database_url" not in settings.model_fields_set:
        database_url = make_url(database_url).set(database=DATABASE).render_as_string(hide_password=False)
    try:
        database_url, amqp_url = local.migrated_database(database_url, settings.amqp_url, stack)
    except MissingService as error:
        print(f"schedcu dev: {error}")
        return 3
    firsts = [add_months(first, n) for n in range(months)]
    system = local.start(workdir, firsts, AMION_ACCOUNT, database_url, amqp_url, stack)

    token = _console_token(workdir)
    env = {**system.env, "SCHEDCU_CONSOLE_USERS_FILE": str(_write_users_file(workdir, token).resolve())}
    console = local.started(processes.console(env, system.logs, port, (USER, token)), stack)
    env_file = _write_env_file(workdir, env)

    _import(system.template, firsts, system.logs)
    console.wait_healthy()
    children = [*system.children, console]

    print(
        f"\nschedcu dev is ready ({time.monotonic() - began:.0f} s):\n"
        f"  console  http://127.0.0.1:{port}/  log in as user {USER}, password {token}\n"
        f"           (or send the header `Authorization: Bearer {token}`)\n"
        f"  CLI      set -a; . {env_file}; set +a; .venv/bin/schedcu versions list --group {GROUP}\n"
        f"  logs     {system.logs}/\n"
        "Ctrl-C stops everything.",
        flush=True,
    )
    while True:
        for child in children:
            assert child.popen is not None
            if (code := child.popen.poll()) is not None:
                print(f"schedcu dev: {child.name} exited with {code}; see {child.log_path}", flush=True)
                return 1
        time.sleep(CHILD_CHECK_S)


def _import(template: Path, firsts: list[date], logs: Path) -> None:
    """Each month submitted unless an earlier start did; the workflows waited for, their phases shown."""
    pending: list[tuple[str, uuid.UUID]] = []
    for first in firsts:
        month = f"{first:%Y-%m}"
        request_id = f"dev-{month}"
        workflow_id = ids.workflow_id_for(request_id)
        view = workflow(workflow_id)
        if view is not None and view["state"] in TERMINAL:
            print(f"{month}: already imported, {view['state']} (version {view['version_id']})", flush=True)
            continue
        if view is None:
            start, end = month_period(first)
            request = import_request(
                template,
                group=GROUP,
                period=Period(start=start, end=end),
                amion_account=AMION_ACCOUNT,
                requested_by=USER,
                request_id=request_id,
            )
            asyncio.run(publish_request(get_settings(), request))
        print(f"{month}: importing (workflow {workflow_id})", flush=True)
        pending.append((month, workflow_id))
    for month, workflow_id in pending:
        view = wait_for(workflow_id, IMPORT_TIMEOUT_S, label=f"{month} ")
        if view is not None and view["state"] in TERMINAL:
            print(f"{month}: {view['state']} (version {view['version_id']})", flush=True)
        else:
            print(f"{month}: not finished within {IMPORT_TIMEOUT_S:.0f} s; see the logs in {logs}", flush=True)


def _refuse_busy(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise UsageMistake(f"port {port} is in use: give the console another with --port") from None


def _console_token(workdir: Path) -> str:
    """The operator's token, kept from one start to the next (a browser's saved login keeps working)."""
    path = workdir / "console-token"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_hex(16)
    _write_secret(path, token + "\n")
    return token


def _write_users_file(workdir: Path, token: str) -> Path:
    path = workdir / "console-users.yaml"
    users = {"users": [{"name": USER, "role": Role.OPERATOR.value, "token_sha256": token_hash(token)}]}
    _write_secret(path, yaml.safe_dump(users))
    return path


def _write_env_file(workdir: Path, env: dict[str, str]) -> Path:
    """The settings other schedcu commands need to use this system (the database URL may hold a password)."""
    path = workdir / "env"
    names = ("SCHEDCU_DATABASE_URL", "SCHEDCU_AMQP_URL", "SCHEDCU_CONSOLE_USERS_FILE")
    _write_secret(path, "".join(f"{name}={shlex.quote(env[name])}\n" for name in names))
    return path


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
