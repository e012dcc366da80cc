"""The `schedcu` command."""

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from shared.settings import get_settings

WORKERS = {
    "ods-importer": ("ods_importer", "services.ods_importer.handlers"),
    "amion-scraper": ("amion_scraper", "services.amion_scraper.handlers"),
    "coverage": ("coverage", "services.coverage.handlers"),
    "versions": ("versions", "services.versions.handlers"),
}
TERMINAL = {"COMPLETED", "COMPLETED_WITH_WARNINGS", "FAILED"}


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    from shared.db.migrate import upgrade

    upgrade()
    print("database is at the latest migration")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import importlib

    from shared.worker import run

    service, module = WORKERS[args.name]
    run(service, importlib.import_module(module).HANDLERS, port=args.port)
    return 0


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


def workflow(workflow_id: uuid.UUID) -> dict[str, Any] | None:
    from services.versions.queries import workflow_view
    from shared.db.session import transaction

    with transaction() as session:
        return workflow_view(session, workflow_id)


def wait_for(workflow_id: uuid.UUID, timeout_s: float) -> dict[str, Any] | None:
    """Poll the workflow until it ends, printing every phase change as it happens."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, tuple[str, int]] = {}
    view = None
    while time.monotonic() < deadline:
        view = workflow(workflow_id)
        if view is not None:
            for phase in view["phases"]:
                now = (phase["state"], phase["attempt"])
                if seen.get(phase["phase"]) != now:
                    seen[phase["phase"]] = now
                    print(f"  {phase['phase']:<13} {phase['state']:<9} attempt {phase['attempt']}", flush=True)
            if view["state"] in TERMINAL:
                return view
        time.sleep(0.5)
    return view


def cmd_submit(args: argparse.Namespace) -> int:
    from services.versions.submit import import_request, publish_request
    from shared import ids
    from shared.contracts import Period

    request_id = args.request_id or f"cli-{uuid.uuid4()}"
    request = import_request(
        Path(args.template),
        group=args.group,
        period=Period(start=args.start, end=args.end),
        amion_account=args.amion_account,
        requested_by=args.requested_by,
        request_id=request_id,
    )
    asyncio.run(publish_request(get_settings(), request))
    workflow_id = ids.workflow_id_for(request_id)
    print(f"workflow {workflow_id} (request {request_id})", flush=True)
    if not args.wait:
        return 0
    view = wait_for(workflow_id, args.timeout)
    if view is None or view["state"] not in TERMINAL:
        print(f"workflow {workflow_id} did not finish within {args.timeout:.0f} s", file=sys.stderr)
        return 2
    print(f"workflow {workflow_id}: {view['state']} (version {view['version_id']})")
    return 1 if view["state"] == "FAILED" else 0


def print_workflow(view: dict[str, Any]) -> None:
    print(f"workflow {view['workflow_id']}  request {view['request_id']}  group {view['group']}")
    print(f"state {view['state']}  version {view['version_id']}  created {view['created_at']}")
    for p in view["phases"]:
        duration = f"{p['duration_s']:.2f} s" if p["duration_s"] is not None else "-"
        print(
            f"  {p['phase']:<13} {p['state']:<9} attempt {p['attempt']}  started {p['started_at'] or '-'}  "
            f"took {duration}"
        )
        for m in p["messages"]:
            where = f" [{m['location']}]" if m.get("location") else ""
            print(f"      {m['severity']:<7} {m['code']}: {m['text']}{where}")


def cmd_workflows_show(args: argparse.Namespace) -> int:
    view = workflow(uuid.UUID(args.id))
    if view is None:
        print(f"no workflow {args.id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        print_workflow(view)
    return 0


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


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from shared.asyncapi import render

    text = render()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from schedcu.demo import run_demo

    return run_demo(month=args.month, workdir=Path(args.workdir))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="schedcu", description="Radiology night-coverage scheduling.")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    w = sub.add_parser("worker", help="run one service's worker")
    w.add_argument("name", choices=sorted(WORKERS))
    w.add_argument("--port", type=int, default=get_settings().http_port, help="/health and /metrics port")
    w.set_defaults(func=cmd_worker)

    f = sub.add_parser("fake-amion", help="serve a fake Amion from a ground-truth file")
    f.add_argument("--port", type=int, default=8999)
    f.add_argument("--host", default="127.0.0.1")
    f.add_argument("--truth", required=True)
    f.set_defaults(func=cmd_fake_amion)

    s = sub.add_parser("submit", help="publish an import request")
    s.add_argument("template")
    s.add_argument("--group", required=True)
    s.add_argument("--start", type=date.fromisoformat, required=True)
    s.add_argument("--end", type=date.fromisoformat, required=True)
    s.add_argument("--amion-account", required=True)
    s.add_argument("--request-id", help="idempotency key (default: a new one)")
    s.add_argument("--requested-by", default="cli")
    s.add_argument("--wait", action="store_true", help="wait for the workflow to end, showing progress")
    s.add_argument("--timeout", type=float, default=600.0)
    s.set_defaults(func=cmd_submit)

    wf = sub.add_parser("workflows", help="import workflows").add_subparsers(dest="wf_command", required=True)
    show = wf.add_parser("show", help="one workflow with its phases")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_workflows_show)

    r = sub.add_parser("roster", help="people").add_subparsers(dest="roster_command", required=True)
    ri = r.add_parser("import", help="reconcile the roster from a YAML or CSV file")
    ri.add_argument("file")
    ri.set_defaults(func=cmd_roster_import)

    c = sub.add_parser("coverage", help="coverage results").add_subparsers(dest="cov_command", required=True)
    cs = c.add_parser("show", help="the latest coverage summary of a version")
    cs.add_argument("version")
    cs.add_argument("--json", action="store_true")
    cs.set_defaults(func=cmd_coverage_show)

    a = sub.add_parser("asyncapi", help="print the AsyncAPI document")
    a.add_argument("--out")
    a.set_defaults(func=cmd_asyncapi)

    d = sub.add_parser("demo", help="the whole pipeline on a generated month, end to end")
    d.add_argument("--month", default=None, help="YYYY-MM (default: next month)")
    d.add_argument("--workdir", default=".schedcu/demo")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    sys.exit(args.func(args))
