"""Coverage in a terminal: the summary, then the critical gaps, one line per date, role and hours with the
best candidates; and what every `show` command prints."""

import json
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from schedcu.errors import Mistake, UsageMistake
from shared.kernel.coverage_text import coverage_sentence, unknown_months

if TYPE_CHECKING:  # the coverage rules load only for the commands that print gaps
    from services.coverage.gap_lines import GapGroup


def confirm(question: str, refusal: str) -> None:
    """Go on when the operator answers yes to `question` at a terminal. Elsewhere (a script, a pipe) nobody can
    answer: `refusal` says how to confirm on the command line."""
    if not sys.stdin.isatty():
        raise UsageMistake(refusal)
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Mistake("not confirmed: nothing done")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> str:
    """Left-aligned columns; numbers right-aligned."""
    texts = [[str(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) and bool(rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        cells = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return (indent + "  ".join(cells)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in texts)])


def _counts(title: str, counts: Mapping[str, Mapping[str, int]], statuses: Sequence[str]) -> str:
    rows = [[name, *(c.get(s, 0) for s in statuses)] for name, c in sorted(counts.items())]
    return table([title, *statuses], rows)


def print_gap_groups(groups: "Sequence[GapGroup]", tz: ZoneInfo, top: int = 3, indent: str = "  ") -> None:
    """Each group on a line, then its `top` candidates."""
    for group in groups:
        print(f"{indent}{group.text(tz)}")
        if not group.candidates:
            print(f"{indent}    no candidate")
        for rank, c in enumerate(group.candidates[:top], start=1):
            print(f"{indent}    {rank}. {group.candidate_text(c)}")
        if len(group.candidates) > top:
            print(f"{indent}    ... {len(group.candidates) - top} more candidates")


def print_summary(
    calc: Mapping[str, Any],
    groups: "Sequence[GapGroup] | None" = None,
    tz: ZoneInfo | None = None,
    limit: int | None = 20,
    day: str | None = None,
) -> None:
    """The summary, then the critical gaps as `groups` (at most `limit` of them; None: all; times in `tz`),
    or only their count when no groups are given."""
    from services.coverage.gap_lines import lines_text

    s = calc["summary"]
    statuses = list(s["by_status"])
    print(f"coverage of version {calc['version_id']} (calculation {calc['calculation_id']})")
    print(f"  {calc['layout']} layout, period {calc['period']['start']} .. {calc['period']['end']}")
    print(f"  {coverage_sentence(s)}")
    print("  " + "  ".join(f"{k} {v}" for k, v in s["by_status"].items()))
    months = unknown_months(s)
    if months:
        print()
        print("  without Amion data:")
        rows = [[m["month"], f"{m['start']} .. {m['end']}", m["cells"], m["reason"]] for m in months]
        print(table(["month", "dates", "cells", "reason"], rows, indent="    "))
    print()
    print(_counts("hospital", s["by_hospital"], statuses))
    print()
    print(_counts("role", s["by_role"], statuses))
    findings = Counter(f["code"] for f in calc["findings"])
    if findings:
        print()
        print("  findings: " + ", ".join(f"{code} {n}" for code, n in findings.most_common()))
    print()
    if groups is None or tz is None:
        print(
            f"  critical gaps: {s['critical_gaps_total']} (by date, role and hours, with candidates: "
            f"`schedcu coverage show {calc['version_id']}`)"
        )
        return
    cells = sum(g.gaps for g in groups)
    where = f" on {day}" if day else ""
    total = "" if day else f" of {s['critical_gaps_total']}"
    print(f"  critical gaps{where}: {cells}{total}, in {lines_text(len(groups))} by date, role and hours")
    shown = groups if limit is None else groups[:limit]
    print_gap_groups(shown, tz)
    if len(shown) < len(groups):
        print(f"  ... and {len(groups) - len(shown)} more lines (--all, --date D or `schedcu gaps`)")


def print_cells(cells: Sequence[Mapping[str, Any]]) -> None:
    rows = [[c["window"], c["worklist"], c["role"], ", ".join(c["people"]) or "-", c["status"]] for c in cells]
    print(table(["window", "worklist", "role", "people", "status"], rows))


def print_view(
    view: dict[str, Any] | None, missing: str, as_json: bool, print_text: Callable[[dict[str, Any]], None]
) -> int:
    """A `show` command's output and exit status: `missing` on stderr and 1 when there is no `view`; else the
    view as JSON or as `print_text` prints it, and 0."""
    if view is None:
        print(missing, file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(view, indent=2))
    else:
        print_text(view)
    return 0
