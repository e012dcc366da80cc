"""`schedcu roster ...` and `schedcu fake-amion`."""

import argparse
from pathlib import Path

from shared.cli_support import Subparsers


def cmd_fake_amion(args: argparse.Namespace) -> int:
    from services.amion_scraper.fake_amion import serve

    serve(args.port, Path(args.truth), host=args.host)
    return 0


def cmd_roster_import(args: argparse.Namespace) -> int:
    from services.amion_scraper.roster import read_roster, reconcile
    from shared.db.session import transaction

    entries = read_roster(Path(args.file))
    with transaction() as session:
        change = reconcile(session, entries)
    print(
        f"roster: {len(entries)} people; {change.added} added, {change.updated} updated, "
        f"{change.deactivated} made inactive"
    )
    return 0


def register(sub: Subparsers) -> None:
    f = sub.add_parser("fake-amion", help="serve a fake Amion from a ground-truth file")
    f.add_argument("--port", type=int, default=8999)
    f.add_argument("--host", default="127.0.0.1")
    f.add_argument("--truth", required=True)
    f.set_defaults(func=cmd_fake_amion)

    r = sub.add_parser("roster", help="people").add_subparsers(dest="roster_command", required=True)
    ri = r.add_parser("import", help="reconcile the roster from a YAML or CSV file")
    ri.add_argument("file")
    ri.set_defaults(func=cmd_roster_import)
