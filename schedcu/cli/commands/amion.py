"""`schedcu roster ...`, `schedcu amion ...` and `schedcu fake-amion`."""

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedcu.cli.arguments import Subparsers, existing_file, month, port, uuid_id
from schedcu.errors import Mistake
from shared.kernel.states import BatchState

if TYPE_CHECKING:
    from shared.kernel.findings import Finding

MAX_PAGE_FILE_BYTES = 5_000_000


def cmd_fake_amion(args: argparse.Namespace) -> int:
    from schedcu.testing.fake_amion import serve

    serve(args.port, Path(args.truth), host=args.host)
    return 0


RosterEntry = tuple[str, str, tuple[str, ...], bool]  # name, specialty, aliases, active


@dataclass(frozen=True)
class RosterDiff:
    added: list[str]
    updated: list[str]
    deactivated: list[str]


def roster_diff(before: dict[str, RosterEntry], after: dict[str, RosterEntry]) -> RosterDiff:
    """Who an import adds, changes and makes inactive, by email, from the people before and after it."""
    return RosterDiff(
        added=sorted(set(after) - set(before)),
        updated=sorted(e for e in before if e in after and after[e][3] and before[e] != after[e]),
        deactivated=sorted(e for e in before if before[e][3] and e in after and not after[e][3]),
    )


def _people(session: Any) -> dict[str, RosterEntry]:
    from sqlalchemy import select

    from shared.db.models import Person

    rows = session.execute(select(Person.email, Person.name, Person.specialty, Person.aliases, Person.active))
    return {email: (name, specialty, tuple(aliases), active) for email, name, specialty, aliases, active in rows}


def cmd_roster_import(args: argparse.Namespace) -> int:
    import yaml
    from sqlalchemy.orm import Session

    from services.amion_scraper.roster import RosterError, read_roster, reconcile
    from shared.db.session import engine

    try:
        entries = read_roster(args.file)
    except RosterError as error:
        for problem in error.problems:
            print(f"roster: {args.file} is not a valid roster: {problem}", file=sys.stderr)
        return 1
    except (ValueError, yaml.YAMLError) as error:  # not YAML, not UTF-8
        print(f"roster: {args.file} is not a valid roster: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    with Session(engine()) as session:  # committed only at the end: a dry run or a refusal writes nothing
        before = _people(session)
        change = reconcile(session, entries)
        session.flush()
        diff = roster_diff(before, _people(session))
        active = sum(1 for person in before.values() if person[3])
        if args.dry_run:
            print(f"roster (dry run, nothing written): {len(entries)} people")
            for sign, emails in (
                ("+ added", diff.added),
                ("~ updated", diff.updated),
                ("- inactive", diff.deactivated),
            ):
                for email in emails:
                    print(f"  {sign:<10} {email}")
        elif len(diff.deactivated) * 4 > active and not args.yes:
            raise Mistake(
                f"roster: {args.file} would make {len(diff.deactivated)} of {active} active people inactive "
                "(more than a quarter): check the file, see who with --dry-run, or confirm with --yes"
            )
        else:
            session.commit()
    print(
        f"roster: {len(entries)} people; {change.added} added, {change.updated} updated, "
        f"{change.deactivated} made inactive" + (" (dry run)" if args.dry_run else "")
    )
    return 0


def read_page(path: Path) -> str:
    """A saved page's text: UTF-8 if it decodes as such, else ISO-8859-1 (Amion's charset)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def _print_findings(findings: "list[Finding] | tuple[Finding, ...]") -> None:
    for f in findings:
        where = f" [{f.location}]" if f.location else ""
        print(f"{f.severity.value:<7} {f.code}{where}: {f.text}", file=sys.stderr)


def cmd_amion_parse(args: argparse.Namespace) -> int:
    from services.amion_scraper.pages import parse_page
    from services.amion_scraper.rows import row_json
    from shared.kernel.findings import has_errors

    path = args.file
    if path.stat().st_size > MAX_PAGE_FILE_BYTES:
        print(f"{path} is larger than {MAX_PAGE_FILE_BYTES} bytes: not an Amion page", file=sys.stderr)
        return 1
    month = date.fromisoformat(args.month + "-01") if args.month else None
    parsed = parse_page(read_page(path), month)
    rows = [{k: v for k, v in row_json(r).items() if k != "division"} for r in parsed.rows]
    if args.json:
        messages = [f.model_dump(mode="json") for f in parsed.findings]
        print(json.dumps({"rows": rows, "messages": messages}, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            hours = f"{r['start']}-{r['end']}" if r["start"] else "         "
            note = f"  ({r['note']})" if r["note"] else ""
            print(f"{r['date']}  {hours}  {r['label']:<32} {r['name']}{note}")
        print(f"{len(rows)} rows", file=sys.stderr)
        _print_findings(parsed.findings)
    return 1 if has_errors(parsed.findings) else 0


def cmd_amion_reparse(args: argparse.Namespace) -> int:
    from schedcu.operations.amion_replay import ReplayError, reparse
    from shared.db.session import transaction
    from shared.settings import get_settings

    try:
        with transaction() as session:
            settings = get_settings()
            outcome = reparse(session, args.batch, settings.amion_accounts, settings.tz)
    except ReplayError as error:
        print(f"reparse: {error}", file=sys.stderr)
        return 2
    months = ", ".join(f"{month} {state}" for month, state in outcome.months.items())
    print(f"scrape batch {args.batch}: {outcome.state}; {len(outcome.assignments)} assignments ({months})")
    _print_findings(outcome.findings)
    return 1 if outcome.state == BatchState.FAILED else 0


def register(sub: Subparsers) -> None:
    f = sub.add_parser("fake-amion", help="serve a fake Amion (reports, grid, faults) from a ground-truth file")
    f.add_argument("--port", type=port, default=8999)
    f.add_argument("--host", default="127.0.0.1")
    f.add_argument("--truth", required=True)
    f.set_defaults(func=cmd_fake_amion)

    r = sub.add_parser("roster", help="people").add_subparsers(dest="roster_command", required=True)
    ri = r.add_parser("import", help="reconcile the roster from a YAML or CSV file")
    ri.add_argument("file", type=existing_file, help="YAML or CSV")
    ri.add_argument(
        "--dry-run", action="store_true", help="print who would be added, updated, made inactive; write nothing"
    )
    ri.add_argument("--yes", action="store_true", help="allow making more than a quarter of the active people inactive")
    ri.set_defaults(func=cmd_roster_import)

    a = sub.add_parser("amion", help="Amion pages").add_subparsers(dest="amion_command", required=True)
    ap = a.add_parser(
        "parse",
        help="parse a saved Amion report or grid page into rows (exit 1 on ERROR)",
        description="Parse a saved Amion page (Rpt=619/625c, CSV or tabs, or the Page=Call grid) offline: "
        "rows (date, label, name, start, end, note) on stdout, messages on stderr (in the JSON with --json). "
        "Exit status 1 when a message is an ERROR.",
    )
    ap.add_argument("file", type=existing_file)
    ap.add_argument("--json", action="store_true", help="rows and messages as one JSON document")
    ap.add_argument("--month", type=month, help="YYYY-MM the page is for (dates a grid without a title)")
    ap.set_defaults(func=cmd_amion_parse)

    ar = a.add_parser(
        "reparse",
        help="rebuild a version's AMION assignments from a scrape batch's archived pages",
        description="Rebuild the AMION assignments of the batch's version from the pages archived with the "
        "batch, without fetching anything: today's parser, the account's current role mapping and the current "
        "roster, in one transaction that also updates the batch's state, months and findings. It publishes "
        "nothing: coverage is not recalculated by it. Exit status 1 when the batch FAILED, 2 when it cannot "
        "be re-parsed.",
    )
    ar.add_argument("batch", type=uuid_id, help="scrape batch id")
    ar.set_defaults(func=cmd_amion_reparse)
