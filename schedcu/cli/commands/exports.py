"""`schedcu export cells|ics|ods` and `schedcu oncall`: a version's data for other tools
(schedcu/operations/exports.py)."""

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from schedcu.cli.arguments import Subparsers, folder, iso_datetime, new_file, uuid_id
from schedcu.errors import UsageMistake


def cmd_export(args: argparse.Namespace) -> int:
    from schedcu.operations import exports
    from shared.db.session import transaction
    from shared.settings import get_settings

    settings = get_settings()
    with transaction() as session:
        if args.export_command == "cells":
            files = {args.out: exports.cells_csv(session, args.version)}
        elif args.export_command == "ods":
            files = {args.out: exports.coverage_workbook(session, args.version, settings)}
        else:
            files = _calendar_files(args, exports.calendars(session, args.version, settings, args.person))
    for path, data in files.items():
        try:
            path.write_bytes(data)
        except OSError as error:
            raise UsageMistake(f"cannot write {path}: {error.strerror or error}") from None
    if args.export_command == "ics" and args.person is None:
        print(f"wrote {len(files)} calendars into {args.out}")
    else:
        print(f"wrote {args.out} ({len(next(iter(files.values()))):,} bytes)")
    return 0


def _calendar_files(args: argparse.Namespace, calendars: dict[str, bytes]) -> dict[Path, bytes]:
    from schedcu.operations import exports

    convert = new_file if args.person is not None else folder
    try:
        out = convert(args.out)
    except argparse.ArgumentTypeError as error:
        raise UsageMistake(f"--out: {error}") from None
    if args.person is not None:
        return {out: next(iter(calendars.values()))}
    out.mkdir(exist_ok=True)
    return {exports.calendar_path(out, email): data for email, data in calendars.items()}


def cmd_oncall(args: argparse.Namespace) -> int:
    from schedcu.operations.exports import local_instant, on_call
    from shared.db.session import transaction
    from shared.settings import get_settings

    settings = get_settings()
    at = datetime.now(UTC) if args.at is None else local_instant(args.at, settings.tz)
    with transaction() as session:
        answer = on_call(session, args.worklist, at, settings, args.group)
    print(json.dumps(answer, indent=2))
    return 0


def register(sub: Subparsers) -> None:
    e = sub.add_parser("export", help="a version's cells (CSV), calendars (iCalendar) or coverage (ODS)")
    e_sub = e.add_subparsers(dest="export_command", required=True)
    cells = e_sub.add_parser("cells", help="the cells of the version's latest coverage as CSV")
    cells.add_argument("version", type=uuid_id)
    cells.add_argument("--out", type=new_file, required=True, help="FILE.csv")
    cells.set_defaults(func=cmd_export)

    ics = e_sub.add_parser("ics", help="each person's assignments as iCalendar, one event per assignment")
    ics.add_argument("version", type=uuid_id)
    ics.add_argument("--person", metavar="EMAIL", help="only this person's calendar, into --out FILE.ics")
    ics.add_argument("--out", required=True, help="FOLDER: one EMAIL.ics per person; with --person: FILE.ics")
    ics.set_defaults(func=cmd_export)

    ods = e_sub.add_parser("ods", help="the version's coverage as a workbook: a sheet per month, then the gaps")
    ods.add_argument("version", type=uuid_id)
    ods.add_argument("--out", type=new_file, required=True, help="FILE.ods")
    ods.set_defaults(func=cmd_export)

    o = sub.add_parser("oncall", help="JSON: who reads WORKLIST now, or at --at, in the production version")
    o.add_argument("worklist", help="as the template names it, e.g. 'CPMC US' (case does not matter)")
    o.add_argument("--at", type=iso_datetime, help="YYYY-MM-DDTHH:MM, with an offset or in the configured zone")
    o.add_argument("--group", help="the hospital group, when several have a production version")
    o.set_defaults(func=cmd_oncall)
