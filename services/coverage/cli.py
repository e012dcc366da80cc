"""`schedcu coverage ...`."""

import argparse
import json
import sys
import uuid
from typing import Any

from shared.cli_support import Subparsers


def print_summary(calc: dict[str, Any]) -> None:
    s = calc["summary"]
    print(f"coverage of version {calc['version_id']} (calculation {calc['calculation_id']})")
    print(
        f"  cells {s['total']}  ratio {s['coverage_ratio']:.1%}  "
        + "  ".join(f"{k} {v}" for k, v in s["by_status"].items())
    )
    for hospital, counts in sorted(s["by_hospital"].items()):
        print(f"  {hospital:<8} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    gaps = s["critical_gaps"]
    print(f"  critical gaps: {len(gaps)}")
    for gap in gaps[:10]:
        print(f"    {gap['schedule_date']}  {gap['window']:<32} {gap['worklist']:<20} {gap['role']:<9} {gap['status']}")
    if len(gaps) > 10:
        print(f"    ... and {len(gaps) - 10} more")


def cmd_coverage_show(args: argparse.Namespace) -> int:
    from services.coverage.queries import latest_calculation
    from shared.db.session import transaction

    with transaction() as session:
        calc = latest_calculation(session, uuid.UUID(args.version))
    if calc is None:
        print(f"no coverage calculated for version {args.version}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(calc, indent=2))
    else:
        print_summary(calc)
    return 0


def register(sub: Subparsers) -> None:
    c = sub.add_parser("coverage", help="coverage results").add_subparsers(dest="cov_command", required=True)
    cs = c.add_parser("show", help="the latest coverage summary of a version")
    cs.add_argument("version")
    cs.add_argument("--json", action="store_true")
    cs.set_defaults(func=cmd_coverage_show)
