"""`schedcu watch status | pause GROUP | resume GROUP`: the watch of Amion per hospital group
(services/versions/watch.py)."""

import argparse
import getpass
import json
from datetime import datetime
from typing import Any

from schedcu.errors import Mistake
from shared.cli_support import Subparsers


def watch_rows() -> list[dict[str, Any]]:
    from sqlalchemy import select

    from shared.db.models import AmionWatch
    from shared.db.session import transaction

    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    with transaction() as session:
        return [
            {
                "group": w.group_name,
                "paused": w.paused,
                "last_check_at": at(w.last_check_at),
                "last_outcome": w.last_outcome,
                "last_error": w.last_error,
                "next_check_at": None if w.paused else at(w.next_check_at),
                "last_change_at": at(w.last_change_at),
            }
            for w in session.scalars(select(AmionWatch).order_by(AmionWatch.group_name))
        ]


def cmd_status(args: argparse.Namespace) -> int:
    rows = watch_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no group is watched: none has a production version (or, with SCHEDCU_WATCH_STAGING, a staging one)")
        return 0
    print(f"{'group':<20}  {'watch':<7}  {'last check':<19}  {'outcome':<9}  {'next check':<19}  last change")
    for r in rows:
        last, following, change = ((r[k] or "-")[:19] for k in ("last_check_at", "next_check_at", "last_change_at"))
        watching = "paused" if r["paused"] else "on"
        print(f"{r['group']:<20}  {watching:<7}  {last:<19}  {r['last_outcome'] or '-':<9}  {following:<19}  {change}")
        if r["last_error"]:
            print(f"  last check failed: {r['last_error']}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    from services.versions.watch import UnknownGroup, set_paused
    from shared.db.session import transaction

    paused = args.watch_command == "pause"
    try:
        with transaction() as session:
            changed = set_paused(session, args.group, paused, getpass.getuser(), args.reason)
    except UnknownGroup as error:
        raise Mistake(str(error)) from None
    state = "paused" if paused else "resumed"
    print(f"watch of {args.group} {state}" if changed else f"watch of {args.group} was already {state}")
    return 0


def register(sub: Subparsers) -> None:
    watch = sub.add_parser("watch", help="the watch of Amion per hospital group").add_subparsers(
        dest="watch_command", required=True
    )
    status = watch.add_parser("status", help="each group: paused or not, last check, next check, last change")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    for action, text in (("pause", "stop checking a group's versions against Amion"), ("resume", "check again")):
        command = watch.add_parser(action, help=text)
        command.add_argument("group")
        command.add_argument("--reason", help="recorded in the audit log")
        command.set_defaults(func=cmd_pause)
