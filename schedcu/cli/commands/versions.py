"""`schedcu submit` and `schedcu workflows ...`."""

import argparse
import json
import sys
import uuid
from typing import Any

from schedcu.cli.arguments import Subparsers, actor, count, existing_file, iso_date, reason, seconds, uuid_id
from schedcu.errors import Mistake, UsageMistake
from schedcu.operations.workflow_progress import TERMINAL, print_workflow, wait_for, workflow
from shared.kernel.states import VersionState, WorkflowState


def cmd_submit(args: argparse.Namespace) -> int:
    import asyncio

    from schedcu.operations.submit import check_request, import_request, publish_request
    from schedcu.queries.versions import workflow_request
    from shared.db.session import transaction
    from shared.kernel import ids
    from shared.kernel.contracts import Period
    from shared.settings import get_settings

    check_request(args.template, args.start, args.end, args.amion_account, get_settings())
    request_id = args.request_id or f"cli-{uuid.uuid4()}"
    request = import_request(
        args.template,
        group=args.group,
        period=Period(start=args.start, end=args.end),
        amion_account=args.amion_account,
        requested_by=args.requested_by,
        request_id=request_id,
    )
    if args.dry_run:
        return print_dry_run(request)
    workflow_id = ids.workflow_id_for(request_id)
    if not args.wait:  # publish only, as an upstream system does; the saga answers a reused id on the bus
        asyncio.run(publish_request(get_settings(), request))
        print(f"workflow {workflow_id} (request {request_id})", flush=True)
        return 0
    with transaction() as session:
        known = workflow_request(session, workflow_id)
    if known is not None:
        return _already_known(request, workflow_id, *known, args.timeout)
    asyncio.run(publish_request(get_settings(), request))
    print(f"workflow {workflow_id} (request {request_id})", flush=True)
    return _waited(workflow_id, args.timeout)


def _already_known(
    request: Any, workflow_id: uuid.UUID, kind: str, state: str, stored: dict[str, Any], timeout_s: float
) -> int:
    """`submit --wait` with a request id that already names a workflow: the identical request is answered with
    that workflow, waited for; another request under it is refused, as the saga refuses it."""
    from services.versions.requests import kind_text, reuse_reason, reused_text
    from shared.kernel.contracts import ImportRequested
    from shared.kernel.states import WorkflowKind

    if kind != WorkflowKind.IMPORT:
        reason = reused_text(request.request_id, workflow_id, kind_text(kind))
    else:
        reason = reuse_reason(ImportRequested.model_validate(stored), request, workflow_id)
    if reason is not None:
        print(f"ImportRejected REQUEST_ID_REUSED: {reason}", file=sys.stderr)
        return 1
    print(f"request {request.request_id} was already submitted: workflow {workflow_id} is {state}", flush=True)
    return _waited(workflow_id, timeout_s)


def _waited(workflow_id: uuid.UUID, timeout_s: float) -> int:
    view = wait_for(workflow_id, timeout_s)
    if view is None or view["state"] not in TERMINAL:
        print(f"workflow {workflow_id} did not finish within {timeout_s:.0f} s", file=sys.stderr)
        return 2
    print(f"workflow {workflow_id}: {view['state']} (version {view['version_id']})")
    return 1 if view["state"] == WorkflowState.FAILED else 0


def _print_findings(findings: Any) -> None:
    for f in findings:
        print(f"    {f.severity.value:<7} {f.code}: {f.text}" + (f" [{f.location}]" if f.location else ""))


def print_dry_run(request: Any) -> int:
    from schedcu.operations.dry_run import dry_run
    from schedcu.views.terminal import print_summary

    report = dry_run(request)
    print("DRY RUN: the three phases ran and were rolled back; nothing was stored or published.")
    if report.would_fail:
        print("template: the import would FAIL; no version would be created")
        _print_findings(report.template_findings)
        return 1
    shifts = sum(report.shifts_by_role.values())
    print(f"template: {report.layout} layout, {report.windows} windows, {shifts} shift instances "
          f"({', '.join(f'{role} {n}' for role, n in report.shifts_by_role.items())})")  # fmt: skip
    _print_findings(report.template_findings)
    months = ", ".join(f"{month} {outcome}" for month, outcome in report.scrape_months.items())
    print(f"Amion ({request.amion_account}): {report.scrape_state}; {report.assignments} assignments"
          + (f" ({months})" if months else ""))  # fmt: skip
    _print_findings(report.scrape_findings)
    if report.coverage is not None:
        print_summary(report.coverage)
    return 0


def cmd_workflows_show(args: argparse.Namespace) -> int:
    from schedcu.views.terminal import print_view

    return print_view(workflow(args.id), f"no workflow {args.id}", args.json, print_workflow)


def cmd_workflows_list(args: argparse.Namespace) -> int:
    from schedcu.queries.versions import workflow_rows
    from shared.db.models import Workflow
    from shared.db.session import transaction

    with transaction() as session:
        known_group(session, args.group, Workflow.group_name)
        rows = workflow_rows(session, args.state, args.limit, group=args.group, request_id=args.request)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'workflow':<36}  {'kind':<8}  {'trigger':<7}  {'state':<23}  {'created':<19}  request")
    for r in rows:
        print(
            f"{r['workflow_id']:<36}  {r['kind']:<8}  {r['trigger']:<7}  {r['state']:<23}  {r['created_at'][:19]:<19}  "
            f"{r['request_id']}"
        )
    return 0


def _operate(action: Any) -> int:
    from services.versions.workflow import Refused

    try:
        print(action())
    except Refused as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_workflows_retry(args: argparse.Namespace) -> int:
    from services.versions import operator_actions
    from shared.settings import get_settings

    return _operate(
        lambda: f"workflow {args.id}: retrying from {operator_actions.retry(args.id, actor(), get_settings())}"
    )


def cmd_workflows_cancel(args: argparse.Namespace) -> int:
    from schedcu.views.terminal import confirm
    from services.versions import operator_actions
    from shared.settings import get_settings

    if not args.yes:
        view = workflow(args.id)
        if view is None:
            raise Mistake(f"no workflow {args.id} (see `schedcu workflows list`)")
        confirm(
            f"Cancel workflow {args.id} (request {view['request_id']}, group {view['group']}, {view['state']})? "
            "It ends FAILED.",
            f"cancelling workflow {args.id} cannot be undone: add --yes to confirm (at a terminal you are asked)",
        )

    def cancel() -> str:
        operator_actions.cancel(args.id, actor(), args.reason, get_settings())
        return f"workflow {args.id}: cancelled"

    return _operate(cancel)


def known_group(session: Any, group: str | None, names: Any) -> None:
    """Refuse a hospital group not among `names` (a column): an unknown one would list nothing and say nothing."""
    from sqlalchemy import select

    if group is None:
        return
    known = session.scalars(select(names).distinct().order_by(names)).all()
    if group not in known:
        raise UsageMistake(f"no hospital group {group!r}; the known groups: {', '.join(known) or 'none yet'}")


def cmd_versions_list(args: argparse.Namespace) -> int:
    from schedcu.queries.versions import version_rows
    from shared.db.models import HospitalGroup
    from shared.db.session import transaction

    with transaction() as session:
        known_group(session, args.group, HospitalGroup.name)
        rows = version_rows(session, args.group, args.state)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'version':<36}  {'group':<12} {'state':<10} {'period':<23}  template")
    for r in rows:
        period = f"{r['period']['start']}..{r['period']['end']}"
        print(f"{r['version_id']:<36}  {r['group']:<12} {r['state']:<10} {period:<23}  {r['template']}")
    return 0


def _print_version(view: dict[str, Any]) -> None:
    print(
        f"version {view['version_id']}  group {view['group']}  {view['state']}"
        + (f"  (deleted {view['deleted_at']})" if view["deleted_at"] else "")
    )
    print(
        f"period {view['period']['start']}..{view['period']['end']}  template {view['template']}  "
        f"layout {view['layout']}  workflow {view['workflow_id']}"
    )
    print(f"{view['shift_instances']} shift instances, {view['assignments']} assignments")
    coverage = view["coverage"]
    if coverage is None:
        print("coverage: not calculated")
    else:
        print(f"coverage: {coverage['text']}; {coverage['critical_gaps']} critical gaps "
              f"(calculation {coverage['calculation_id']})")  # fmt: skip
    for f in view["findings"]:
        print(f"  {f['severity']:<7} {f['code']}: {f['text']}" + (f" [{f['location']}]" if f.get("location") else ""))
    print("history:")
    for a in view["audit"]:
        print(
            f"  {a['at'][:19]}  {a['actor']:<12} {a['action']:<8} {a['from'] or '-'} -> {a['to'] or '-'}"
            + (f"  ({a['reason']})" if a["reason"] else "")
        )


def cmd_versions_show(args: argparse.Namespace) -> int:
    from schedcu.queries.versions import version_view
    from schedcu.views.terminal import print_view
    from shared.db.session import transaction

    with transaction() as session:
        view = version_view(session, args.id)
    return print_view(view, f"no version {args.id}", args.json, _print_version)


def _transition(change: Any) -> int:
    from services.versions.lifecycle import TransitionRefused
    from shared.db.session import transaction

    try:
        with transaction() as session:
            message = change(session)
    except TransitionRefused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    print(message)
    return 0


def cmd_versions_promote(args: argparse.Namespace) -> int:
    from services.versions import lifecycle

    def change(session: Any) -> str:
        archived = lifecycle.promote(session, args.id, actor(), force=args.force, reason=args.reason)
        return f"version {args.id} is PRODUCTION" + (f"; archived {', '.join(map(str, archived))}" if archived else "")

    return _transition(change)


def cmd_versions_archive(args: argparse.Namespace) -> int:
    from services.versions import lifecycle

    def change(session: Any) -> str:
        lifecycle.archive(session, args.id, actor(), args.reason)
        return f"version {args.id} is ARCHIVED"

    return _transition(change)


def cmd_versions_delete(args: argparse.Namespace) -> int:
    from services.versions import lifecycle

    def change(session: Any) -> str:
        lifecycle.delete(session, args.id, actor(), args.reason)
        return f"version {args.id} is deleted"

    return _transition(change)


def cmd_versions_diff(args: argparse.Namespace) -> int:
    from schedcu.operations.diff import diff
    from shared.db.session import transaction

    with transaction() as session:
        changes = diff(session, args.a, args.b)
    if args.json:
        print(json.dumps({k: vars(c) for k, c in changes.items()}, indent=2, default=str))
        return 0
    for what, c in changes.items():
        counts = c.counts()
        print(f"{what}: {counts['added']} added, {counts['removed']} removed, {counts['changed']} changed")
        for label, items in (("+", c.added), ("-", c.removed), ("~", c.changed)):
            for item in items[: args.limit]:
                print(f"  {label} {json.dumps(item, default=str)}")
            if len(items) > args.limit:
                print(f"  {label} ... and {len(items) - args.limit} more")
    return 0


def register(sub: Subparsers) -> None:
    s = sub.add_parser("submit", help="publish an import request")
    s.add_argument("template", type=existing_file, help="the coverage template, an .ods file")
    s.add_argument("--group", required=True)
    s.add_argument("--start", type=iso_date, required=True, help="YYYY-MM-DD")
    s.add_argument("--end", type=iso_date, required=True, help="YYYY-MM-DD, at most SCHEDCU_MAX_PERIOD_DAYS on")
    s.add_argument("--amion-account", required=True)
    s.add_argument("--request-id", help="idempotency key (default: a new one)")
    s.add_argument("--requested-by", default="cli")
    s.add_argument(
        "--wait", action="store_true",
        help="wait for the workflow to end, showing progress; a request id already used is answered at once",
    )  # fmt: skip
    s.add_argument("--timeout", type=seconds, default=600.0)
    s.add_argument(
        "--dry-run", action="store_true", help="run the three phases here and roll back: what would the version hold?"
    )
    s.set_defaults(func=cmd_submit)

    wf = sub.add_parser("workflows", help="import workflows").add_subparsers(dest="wf_command", required=True)
    show = wf.add_parser("show", help="one workflow with its phases")
    show.add_argument("id", type=uuid_id)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_workflows_show)
    ls = wf.add_parser("list", help="recent workflows, newest first")
    ls.add_argument("--state", choices=sorted(TERMINAL | {"RUNNING"}))
    ls.add_argument("--group", help="only this hospital group's workflows")
    ls.add_argument("--request", help="only the workflow of this request id")
    ls.add_argument("--limit", type=count, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_workflows_list)
    retry = wf.add_parser("retry", help="run a failed workflow again from its failed phase")
    retry.add_argument("id", type=uuid_id)
    retry.set_defaults(func=cmd_workflows_retry)
    cancel = wf.add_parser("cancel", help="stop a running workflow (it ends FAILED); asks first unless --yes")
    cancel.add_argument("id", type=uuid_id)
    cancel.add_argument("--reason", type=reason, required=True, help="why, kept in the workflow's history")
    cancel.add_argument("--yes", action="store_true", help="cancel without asking")
    cancel.set_defaults(func=cmd_workflows_cancel)

    v = sub.add_parser("versions", help="schedule versions").add_subparsers(dest="v_command", required=True)
    vl = v.add_parser("list", help="versions, by period")
    vl.add_argument("--group")
    vl.add_argument("--state", choices=[str(s) for s in VersionState])
    vl.add_argument("--json", action="store_true")
    vl.set_defaults(func=cmd_versions_list)
    vs = v.add_parser("show", help="one version with its findings and history")
    vs.add_argument("id", type=uuid_id)
    vs.add_argument("--json", action="store_true")
    vs.set_defaults(func=cmd_versions_show)
    vp = v.add_parser("promote", help="STAGING -> PRODUCTION; archives the overlapping production versions")
    vp.add_argument("id", type=uuid_id)
    vp.add_argument("--force", action="store_true", help="promote despite import errors or critical gaps")
    vp.add_argument("--reason", help="why (required with --force)")
    vp.set_defaults(func=cmd_versions_promote)
    va = v.add_parser("archive", help="PRODUCTION -> ARCHIVED")
    va.add_argument("id", type=uuid_id)
    va.add_argument("--reason")
    va.set_defaults(func=cmd_versions_archive)
    vd = v.add_parser("delete", help="soft-delete a STAGING version")
    vd.add_argument("id", type=uuid_id)
    vd.add_argument("--reason", required=True)
    vd.set_defaults(func=cmd_versions_delete)
    vx = v.add_parser("diff", help="what changed from version A to version B")
    vx.add_argument("a", type=uuid_id)
    vx.add_argument("b", type=uuid_id)
    vx.add_argument("--json", action="store_true")
    vx.add_argument("--limit", type=count, default=10, help="items shown per kind of change")
    vx.set_defaults(func=cmd_versions_diff)
