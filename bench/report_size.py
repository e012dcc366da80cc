"""The size of `schedcu coverage report` for a one-year version, in memory: bytes of the page, and the time to
render it.

    .venv/bin/python bench/report_size.py [--removed FRACTION]

The sample template's windows, the demo roster, five people on call every date of 2026 drawn at random, a
fraction of the assignments removed to open gaps (as bench/candidates_bench.py). The page is rendered from
the cells, the summary and the grouped critical gaps as the command reads them from the database."""

import argparse
import time
import uuid
from datetime import UTC, datetime

from benchlib import END, START, synthetic_year

from schedcu.views.coverage_page import render_page
from services.coverage.gap_lines import critical_keys, group_gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--removed", type=float, default=0.02, help="fraction of assignments removed (default 0.02)")
    args = parser.parse_args()

    year = synthetic_year(args.removed)
    result, people = year.result, year.people
    summary = result.summary.to_dict()
    groups = group_gaps(year.ranked(), critical_keys(summary))
    calc = {
        "calculation_id": str(uuid.uuid4()),
        "version_id": str(uuid.uuid4()),
        "created_at": datetime.now(UTC).isoformat(),
        "layout": "TEMPLATE",
        "period": {"start": START.isoformat(), "end": END.isoformat()},
        "template_name": "sample.ods",
        "version_state": "PRODUCTION",
        "summary": summary,
        "findings": [f.model_dump(mode="json") for f in result.findings],
    }
    cells = [
        {
            "schedule_date": c.schedule_date.isoformat(),
            "window": c.window,
            "worklist": c.worklist,
            "hospital": c.hospital,
            "role": c.role,
            "people": [people[p].name for p in c.people],
            "status": str(c.status),
            "mandatory": c.mandatory,
        }
        for c in result.cells
    ]
    began = time.perf_counter()
    page = render_page(calc, cells, groups, year.tz, year.holidays)
    elapsed = time.perf_counter() - began
    print(f"report of {START}..{END}: {len(cells):,} cells, {summary['critical_gaps_total']:,} critical gaps "
          f"in {len(groups):,} lines, {len(calc['findings']):,} findings")  # fmt: skip
    print(f"page: {len(page.encode()):,} bytes, rendered in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
