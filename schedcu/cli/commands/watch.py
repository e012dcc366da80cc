"""`schedcu watch status | pause GROUP | resume GROUP`: the watch of Amion per hospital group
(services/versions/watch.py)."""

import argparse
import getpass
import json
from datetime import UTC, datetime
from typing import Any

from schedcu.cli.arguments import Subparsers
from schedcu.errors import Mistake


def watch_rows() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each watched group, and the Amion accounts whose request budget cannot meet the watch's intervals."""
    from sqlalchemy import select

    from services.versions.watch import budget_problems, watched_versions
    from shared.db.models import AmionWatch
    from shared.db.session import transaction
    from shared.settings import get_settings

    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    settings = get_settings()
    now = datetime.now(UTC)
    with transaction() as session:
        targets = watched_versions(session, now.astimezone(settings.tz).date(), settings.watch_staging)
        problems = budget_problems(targets, now, settings)
        accounts = {t.group: t.amion_account for t in targets}
        return [
            {
                "group": w.group_name,
                "paused": w.paused,
                "last_check_at": at(w.last_check_at),
                "last_outcome": w.last_outcome,
                "last_error": w.last_error,
                "next_check_at": None if w.paused else at(w.next_check_at),
                "last_change_at": at(w.last_change_at),
                "next_near_check_at": None if w.paused else at(w.next_near_check_at),
                "budget_problem": problems.get(accounts.get(w.group_name, "")),
            }
            for w in session.scalars(select(AmionWatch).order_by(AmionWatch.group_name))
        ], problems


def cmd_status(args: argparse.Namespace) -> int:
    rows, problems = watch_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no group is watched: none has a production version (or, with SCHEDCU_WATCH_STAGING, a staging one)")
        return 0
    header = f"{'group':<20}  {'watch':<7}  {'last check':<19}  {'outcome':<9}  {'next near-term':<19}  "
    print(f"{header}{'next full check':<19}  last change")
    for r in rows:
        last, near, following, change = (
            (r[k] or "-")[:19] for k in ("last_check_at", "next_near_check_at", "next_check_at", "last_change_at")
        )
        watching = "paused" if r["paused"] else "on"
        print(f"{r['group']:<20}  {watching:<7}  {last:<19}  {r['last_outcome'] or '-':<9}  {near:<19}  "
              f"{following:<19}  {change}")  # fmt: skip
        if r["last_error"]:
            print(f"  last check failed: {r['last_error']}")
    for problem in problems.values():
        print(f"OVER BUDGET: {problem}")
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
    status = watch.add_parser(
        "status",
        help="each group: paused or not, last check, next checks, last change; accounts over their request budget",
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    for action, text in (("pause", "stop checking a group's versions against Amion"), ("resume", "check again")):
        command = watch.add_parser(action, help=text)
        command.add_argument("group")
        command.add_argument("--reason", help="recorded in the audit log")
        command.set_defaults(func=cmd_pause)
