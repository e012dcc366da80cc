"""The `schedcu` command: core commands here, the commands of each area in `schedcu/cli/commands/<area>.py`."""

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from schedcu.cli.arguments import actor, count, month, months_count, new_file, port, seconds, uuid_id
from schedcu.cli.commands import amion as amion_cli
from schedcu.cli.commands import console as console_cli
from schedcu.cli.commands import coverage as coverage_cli
from schedcu.cli.commands import drafting as drafting_cli
from schedcu.cli.commands import exports as exports_cli
from schedcu.cli.commands import ods as ods_cli
from schedcu.cli.commands import proposals as proposals_cli
from schedcu.cli.commands import versions as versions_cli
from schedcu.cli.commands import watch as watch_cli
from schedcu.errors import FAILURE, INTERRUPTED, USAGE, InfrastructureMistake, Mistake, UsageMistake, where
from schedcu.runtime.registries import WORKERS
from schedcu.views.explain import explain, settings_problem

BROKEN_PIPE = 141  # 128 + SIGPIPE, what the shell reports for a tool the reader stopped
SERVERS = ("worker", "console")  # they end through their exit handlers (the tracer's flush among them)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line; subcommands' parsers are of this class too. A command with
    `--from` and `--to` refuses a `--from` after its `--to`."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        first, last = (self._option_string_actions.get(option) for option in ("--from", "--to"))
        if first is not None and last is not None:
            start, end = getattr(parsed, first.dest, None), getattr(parsed, last.dest, None)
            if start is not None and end is not None and start > end:
                self.error(f"--from {start} is after --to {end}: give a --from on or before the --to")
        return parsed, extras


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    from schedcu.runtime.infra import ensure_database_exists
    from shared.db.migrate import upgrade
    from shared.settings import get_settings

    url = get_settings().database_url
    target = make_url(url)
    try:
        created = ensure_database_exists(url)
    except psycopg.errors.InsufficientPrivilege:
        raise InfrastructureMistake(
            f'PostgreSQL at {where(url)} has no database "{target.database}" and user "{target.username}" may not '
            "create one: create it, or give the user CREATEDB"
        ) from None
    if created:
        print(f"created the database {target.database}")
    upgrade(url)
    print("database is at the latest migration")
    return 0


def cmd_db_roles(_: argparse.Namespace) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    from shared.db import roles
    from shared.settings import get_settings

    url = make_url(get_settings().database_url)
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False), autocommit=True) as conn:
        created = roles.ensure(conn, str(url.database))
        migrated = roles.migrated(conn)
    for role in created:
        print(f"created the role {role} (without a password: set one with ALTER ROLE {role} PASSWORD ...)")
    if not migrated:
        print(
            f"{url.database} has no tables yet: {roles.MIGRATION_ROLE} may create them; run `schedcu db upgrade` "
            f"as {roles.MIGRATION_ROLE}, then `schedcu db roles` again to grant the other roles"
        )
        return 0
    print(f"granted each schedcu role its privileges on {url.database}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from schedcu.runtime.infra import listening
    from schedcu.runtime.registries import all_queues, registry, senders
    from shared.messaging.connection import login
    from shared.settings import get_settings
    from shared.worker import run

    settings = get_settings()
    http_port = settings.http_port if args.port is None else args.port
    fix = "give another --port (0: a free one), or change SCHEDCU_HTTP_PORT / SCHEDCU_HTTP_HOST"
    checked = senders(args.name, settings.broker_accounts, login(settings.amqp_url))
    run(registry(args.name), all_queues(), listening(settings.http_host, http_port, fix), checked)
    return 0


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from schedcu.runtime.registries import all_queues
    from shared.asyncapi import render

    text = render(all_queues())
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_broker_definitions(args: argparse.Namespace) -> int:
    from schedcu.runtime.broker_definitions import render

    text = render()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from schedcu.runtime.demo import run_demo

    return run_demo(month=args.month, workdir=Path(args.workdir))


def cmd_dev(args: argparse.Namespace) -> int:
    from datetime import date

    from schedcu.runtime.dev import run_dev

    first = date.fromisoformat(f"{args.start}-01") if args.start else date.today().replace(day=1)
    return run_dev(first, args.months, args.port, Path(args.workdir))


def cmd_dlq(args: argparse.Namespace) -> int:
    import asyncio

    from schedcu.runtime.registries import all_queues
    from shared.db.session import transaction
    from shared.messaging import dead_letters
    from shared.settings import get_settings

    url = get_settings().amqp_url
    command = args.dlq_command
    try:
        if command == "list":
            for queue in all_queues():
                letters = asyncio.run(dead_letters.peek(url, queue, limit=None))
                times = sorted(letter.at for letter in letters if letter.at)
                span = f"  oldest {times[0]}  newest {times[-1]}" if times else ""
                print(f"{queue.dead_letter_name:<40} {len(letters):>5}{span}")
            return 0
        queue = dead_letters.consumer_queue(args.queue, all_queues())
        if command == "discard" and args.message_id is None and args.reason is None:
            raise UsageMistake("say what to discard: --message-id ID or --reason TEXT (see `schedcu dlq show`)")
        if command == "show" or (command == "discard" and not args.yes):
            if command == "show":
                letters = asyncio.run(dead_letters.peek(url, queue, args.limit, args.offset))
            else:
                letters = asyncio.run(dead_letters.peek(url, queue, limit=None))
                letters = [x for x in letters if dead_letters.chosen(x, args.message_id, args.reason)]
        else:
            act = dead_letters.redrive if command == "redrive" else dead_letters.discard
            letters = asyncio.run(act(url, queue, args.message_id, args.reason, actor=actor(), transaction=transaction))
    except dead_letters.UnknownQueue as error:
        raise UsageMistake(str(error)) from None
    done = command == "redrive" or (command == "discard" and args.yes)
    if args.json:
        print(dead_letters.as_json(letters))
        return 0
    verb = {"redrive": "redriven", "discard": "discarded" if done else "would be discarded (add --yes)"}
    print(f"{len(letters)} {verb.get(command, 'dead letters')} from {queue.dead_letter_name}")
    for letter in letters:
        print(f"  {letter.message_id}  {letter.routing_key}  reason: {letter.reason}")
        if command == "show":
            print(f"      {letter.body_preview}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from schedcu.operations import status
    from shared.db.session import transaction
    from shared.settings import get_settings

    settings = get_settings()
    if args.watch:
        try:
            status.watch(transaction, settings, args.every)
        except KeyboardInterrupt:
            return 0
    with transaction() as session:
        collected = status.collect(session, settings)
    print(json.dumps(collected, indent=2) if args.json else status.render(collected))
    return FAILURE if collected["problems"] else 0


def cmd_verify(args: argparse.Namespace) -> int:
    import json

    from schedcu.operations import verify
    from shared.db.session import transaction
    from shared.settings import get_settings

    if args.version is None and not args.all:
        raise UsageMistake("give a version id, or --all")
    with transaction() as session:
        report = verify.verify(session, get_settings(), None if args.all else args.version)
    print(json.dumps(report.to_dict(), indent=2) if args.json else verify.render(report))
    return 0 if report.clean else 1


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="schedcu", description="Radiology night-coverage scheduling.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    db.add_parser("roles", help="create the per-service roles and grant them (again after every upgrade)").set_defaults(
        func=cmd_db_roles
    )

    w = sub.add_parser("worker", help="run one service's worker")
    w.add_argument("name", choices=sorted(WORKERS))
    w.add_argument("--port", type=port, help="/health and /metrics port (default: SCHEDCU_HTTP_PORT)")
    w.set_defaults(func=cmd_worker)

    a = sub.add_parser("asyncapi", help="print the AsyncAPI document")
    a.add_argument("--out", type=new_file)
    a.set_defaults(func=cmd_asyncapi)

    broker = sub.add_parser("broker", help="RabbitMQ").add_subparsers(dest="broker_command", required=True)
    bd = broker.add_parser(
        "definitions", help="print or write the broker definitions (deploy/rabbitmq/definitions.json)"
    )
    bd.add_argument("--out", type=new_file)
    bd.set_defaults(func=cmd_broker_definitions)

    d = sub.add_parser("demo", help="the whole pipeline on a generated month, end to end")
    d.add_argument("--month", type=month, default=None, help="YYYY-MM (default: next month)")
    d.add_argument("--workdir", default=".schedcu/demo")
    d.set_defaults(func=cmd_demo)

    dv = sub.add_parser(
        "dev", help="a running system to click through: workers, fake Amion, console, months imported; Ctrl-C stops"
    )
    dv.add_argument("--start", type=month, default=None, help="first month to import, YYYY-MM (default: this month)")
    dv.add_argument("--months", type=months_count, default=3, help="how many months to import (default 3)")
    dv.add_argument(
        "--port", type=int, default=console_cli.DEFAULT_PORT, help="the console's port (default %(default)s)"
    )
    dv.add_argument("--workdir", default=".schedcu/dev")
    dv.set_defaults(func=cmd_dev)

    st = sub.add_parser(
        "status", help="one screen for operators: workers, queues, outbox, workflows, failures; exit 1 if unhealthy"
    )
    st.add_argument("--json", action="store_true")
    st.add_argument("--watch", action="store_true", help="refresh until interrupted")
    st.add_argument("--every", type=seconds, default=5.0, help="seconds between refreshes with --watch")
    st.set_defaults(func=cmd_status)

    v = sub.add_parser("verify", help="re-derive the stored invariants; exit 1 on any violation")
    v.add_argument("version", nargs="?", type=uuid_id, help="one schedule version")
    v.add_argument("--all", action="store_true", help="every version that is not deleted")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)

    q = sub.add_parser("dlq", help="dead-letter queues").add_subparsers(dest="dlq_command", required=True)
    q.add_parser("list", help="depth of every dead-letter queue").set_defaults(func=cmd_dlq)
    qs = q.add_parser("show", help="the messages in one dead-letter queue, with their reasons")
    qs.add_argument("queue", help="versions, ods_importer, amion_scraper, coverage or drafting")
    qs.add_argument("--limit", type=count, default=20)
    qs.add_argument("--offset", type=count, default=0, help="skip the first OFFSET letters (they stay in place)")
    qs.add_argument("--json", action="store_true")
    qs.set_defaults(func=cmd_dlq)
    qr = q.add_parser("redrive", help="publish dead letters back to their original routing key (audited)")
    qr.add_argument("queue")
    qr.add_argument("--message-id", help="only this message")
    qr.add_argument("--reason", help="only the letters dead-lettered for this reason (a group of `dlq show`)")
    qr.add_argument("--json", action="store_true")
    qr.set_defaults(func=cmd_dlq)
    qd = q.add_parser("discard", help="remove dead letters for good (audited); lists them unless --yes")
    qd.add_argument("queue")
    qd.add_argument("--message-id", help="only this message")
    qd.add_argument("--reason", help="the letters dead-lettered for this reason")
    qd.add_argument("--yes", action="store_true", help="discard them (without it: only list what would go)")
    qd.add_argument("--json", action="store_true")
    qd.set_defaults(func=cmd_dlq)

    areas = (ods_cli, amion_cli, coverage_cli, versions_cli, watch_cli, proposals_cli, exports_cli, console_cli)
    areas += (drafting_cli,)
    for service_cli in areas:
        service_cli.register(sub)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the command; every error ends in one line on stderr (a traceback too with --debug)."""
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a reader that closed early breaks the pipe here, not at exit
        return code
    except BrokenPipeError:
        # The reader (`| head`) has all it wanted: stop quietly, like a Unix tool killed by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as error:
        status, message = explain(error)
        if args.debug or (args.command == "worker" and not isinstance(error, Mistake)):  # a crash, to its log in full
            traceback.print_exc()
        print(f"schedcu: {message}", file=sys.stderr)
        return status


def main(argv: list[str] | None = None) -> None:
    """The command; `schedcu/__main__.py` starts it with Ctrl-C ending the process quietly until it runs."""
    args = parser().parse_args(argv)  # before the settings: help and argument errors need no heavy import
    import pydantic

    from shared import logs
    from shared.settings import get_settings

    try:
        settings = get_settings()
    except pydantic.ValidationError as error:
        print(f"schedcu: {settings_problem(error)}", file=sys.stderr)
        sys.exit(USAGE)
    if args.command not in SERVERS:  # the servers log JSON, whose strings are escaped
        from schedcu.views.printable import PrintableStream

        sys.stdout = PrintableStream(sys.stdout)  # type: ignore[assignment]
        sys.stderr = PrintableStream(sys.stderr)  # type: ignore[assignment]
    logs.configure("cli", settings.log_format)
    if args.command != "worker" and not args.debug:
        # The broker clients log each failed connection attempt; a command says it once, in its last line.
        for library in ("aiormq", "aio_pika"):
            logging.getLogger(library).setLevel(logging.CRITICAL)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ignored by the parent (a background job): stays so
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here Ctrl-C ends the command (run: status 130)
    code = run(args)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # Ctrl-C while Python exits ends it at once, as interrupted, without a traceback from its exit handlers
        signal.signal(signal.SIGINT, lambda _signal, _frame: os._exit(INTERRUPTED))
    if args.command not in SERVERS and threading.active_count() == 1:
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> NoReturn:
    """End a command whose work is done without the interpreter's teardown of every module it imported (about
    0.15 s of a read command's 0.6): what it opened is closed first, the database's connections politely."""
    session = sys.modules.get("shared.db.session")  # imported by the commands that used the database
    if session is not None:
        session.engine().dispose()
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = BROKEN_PIPE
    os._exit(code)
