"""A coverage summary in one sentence, the same wherever it is shown (terminal, `coverage show`, `versions
show`, the `CoverageCalculated` event, the HTML report, a refused promotion). Pure.

    coverage 97.1 % of 1,553 known cells; 1,237 cells without Amion data (2026-11: Amion answered "No file")

It reads a stored summary (`Summary.to_dict()`); a summary stored before unknown cells were counted reads as
every cell known.
"""

from collections.abc import Mapping, Sequence
from typing import Any


def unknown_months(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The summary's months with dates without Amion data: month, reason, start, end, cells."""
    return list(summary.get("unknown_months") or [])


def unknown_reasons(months: Sequence[Mapping[str, Any]]) -> str:
    """`2026-10, 2026-11: Amion answered "No file"; 2026-12: <reason>`: the months sharing a reason together."""
    by_reason: dict[str, list[str]] = {}
    for m in months:
        by_reason.setdefault(str(m["reason"]), []).append(str(m["month"]))
    return "; ".join(f"{', '.join(dict.fromkeys(names))}: {reason}" for reason, names in by_reason.items())


def coverage_sentence(summary: Mapping[str, Any]) -> str:
    total = int(summary["total"])
    known = int(summary.get("known_cells", total))
    unknown = int(summary.get("unknown_cells", 0))
    if not unknown:
        return f"coverage {summary['coverage_ratio'] * 100:.1f} % of {total:,} cells"
    ratio = f"{summary['coverage_ratio'] * 100:.1f} % of {known:,} known cells" if known else "unknown, no known cell"
    why = unknown_reasons(unknown_months(summary))
    return f"coverage {ratio}; {unknown:,} cells without Amion data ({why})"
