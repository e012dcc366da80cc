"""`schedcu draft ...`: the drafting inputs (limits, person, hours, rotation, exception, timeoff, request), each
change audited, and the draft runs (new, runs, show)."""

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

from schedcu.cli.arguments import Subparsers, actor, count, iso_date, seconds, uuid_id

FINAL_RUN_STATES = ("completed", "failed", "crashed")

LIMIT_OPTIONS = (
    ("nights", "nights per period (scaled by FTE)"),
    ("consecutive", "the longest run of nights"),
    ("free_between", "free days between two runs of nights"),
    ("weekends", "weekends with a night per period"),
)


def limit_value(text: str) -> int | None:
    """A limit: a whole number, or `none` to clear it."""
    if text.strip().lower() == "none":
        return None
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a limit: give a whole number, or none to clear it")
    return int(text)


def optional_date(text: str) -> Any:
    return None if text.strip().lower() == "none" else iso_date(text)


def fte(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an FTE share: give a number, e.g. 0.8") from None


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The options the command line gave (they default to argparse.SUPPRESS: absent means unchanged)."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def _run(change: Callable[[Any], object]) -> int:
    """Run `change(session)` in one transaction and print what it says; a refused input or decision is one line on
    stderr and status 1."""
    from schedcu.operations.draft_approval import REFUSED
    from services.drafting.inputs import InputError
    from shared.db.session import transaction

    try:
        with transaction() as session:
            shown = change(session)
    except (InputError, *REFUSED) as error:
        print(error, file=sys.stderr)
        return 1
    if isinstance(shown, list):
        for line in shown:
            print(line)
    elif shown is not None:
        print(shown)
    return 0


def cmd_limits(args: argparse.Namespace) -> int:
    from schedcu.views.draft_view import settings_text
    from services.drafting import inputs

    values = _given(args, inputs.LIMITS)
    if not values:
        return _run(lambda s: f"{args.group}: {settings_text(inputs.group_limits(s, args.group))}")
    return _run(
        lambda s: (
            f"{args.group}: {settings_text(inputs.set_group_limits(s, args.group, values, args.actor, args.reason))}"
        )
    )


def cmd_person(args: argparse.Namespace) -> int:
    from schedcu.views.draft_view import settings_text
    from services.drafting import inputs

    values = _given(args, inputs.PERSON_COLUMNS)
    if args.person is None:
        return _run(lambda s: [f"{name}: {settings_text(v)}" for name, v in inputs.people_settings(s, args.group)])
    if not values:
        raise_usage("say what to set: --fte, --from, --to or a limit (list them all: `schedcu draft person GROUP`)")
    return _run(
        lambda s: (
            f"{args.person}: "
            + settings_text(inputs.set_person(s, args.group, args.person, values, args.actor, args.reason))
        )
    )


def raise_usage(message: str) -> NoReturn:
    from schedcu.errors import UsageMistake

    raise UsageMistake(message)


def cmd_hours(args: argparse.Namespace) -> int:
    from services.drafting import inputs

    if args.role is None:
        return _run(lambda s: [f"{role:<8} {hours}" for role, hours in inputs.role_hours(s, args.group)])
    if (args.hours is None) == (not args.clear):
        raise_usage("give the role's HOURS (e.g. 10p-8a), or --clear for the template's span")
    return _run(lambda s: inputs.set_hours(s, args.group, args.role, args.hours, args.actor, args.reason))


def cmd_rotation(args: argparse.Namespace) -> int:
    from services.drafting import inputs

    if args.action == "list":
        return _run(lambda s: [str(r) for r in inputs.rotations(s, args.group)])
    if args.action == "remove":
        return _run(
            lambda s: inputs.remove_rotation(s, args.id, args.actor, args.reason) or f"removed rotation {args.id}"
        )
    return _run(
        lambda s: (
            "added rotation "
            + str(
                inputs.add_rotation(
                    s, args.group, args.weekday, args.role, args.person, args.first, args.last, args.actor, args.reason
                )
            )
        )
    )


def cmd_exception(args: argparse.Namespace) -> int:
    from services.drafting import inputs

    if args.action == "list":
        return _run(
            lambda s: [
                f"{i:>5}  {day} {role:<8} {name or 'nobody (drafted)'}"
                for i, day, role, name in inputs.exceptions(s, args.group)
            ]
        )
    if args.action == "remove":
        return _run(
            lambda s: inputs.remove_exception(s, args.id, args.actor, args.reason) or f"removed exception {args.id}"
        )
    if (args.person is None) == (not args.nobody):
        raise_usage("give the PERSON who holds the role that date, or --nobody")
    return _run(
        lambda s: inputs.set_exception(s, args.group, args.date, args.role, args.person, args.actor, args.reason)
    )


def cmd_timeoff(args: argparse.Namespace) -> int:
    from services.drafting import inputs

    if args.action == "list":
        return _run(
            lambda s: [
                f"{i:>5}  {name:<24} {first} .. {last}{f'  ({note})' if note else ''}"
                for i, name, first, last, note in inputs.time_off(s, args.person)
            ]
        )
    if args.action == "remove":
        return _run(
            lambda s: inputs.remove_time_off(s, args.id, args.actor, args.reason) or f"removed time off {args.id}"
        )
    from schedcu.operations import repairs

    # over dates a production version assigns to the person, its repair is requested with the time off
    return _run(
        lambda s: repairs.add_time_off(
            s, args.person, args.first, args.last, args.actor, args.note, args.reason
        ).lines()
    )


def cmd_request(args: argparse.Namespace) -> int:
    from services.drafting import inputs

    if args.action == "list":
        return _run(lambda s: [str(r) for r in inputs.requests(s, args.group)])
    if args.action == "remove":
        return _run(
            lambda s: inputs.remove_request(s, args.id, args.actor, args.reason) or f"removed request {args.id}"
        )
    return _run(
        lambda s: "added request "
        + str(
            inputs.add_request(
                s, args.group, args.person, args.kind == "on", args.weight, args.actor, args.date, args.weekday,
                args.role, args.reason,
            )
        )
    )  # fmt: skip


def workers_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of solver workers: give 1 to 64")
    return int(text)


def cmd_new(args: argparse.Namespace) -> int:
    from schedcu.operations.draft_new import NotDrafted, request_draft
    from schedcu.queries.versions import workflow_view
    from services.drafting.runs import run_view
    from shared.db.session import transaction
    from shared.kernel.states import TERMINAL

    try:
        requested = request_draft(
            args.group, args.start, args.end, args.actor, args.reason, args.time_limit, args.workers
        )
    except NotDrafted as error:
        print(error, file=sys.stderr)
        return 1
    print(requested.text(), flush=True)
    if not args.wait:
        return 0
    workflow_id, run_id = requested.workflow_id, requested.run_id
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        with transaction() as session:
            workflow = workflow_view(session, workflow_id)
            view = run_view(session, run_id)
        if workflow is not None and workflow["state"] in TERMINAL:
            if view is not None:
                print_run(view, None)
            for line in phase_lines(workflow_id, workflow["phases"]):
                print(line)
            print(f"workflow {workflow_id}: {workflow['state']}")
            return 0 if workflow["state"] != "FAILED" else 1
        time.sleep(0.5)
    print(f"draft workflow {workflow_id} did not end within {args.timeout:.0f} s (see `schedcu draft runs`)",
          file=sys.stderr)  # fmt: skip
    return 2


def phase_lines(workflow_id: uuid.UUID, phases: list[dict[str, Any]]) -> list[str]:
    """Each phase's messages of its last attempt: its notes, every ERROR and WARNING finding, and how many INFO
    findings there are (`schedcu workflows show` lists them)."""
    lines = []
    for phase in phases:
        messages = phase["attempts"][-1]["messages"] if phase["attempts"] else []
        infos = [m for m in messages if m["severity"] == "INFO" and m["code"] != "NOTE"]
        lines += [f"  {phase['phase']}: {m['text']}" for m in messages if m not in infos]
        if infos:
            shown = f"`schedcu workflows show {workflow_id}` lists them"
            lines.append(f"  {phase['phase']}: {len(infos)} INFO findings ({shown})")
    return lines


def draft_row(text: str) -> tuple[date, str]:
    """DATE:ROLE, e.g. 2026-05-04:ON1."""
    from schedcu.operations.draft_approval import row_key

    try:
        return row_key(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_edit(args: argparse.Namespace) -> int:
    from schedcu.operations.draft_approval import edited
    from services.drafting.handlers import options_from
    from shared.settings import get_settings

    options = options_from(get_settings())
    return _run(lambda s: edited(s, args.run, args.date, args.role, args.person, options, args.actor, args.reason))


def cmd_approve(args: argparse.Namespace) -> int:
    from schedcu.operations.draft_approval import approved

    return _run(lambda s: approved(s, args.run, args.row, args.actor, args.reason))


def cmd_reject(args: argparse.Namespace) -> int:
    from schedcu.operations.draft_approval import rejected

    return _run(lambda s: rejected(s, args.run, args.row, args.actor, args.reason))


def cmd_export(args: argparse.Namespace) -> int:
    from schedcu.cli.arguments import folder, new_file
    from schedcu.errors import UsageMistake
    from schedcu.operations import exports
    from shared.db.session import transaction
    from shared.settings import get_settings

    try:
        out = (folder if args.format == "ics" else new_file)(args.out)
    except argparse.ArgumentTypeError as error:
        raise UsageMistake(f"--out: {error}") from None
    settings = get_settings()
    with transaction() as session:
        approved = exports.approved_draft(session, args.run, settings)
    if args.format == "ics":
        out.mkdir(exist_ok=True)
        files = {
            exports.calendar_path(out, email): data
            for email, data in exports.draft_calendars(approved, settings).items()
        }
    elif args.format == "csv":
        files = {out: exports.draft_csv(approved, settings)}
    else:
        files = {out: exports.draft_workbook(approved)}
    for path, data in files.items():
        path.write_bytes(data)
    print(f"wrote {len(approved.rows)} approved rows of run {args.run} into {len(files)} file(s) at {out}")
    return 0


def _wait_for(run_id: uuid.UUID, timeout: float) -> int:
    """Wait for the run to end and print it."""
    from services.drafting.runs import run_view
    from shared.db.session import transaction

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction() as session:
            view = run_view(session, run_id)
        if view is not None and view["state"] in FINAL_RUN_STATES:
            print_run(view, None)
            return 0 if view["state"] == "completed" else 1
        time.sleep(0.5)
    print(f"run {run_id} did not end within {timeout:.0f} s (see `schedcu draft runs`)", file=sys.stderr)
    return 2


def cmd_repair(args: argparse.Namespace) -> int:
    from schedcu.operations import repairs
    from services.drafting.repairs import RepairRefused
    from shared.db.session import transaction

    try:
        with transaction() as session:
            requested = repairs.request(
                session, args.version, args.person, args.first, args.last, args.actor, args.reason, args.time_limit
            )
    except RepairRefused as error:
        print(error, file=sys.stderr)
        return 1
    print(f"repair requested: run {requested.run_id}", flush=True)
    return _wait_for(requested.run_id, args.timeout) if args.wait else 0


def cmd_repair_decide(args: argparse.Namespace) -> int:
    from schedcu.operations import repairs as deciding
    from services.drafting.handlers import options_from
    from services.drafting.repairs import RepairRefused
    from shared.db.session import transaction
    from shared.settings import get_settings

    try:
        with transaction() as session:
            options = options_from(get_settings())
            if args.draft_command == "repair-approve":
                approved = deciding.approve(session, args.run, args.actor)
                lines = [*approved.moves, f"approved; recalculation requested: calculation {approved.recalculation_id}"]
            elif args.draft_command == "repair-edit":
                lines = deciding.edit(session, args.run, args.move, args.person, args.actor, options)
            else:
                lines = [f"move {args.move} rejected"]
                lines += deciding.reject(session, args.run, args.move, args.reason, args.actor, options)
    except RepairRefused as error:
        print(error, file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from services.drafting.runs import run_rows
    from shared.db.session import transaction

    with transaction() as session:
        found = run_rows(session, args.version, args.limit)
        lines = [
            f"{r.id}  {r.version_id}  {r.state:<9} {r.outcome or '-':<8} "
            f"{'-' if r.filled is None else f'{r.filled}/{r.to_fill}':>9} filled  "
            f"{'-' if r.seconds is None else f'{r.seconds:.1f} s':>8}  {r.started_at:%Y-%m-%d %H:%M}  {r.actor}"
            f"{f' ({r.reason})' if r.reason else ''}"
            for r in found
        ]
    if not lines:
        print("no draft runs")
    for line in lines:
        print(line)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from schedcu.queries.drafting import run_detail
    from shared.db.session import transaction

    with transaction() as session:
        view = run_detail(session, args.run)
    if view is None:
        print(f"draft run {args.run} does not exist", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    print_run(view, view["kept_rows"])
    return 0


def print_run(view: dict[str, Any], kept: list[dict[str, str]] | None) -> None:
    """The run's figures (while it solves, its progress), then (with `kept`) its grid of dates x roles (kept rows
    marked *), the unfilled roles with their reasons, the rotations left unhonored and the fairness table."""
    from schedcu.views.draft_view import CATEGORIES, fairness_rows, grid, progress_text, value_text

    outcome = f", {view['outcome']}" if view["outcome"] else ""
    print(f"run {view['run_id']} of version {view['version_id']}: {view['state']}{outcome}")
    if view["error"]:
        print(f"  {view['error']}")
    progress = progress_text(view["progress"]) if view["state"] == "running" else None
    if progress:
        print(f"  {progress}")
    if view["to_fill"] is not None:
        solver = f"{view['seconds']:.1f} s, {view['workers']} workers, limit {view['time_limit_s']:g} s"
        filled = f"{view['filled']} of {view['to_fill']} roles filled ({view['kept']} kept)"
        print(f"  {filled}, {view['unfilled']} unfilled, {solver}")
    if view["levels"]:
        print(f"  {'level':38} {'value':>10} {'bound':>10} {'proven':>7} {'time s':>7}")
    for r in view["levels"]:
        shown = [value_text(r["level"], v) for v in (r["value"], r["bound"])]
        print(
            f"  {r['level']:38} {shown[0]:>10} {shown[1]:>10} {'yes' if r['proven'] else 'no':>7} {r['seconds']:7.2f}"
        )
    if view.get("repair") and "moves" in view["repair"]:
        print_repair(view)
    if kept is None:
        return
    roles, days = grid({**view, "kept_rows": kept})
    if days:
        print()
        print(f"  {'date':<11}" + "".join(f"{role:<20}" for role in roles))
        for day, cells in days:
            texts = [
                "" if c is None else "(unfilled)" if c.person is None else c.person + " *" * c.kept
                for c in (cells.get(role) for role in roles)
            ]
            print(f"  {day:<11}" + "".join(f"{text:<20}" for text in texts))
        print("  * kept: the version's own assignment")
    for u in view["explanations"].get("unfilled", []):
        print(f"  unfilled: {u['text']}")
    for u in view["explanations"].get("unhonored", []):
        print(f"  rotation not honored: {u['text']}")
    for c in view["explanations"].get("conflicts", []):
        print(f"  kept assignments in conflict: {c}")
    people = fairness_rows(view["fairness"])
    if people:
        print()
        print("  fairness: nights held (history + this period) against the fair share, per category")
        print(f"  {'person':<24}" + "".join(f"{c.value:>30}" for c in CATEGORIES))
        for row in people:
            cells = [row.by_category[c] for c in CATEGORIES]
            texts = [f"{f.before}+{f.held} / {f.share:.2f} ({f.deviation:+.2f})" for f in cells]
            print(f"  {row.name:<24}" + "".join(f"{text:>30}" for text in texts))


def print_repair(view: dict[str, Any]) -> None:
    """A repair run's chain, each move with its state, and the fairness effect."""
    repair = view["repair"]
    bound = repair["lower_bound"]
    proof = "proven minimal" if repair["proven"] else f"lower bound {'unknown' if bound is None else bound}"
    print(f"  repair ({repair['why']}): {repair['changes']} changed assignments, {proof}")
    states = {(row["date"], row["role"]): row["state"] for row in view["rows"]}
    for move in repair["moves"]:
        after = f" (follows move {move['after']})" if move["after"] is not None else ""
        state = states.get((move["date"], move["role"]), "-")
        print(f"  {move['position']:>3}. {state:<9} {move['text']}{after}")
    for f in repair["fairness"]:
        print(
            f"  fairness, {f['category']}: largest deviation {f['largest_before']:.3f} -> {f['largest_after']:.3f}, "
            f"sum {f['sum_before']:.3f} -> {f['sum_after']:.3f}"
        )
    for c in view["explanations"].get("conflicts", []):
        print(f"  left as published: {c}")


def _audited(p: argparse.ArgumentParser) -> None:
    p.add_argument("--actor", default=actor(), help="who makes the change (default: the login name)")
    p.add_argument("--reason", help="why, for the audit log")


def _required_span(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="first", type=iso_date, required=True)
    p.add_argument("--to", dest="last", type=iso_date, required=True)


def _input(
    ds: Any,
    name: str,
    help: str,
    func: Callable[[argparse.Namespace], int],
    listed_by: str,
    *,
    add_help: str,
    what: str | None = None,
    listed_by_optional: bool = False,
) -> argparse.ArgumentParser:
    """An input's commands, each run by `func`: add, whose parser is returned for its arguments; list by
    `listed_by`; remove by id (audited)."""
    actions = ds.add_parser(name, help=help).add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help=add_help)
    add.set_defaults(func=func)
    listing = actions.add_parser("list")
    listing.add_argument(listed_by, nargs="?" if listed_by_optional else None)
    listing.set_defaults(func=func)
    remove = actions.add_parser("remove", help=f"remove a {what or name} by its id (see list)")
    remove.add_argument("id", type=int)
    _audited(remove)
    remove.set_defaults(func=func)
    return add


def register(sub: Subparsers) -> None:
    d = sub.add_parser("draft", help="drafting: its inputs (audited) and its runs")
    ds = d.add_subparsers(dest="draft_command", required=True)

    new = ds.add_parser(
        "new", help="draft a group's period: the group's version of exactly that period (a DRAFT workflow)"
    )
    new.add_argument("group")
    new.add_argument("--start", type=iso_date, required=True, help="the period's first schedule date, YYYY-MM-DD")
    new.add_argument("--end", type=iso_date, required=True, help="the period's last schedule date, YYYY-MM-DD")
    new.add_argument("--time-limit", type=seconds, help="solver seconds (default: SCHEDCU_DRAFT_TIME_LIMIT_S)")
    new.add_argument("--workers", type=workers_count, help="CP-SAT workers (default: SCHEDCU_DRAFT_WORKERS)")
    new.add_argument("--wait", action="store_true", help="wait for the draft and its coverage, and print them")
    new.add_argument("--timeout", type=seconds, default=600.0, help="how long --wait waits (default 600 s)")
    new.add_argument("--actor", default=actor(), help="who starts the run (default: the login name)")
    new.add_argument("--reason", help="why, for the run history")
    new.set_defaults(func=cmd_new)

    rp = ds.add_parser("repair", help="repair a version after PERSON became unavailable: the fewest changes")
    rp.add_argument("version", type=uuid_id)
    rp.add_argument("--person", required=True, help="email, or exact name or Amion alias")
    rp.add_argument("--from", dest="first", type=iso_date, required=True, help="first date unavailable")
    rp.add_argument("--to", dest="last", type=iso_date, help="last date unavailable (default: --from)")
    rp.add_argument("--time-limit", type=seconds, help="solver seconds (default: SCHEDCU_REPAIR_TIME_LIMIT_S)")
    rp.add_argument("--wait", action="store_true", help="wait for the run to end and print it")
    rp.add_argument("--timeout", type=seconds, default=120.0, help="how long --wait waits (default 120 s)")
    rp.add_argument("--actor", default=actor(), help="who asks (default: the login name)")
    rp.add_argument("--reason", help="why, e.g. sick call")
    rp.set_defaults(func=cmd_repair)

    ra_ = ds.add_parser("repair-approve", help="apply every open move of a repair run, or none")
    ra_.add_argument("run", type=uuid_id)
    ra_.add_argument("--actor", default=actor(), help="who approves (default: the login name)")
    ra_.set_defaults(func=cmd_repair_decide)

    re_ = ds.add_parser("repair-edit", help="put another PERSON on one move of a repair run; the others are re-checked")
    re_.add_argument("run", type=uuid_id)
    re_.add_argument("move", type=int, help="the move's position (see `draft show RUN`)")
    re_.add_argument("person", help="email, or exact name or Amion alias")
    re_.add_argument("--actor", default=actor(), help="who edits (default: the login name)")
    re_.set_defaults(func=cmd_repair_decide)

    rr = ds.add_parser("repair-reject", help="reject one move of a repair run; the others are re-checked")
    rr.add_argument("run", type=uuid_id)
    rr.add_argument("move", type=int, help="the move's position (see `draft show RUN`)")
    rr.add_argument("--reason", required=True)
    rr.add_argument("--actor", default=actor(), help="who rejects (default: the login name)")
    rr.set_defaults(func=cmd_repair_decide)

    rn = ds.add_parser("runs", help="the draft runs, newest first")
    rn.add_argument("--version", type=uuid_id, help="one version's only")
    rn.add_argument("--limit", type=count, default=50)
    rn.set_defaults(func=cmd_runs)

    sh = ds.add_parser("show", help="a run: figures per level, grid of dates x roles, unfilled roles with reasons")
    sh.add_argument("run", type=uuid_id)
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_show)

    ed = ds.add_parser("edit", help="put PERSON on ROLE on DATE in a draft, checked against every hard rule")
    ed.add_argument("run", type=uuid_id)
    ed.add_argument("--date", type=iso_date, required=True)
    ed.add_argument("--role", required=True)
    ed.add_argument("--person", required=True, help="email, or exact name or Amion alias")
    _audited(ed)
    ed.set_defaults(func=cmd_edit)
    for name, func, text in (
        ("approve", cmd_approve, "approve a draft's rows: they become the version's assignments (source DRAFT)"),
        ("reject", cmd_reject, "reject a draft's rows"),
    ):
        p = ds.add_parser(name, help=f"{text}; the whole draft, or --row DATE:ROLE ...")
        p.add_argument("run", type=uuid_id)
        p.add_argument("--row", type=draft_row, nargs="+", help="DATE:ROLE, e.g. 2026-05-04:ON1 (default: every row)")
        _audited(p)
        p.set_defaults(func=func)

    ex = ds.add_parser("export", help="a draft's approved rows: CSV (one row per date, role, person), ICS, ODS")
    ex.add_argument("run", type=uuid_id)
    ex.add_argument("--format", choices=("csv", "ics", "ods"), required=True)
    ex.add_argument("--out", required=True, help="FILE.csv, FILE.ods, or a FOLDER for one EMAIL.ics per person")
    ex.set_defaults(func=cmd_export)

    lim = ds.add_parser("limits", help="a group's limits: show them, or set (a number) or clear (none) some")
    lim.add_argument("group")
    for name, text in LIMIT_OPTIONS:
        lim.add_argument(
            f"--{name.replace('_', '-')}", dest=name, type=limit_value, default=argparse.SUPPRESS, help=text
        )
    _audited(lim)
    lim.set_defaults(func=cmd_limits)

    per = ds.add_parser("person", help="a person's FTE, active dates and limits in a group (no PERSON: list them)")
    per.add_argument("group")
    per.add_argument("person", nargs="?", help="email, or exact name or Amion alias")
    per.add_argument("--fte", type=fte, default=argparse.SUPPRESS, help="share of a full-time post, e.g. 0.8")
    per.add_argument("--from", dest="active_from", type=optional_date, default=argparse.SUPPRESS,
                     help="first active date, YYYY-MM-DD (none: open)")  # fmt: skip
    per.add_argument("--to", dest="active_to", type=optional_date, default=argparse.SUPPRESS,
                     help="last active date, YYYY-MM-DD (none: open)")  # fmt: skip
    for name, text in LIMIT_OPTIONS:
        per.add_argument(f"--{name.replace('_', '-')}", dest=name, type=limit_value, default=argparse.SUPPRESS,
                         help=f"{text} (none: the group's)")  # fmt: skip
    _audited(per)
    per.set_defaults(func=cmd_person)

    hrs = ds.add_parser("hours", help="a role's hours in a group where they differ from the template (no ROLE: list)")
    hrs.add_argument("group")
    hrs.add_argument("role", nargs="?")
    hrs.add_argument("hours", nargs="?", help="START-END as Amion labels them, e.g. 10p-8a or 17:00-01:00")
    hrs.add_argument("--clear", action="store_true", help="the template's span again")
    _audited(hrs)
    hrs.set_defaults(func=cmd_hours)

    ra = _input(ds, "rotation", "standing rotations: (weekday, role) -> person over dates", cmd_rotation, "group",
                add_help="PERSON holds ROLE every WEEKDAY from --from to --to")  # fmt: skip
    ra.add_argument("group")
    ra.add_argument("weekday", help="mon .. sun")
    ra.add_argument("role")
    ra.add_argument("person")
    _required_span(ra)
    _audited(ra)

    ea = _input(ds, "exception", "one date's exception to the rotations: another person, or nobody", cmd_exception,
                "group", add_help="ROLE on DATE goes to PERSON, or --nobody (the role is drafted)")  # fmt: skip
    ea.add_argument("group")
    ea.add_argument("date", type=iso_date)
    ea.add_argument("role")
    ea.add_argument("person", nargs="?")
    ea.add_argument("--nobody", action="store_true")
    _audited(ea)

    ta = _input(ds, "timeoff", "time off (hard), by schedule date, in every group", cmd_timeoff, "person",
                add_help="PERSON is off from --from to --to", what="time off", listed_by_optional=True)  # fmt: skip
    ta.add_argument("person")
    _required_span(ta)
    ta.add_argument("--note")
    _audited(ta)

    qa = _input(ds, "request", "weighted requests (soft): on or off a date, a weekday, a role", cmd_request, "group",
                add_help="PERSON wants to be on (or off) a --date, a --weekday or every date")  # fmt: skip
    qa.add_argument("group")
    qa.add_argument("person")
    qa.add_argument("kind", choices=("on", "off"))
    qa.add_argument("--date", type=iso_date)
    qa.add_argument("--weekday")
    qa.add_argument("--role")
    qa.add_argument("--weight", type=int, default=1, help="1 to 100 (default 1)")
    _audited(qa)
