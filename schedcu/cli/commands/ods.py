"""`schedcu ods check FILE [--json]`: parse a workbook offline and show what the importer would make of it."""

import argparse
import json

from schedcu.cli.arguments import Subparsers, existing_file


def cmd_check(args: argparse.Namespace) -> int:
    from schedcu.views.ods_check import render_text, workbook_view
    from services.ods_importer.workbook import parse_workbook, reader_limits
    from shared.settings import get_settings

    settings = get_settings()
    path = args.file
    with path.open("rb") as file:
        data = file.read(settings.max_template_bytes + 1)  # the reader refuses anything longer
    view = workbook_view(path.name, parse_workbook(data, reader_limits(settings)))
    print(json.dumps(view, indent=2) if args.json else render_text(view))
    return 0 if view["ok"] else 1


def register(sub: Subparsers) -> None:
    ods = sub.add_parser("ods", help="coverage template workbooks").add_subparsers(dest="ods_command", required=True)
    check = ods.add_parser("check", help="parse a workbook offline: windows, roles, worklists and every message")
    check.add_argument("file", type=existing_file)
    check.add_argument("--json", action="store_true", help="the same as JSON")
    check.set_defaults(func=cmd_check)
