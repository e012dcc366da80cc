"""Coverage in a terminal: the summary, then the critical gaps by date, as plain-text tables."""

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from shared.coverage_text import coverage_sentence, unknown_months


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


def gap_rows(summary: Mapping[str, Any], day: str | None = None) -> list[list[str]]:
    """One row per critical gap, the date written on the first row of its date only."""
    return [
        [date_text if i == 0 else "", g["severity"], g["status"], g["worklist"], g["window"], g["role"]]
        for date_text, gaps in summary["critical_gaps_by_date"].items()
        if day is None or date_text == day
        for i, g in enumerate(gaps)
    ]


def print_summary(calc: Mapping[str, Any], gap_limit: int | None = 10, day: str | None = None) -> None:
    """The summary, then the critical gaps by date (at most `gap_limit` rows; None: all)."""
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
    rows = gap_rows(s, day)
    where = f" on {day}" if day else ""
    print()
    print(f"  critical gaps{where}: {len(rows)}" + ("" if day else f" of {s['critical_gaps_total']}"))
    if rows:
        shown = rows if gap_limit is None else rows[:gap_limit]
        print(table(["date", "severity", "status", "worklist", "window", "role"], shown))
        if len(shown) < len(rows):
            print(f"  ... and {len(rows) - len(shown)} more (--all, --date D or --json)")


def print_cells(cells: Sequence[Mapping[str, Any]]) -> None:
    rows = [[c["window"], c["worklist"], c["role"], ", ".join(c["people"]) or "-", c["status"]] for c in cells]
    print(table(["window", "worklist", "role", "people", "status"], rows))
