"""`schedcu coverage show|report|recalc`, `schedcu gaps` and `schedcu assignments add|remove`."""

import argparse
import json
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from schedcu.cli.arguments import Subparsers, actor, count, iso_date, new_file, seconds, uuid_id
from schedcu.errors import UsageMistake


def within_period(session: Any, version_id: uuid.UUID, day: date | None) -> None:
    """Refuse a --date outside the version's period: it would show no gaps, as if there were none."""
    from shared.db.models import ScheduleVersion

    version = session.get(ScheduleVersion, version_id)
    if day is not None and version is not None and not version.period_start <= day <= version.period_end:
        raise UsageMistake(
            f"--date {day} is outside the period of version {version_id}, "
            f"{version.period_start}..{version.period_end}: give a date within it"
        )


def cmd_coverage_show(args: argparse.Namespace) -> int:
    from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
    from schedcu.views.terminal import print_cells, print_summary
    from shared.db.session import transaction
    from shared.settings import get_settings

    settings = get_settings()
    with transaction() as session:
        within_period(session, args.version, args.date)
        calc = latest_calculation(session, args.version)
        day_cells = cells(session, uuid.UUID(calc["calculation_id"]), args.date) if calc and args.date else None
        groups = (
            critical_gap_groups(session, args.version, calc["summary"], settings, args.date)
            if calc and not args.json
            else []
        )
    if calc is None:
        print(f"no coverage calculated for version {args.version}", file=sys.stderr)
        return 1
    day = args.date.isoformat() if args.date else None
    if args.json:
        print(json.dumps({**calc, **({"date": day, "cells": day_cells} if day else {})}, indent=2))
        return 0
    print_summary(calc, groups, settings.tz, limit=None if args.all or day else 20, day=day)
    if day_cells is not None:
        print()
        print(f"  cells on {day}: {len(day_cells)}")
        print_cells(day_cells)
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    from schedcu.views.terminal import print_gap_groups
    from services.coverage.calculation import CalculationOptions
    from services.coverage.gap_lines import group_gaps, lines_text
    from services.coverage.gaps import gap_report
    from shared.db.session import transaction
    from shared.kernel.rest import hours_text
    from shared.settings import get_settings

    settings = get_settings()
    with transaction() as session:
        within_period(session, args.version, args.date)
        report = gap_report(session, args.version, CalculationOptions.from_settings(settings), args.date)
    if report is None:
        print(f"no coverage calculated for version {args.version}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(settings.tz), indent=2))
        return 0
    where = f" on {args.date.isoformat()}" if args.date else ""
    groups = group_gaps(report.gaps)
    print(
        f"{len(report.gaps)} gaps{where} in {lines_text(len(groups))} by date, role and hours "
        f"(calculation {report.calculation_id}, rest period {hours_text(report.rest)}; "
        "every gap and why people are left out: --json)"
    )
    print_gap_groups(groups, settings.tz, top=args.top, indent="")
    return 0


def cmd_coverage_report(args: argparse.Namespace) -> int:
    from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
    from schedcu.views.coverage_page import render_page
    from services.coverage.calculation import CalculationOptions
    from services.coverage.fairness import fairness_report
    from services.coverage.gap_lines import lines_text
    from shared.db.session import transaction
    from shared.settings import get_settings

    settings = get_settings()
    with transaction() as session:
        calc = latest_calculation(session, args.version)
        all_cells = cells(session, uuid.UUID(calc["calculation_id"])) if calc else []
        groups = critical_gap_groups(session, args.version, calc["summary"], settings) if calc else []
        fairness = fairness_report(session, args.version, CalculationOptions.from_settings(settings), None, None)
    if calc is None or fairness is None:
        print(f"no coverage calculated for version {args.version}", file=sys.stderr)
        return 1
    page = render_page(calc, all_cells, groups, settings.tz, frozenset(settings.holidays), fairness.to_dict())
    Path(args.out).write_text(page, encoding="utf-8")
    print(
        f"wrote {args.out}: {len(all_cells)} cells, {calc['summary']['critical_gaps_total']} critical gaps "
        f"in {lines_text(len(groups))}"
    )
    return 0


def cmd_coverage_recalc(args: argparse.Namespace) -> int:
    from schedcu.operations.version_command import ask
    from schedcu.queries.coverage import calculation_view
    from schedcu.views.terminal import print_summary
    from services.coverage.calculation import calculation_id_for
    from shared.db.session import transaction
    from shared.kernel.contracts import CalculateCoverage

    message_id = f"recalc:{args.version}:{uuid.uuid4()}"
    calculation_id = calculation_id_for(message_id)
    command = CalculateCoverage(workflow_id=None, version_id=args.version)
    asked = ask(args.version, command, message_id, f"recalculation requested: calculation {calculation_id}")
    if asked:
        return asked
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        with transaction() as session:
            calc = calculation_view(session, calculation_id)
        if calc is not None:
            print_summary(calc)
            return 0
        time.sleep(0.5)
    print(f"calculation {calculation_id} not stored within {args.timeout:.0f} s", file=sys.stderr)
    return 2


def _correct(args: argparse.Namespace) -> int:
    from services.coverage import corrections
    from shared.db.session import transaction

    try:
        with transaction() as session:
            if args.assign_command == "add":
                changes = corrections.add(
                    session, args.version, args.date, args.role, args.person, args.reason, args.actor, args.replace
                )
            else:
                changes = corrections.remove(
                    session, args.version, args.date, args.role, args.person, args.reason, args.actor
                )
    except corrections.CorrectionError as error:
        print(error, file=sys.stderr)
        return 1
    for change in changes:
        print(change)
    print(f"coverage is unchanged until `schedcu coverage recalc {args.version}`")
    return 0


def register(sub: Subparsers) -> None:
    c = sub.add_parser("coverage", help="coverage results").add_subparsers(dest="cov_command", required=True)
    show = c.add_parser("show", help="the latest coverage of a version: summary, then critical gaps by date")
    show.add_argument("version", type=uuid_id)
    show.add_argument("--json", action="store_true")
    show.add_argument("--date", type=iso_date, help="YYYY-MM-DD: that date's gaps and cells")
    show.add_argument("--all", action="store_true", help="every line of gaps (default: the first 20)")
    show.set_defaults(func=cmd_coverage_show)

    report = c.add_parser("report", help="a self-contained HTML page: heat map and gaps")
    report.add_argument("version", type=uuid_id)
    report.add_argument("--out", type=new_file, required=True, help="FILE.html")
    report.set_defaults(func=cmd_coverage_report)

    recalc = c.add_parser("recalc", help="calculate a version's coverage again (after corrections)")
    recalc.add_argument("version", type=uuid_id)
    recalc.add_argument("--wait", action="store_true", help="wait for the result and print it")
    recalc.add_argument("--timeout", type=seconds, default=120.0)
    recalc.set_defaults(func=cmd_coverage_recalc)

    gaps = sub.add_parser("gaps", help="each gap of the latest coverage with its candidates, ranked by fairness")
    gaps.add_argument("version", type=uuid_id)
    gaps.add_argument("--date", type=iso_date, help="YYYY-MM-DD: that date's gaps only")
    gaps.add_argument("--top", type=count, default=3, help="candidates shown per gap (default 3; --json gives all)")
    gaps.add_argument("--json", action="store_true", help="every gap, every candidate and who is left out, why")
    gaps.set_defaults(func=cmd_gaps)

    a = sub.add_parser("assignments", help="manual corrections of assignments (audited)")
    a_sub = a.add_subparsers(dest="assign_command", required=True)
    for name, text in (
        ("add", "assign PERSON to ROLE on DATE (source MANUAL; OVERRIDE with --replace over Amion)"),
        ("remove", "remove PERSON from ROLE on DATE"),
    ):
        p = a_sub.add_parser(name, help=text)
        p.add_argument("version", type=uuid_id)
        p.add_argument("date", type=iso_date, help="schedule date, YYYY-MM-DD")
        p.add_argument("role", help="ON1, ON2, MidC, MidL, Mid3, ...")
        p.add_argument("person", help="email, or exact name or Amion alias")
        p.add_argument("--reason", required=True)
        p.add_argument("--actor", default=actor(), help="who makes the change (default: the login name)")
        if name == "add":
            p.add_argument("--replace", action="store_true", help="remove the role's other people that date first")
        p.set_defaults(func=_correct)
