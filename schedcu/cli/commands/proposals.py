"""`schedcu proposals create|list|show|edit|approve|reject` and `schedcu fairness`."""

import argparse
import json
import sys
from typing import Any

from schedcu.cli.arguments import Subparsers, actor, iso_date, uuid_id
from shared.kernel.states import ProposalState


def _role(p: dict[str, Any]) -> str:
    role = p["role"] if p["role"] == p["assign_role"] else f"{p['role']} (as {p['assign_role']})"
    return f"{role} {p['start'][11:16]}-{p['end'][11:16]}" if p["start"] else role


def _line(p: dict[str, Any]) -> str:
    """E.g. `proposal 1f..: Gray, Gia on Mid3 18:00-01:00 on 2026-12-09, fills 21 gaps: PROPOSED`."""
    fills = f"fills {len(p['fills'])} gap{'' if len(p['fills']) == 1 else 's'}"
    if p["stays_open"]:
        fills += f", leaves {len(p['stays_open'])} open"
    return f"proposal {p['proposal_id']}: {p['person']['name']} on {_role(p)} on {p['date']}, {fills}: {p['state']}"


def _step(args: argparse.Namespace) -> int:
    from schedcu.queries.proposals import proposal
    from services.coverage import proposals
    from services.coverage.calculation import CalculationOptions
    from shared.db.session import transaction
    from shared.settings import get_settings

    options = CalculationOptions.from_settings(get_settings())
    recalculation = None
    try:
        with transaction() as session:
            if args.proposal_command == "edit":
                proposals.edit(session, args.proposal, args.candidate, options, args.actor)
            elif args.proposal_command == "approve":
                _, recalculation = proposals.approve(session, args.proposal, options, args.actor)
            else:
                proposals.reject(session, args.proposal, args.reason, args.actor)
            view = proposal(session, args.proposal, options.tz)
    except proposals.ProposalError as error:
        print(error, file=sys.stderr)
        return 1
    assert view is not None
    print(_line(view))
    if recalculation is not None:
        print(f"assigned as OVERRIDE; recalculation requested: calculation {recalculation}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from services.coverage import proposals
    from services.coverage.calculation import CalculationOptions
    from shared.db.session import transaction
    from shared.settings import get_settings

    options = CalculationOptions.from_settings(get_settings())
    try:
        with transaction() as session:
            created = proposals.create(session, args.version, options, args.actor, args.date)
    except proposals.ProposalError as error:
        print(error, file=sys.stderr)
        return 1
    for proposal_id in created.proposals:
        print(proposal_id)
    print(created.text(), file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from schedcu.queries.proposals import proposals
    from schedcu.views.terminal import table
    from shared.db.session import transaction
    from shared.settings import get_settings

    with transaction() as session:
        found = proposals(session, args.version, get_settings().tz, args.state)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    rows = [
        [p["proposal_id"], p["date"], _role(p), len(p["fills"]), len(p["stays_open"]), p["state"], p["person"]["name"]]
        for p in found
    ]
    print(f"{len(rows)} proposals")
    if rows:
        print(table(["id", "date", "role", "fills", "open", "state", "candidate"], rows))
    return 0


def _print_proposal(found: dict[str, Any]) -> None:
    print(_line(found))
    print(f"  version {found['version_id']}, candidate {found['person']['email']}")
    print("  fills:")
    for c in found["fills"]:
        print(f"    {c['worklist']} in {c['window']} ({c['status']})")
    if found["stays_open"]:
        print("  stays open:")
        for c in found["stays_open"]:
            print(f"    {c['worklist']} in {c['window']} ({c['status']}): {c['reason']}")
    print("  history:")
    for h in found["history"]:
        before = f"{h['from_state']} ({h['from_person']})" if h["from_state"] else "-"
        why = f": {h['reason']}" if h["reason"] else ""
        print(f"    {h['at']}  {h['actor']}  {h['action']}  {before} -> {h['to_state']} ({h['to_person']}){why}")


def cmd_show(args: argparse.Namespace) -> int:
    from schedcu.queries.proposals import proposal
    from schedcu.views.terminal import print_view
    from shared.db.session import transaction
    from shared.settings import get_settings

    with transaction() as session:
        found = proposal(session, args.proposal, get_settings().tz)
    return print_view(found, f"no proposal {args.proposal}", args.json, _print_proposal)


def cmd_fairness(args: argparse.Namespace) -> int:
    from schedcu.errors import UsageMistake
    from schedcu.views.terminal import table
    from services.coverage.calculation import CalculationOptions
    from services.coverage.fairness import OutsidePeriod, fairness_report
    from shared.db.session import transaction
    from shared.settings import get_settings

    try:
        with transaction() as session:
            report = fairness_report(
                session, args.version, CalculationOptions.from_settings(get_settings()), args.start, args.end
            )
    except OutsidePeriod as error:
        raise UsageMistake(str(error)) from None
    if report is None:
        print(f"schedule version {args.version} does not exist", file=sys.stderr)
        return 1
    found = report.to_dict()
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"fairness of version {report.version_id}, {report.start.isoformat()} .. {report.end.isoformat()}")
    rows = [
        [
            p["name"] + ("" if p["active"] else " (inactive)"),
            p["nights"],
            p["weekends"],
            p["holidays"],
            f"{p['hours']:g}",
        ]
        for p in found["people"]
    ]
    print(table(["person", "nights", "weekends", "holidays", "hours"], rows))
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("proposals", help="proposals to fill gaps: create, edit, approve, reject (with history)")
    p_sub = p.add_subparsers(dest="proposal_command", required=True)
    create = p_sub.add_parser(
        "create", help="a PROPOSED proposal for every gap line (a role on a date) with its best candidate"
    )
    create.add_argument("version", type=uuid_id)
    create.add_argument("--date", type=iso_date, help="YYYY-MM-DD: that date's gaps only")
    create.set_defaults(func=cmd_create)

    listing = p_sub.add_parser("list", help="a version's proposals")
    listing.add_argument("version", type=uuid_id)
    listing.add_argument("--state", choices=[str(s) for s in ProposalState])
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    show = p_sub.add_parser("show", help="one proposal with its history")
    show.add_argument("proposal", type=uuid_id)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    edit = p_sub.add_parser("edit", help="put another of the gap line's candidates forward (EDITED)")
    edit.add_argument("proposal", type=uuid_id)
    edit.add_argument("--candidate", required=True, help="email, or exact name or Amion alias")
    approve = p_sub.add_parser("approve", help="assign the candidate as an OVERRIDE and recalculate coverage")
    approve.add_argument("proposal", type=uuid_id)
    reject = p_sub.add_parser("reject", help="turn the proposal down (REJECTED)")
    reject.add_argument("proposal", type=uuid_id)
    reject.add_argument("--reason", required=True)
    for step in (create, edit, approve, reject):
        step.add_argument("--actor", default=actor(), help="who takes the step (default: the login name)")
    for step in (edit, approve, reject):
        step.set_defaults(func=_step)

    fair = sub.add_parser("fairness", help="per person: nights, weekends, holidays and hours in a period")
    fair.add_argument("version", type=uuid_id)
    fair.add_argument("--from", dest="start", type=iso_date, help="YYYY-MM-DD (default: the period's start)")
    fair.add_argument("--to", dest="end", type=iso_date, help="YYYY-MM-DD (default: the period's end)")
    fair.add_argument("--json", action="store_true")
    fair.set_defaults(func=cmd_fairness)
