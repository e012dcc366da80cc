"""The size of `schedcu coverage report` for a one-year version, in memory: bytes of the page, and the time to
render it.

    .venv/bin/python bench/report_size.py [--removed FRACTION]

The sample template's windows, the demo roster, five people on call every date of 2026 drawn at random, a
fraction of the assignments removed to open gaps (as bench/candidates_bench.py). The page is rendered from
the cells, the summary and the grouped critical gaps as the command reads them from the database."""

import argparse
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from schedcu.coverage_page import render_page
from schedcu.demo_data import ROSTER
from schedcu.gap_groups import critical_keys, group_gaps
from schedcu.sample_template import sample_template
from services.coverage.candidates import rank_candidates, template_slots
from services.coverage.rules import Assignment, Person, Specialty, booked_shifts, calculate, worklist_specialties
from services.ods_importer.workbook import parse_workbook
from shared.schedule_days import dates_between
from shared.settings import get_settings

ROLES = ("ON1", "ON2", "MidC", "MidL", "Mid3")
START, END = date(2026, 1, 1), date(2026, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--removed", type=float, default=0.02, help="fraction of assignments removed (default 0.02)")
    args = parser.parse_args()

    windows = parse_workbook(sample_template()).windows
    people = {i: Person(i, p["name"], Specialty(p["specialty"])) for i, p in enumerate(ROSTER, start=1)}
    rng = random.Random(2026)
    assignments = [
        Assignment(day, role, pid)
        for day in dates_between(START, END)
        for role, pid in zip(ROLES, rng.sample(sorted(people), len(ROLES)), strict=True)
        if rng.random() >= args.removed
    ]
    tz, holidays, rest = get_settings().tz, frozenset[date](), timedelta(hours=10)
    result = calculate(windows, START, END, assignments, people, holidays, tz=tz)
    specialties, _ = worklist_specialties(windows)
    ranked = rank_candidates(
        template_slots(result.cells, windows, specialties, tz),
        assignments,
        booked_shifts(windows, assignments, holidays, tz),
        people,
        people,
        START,
        holidays,
        rest,
        tz,
    )
    summary = result.summary.to_dict()
    groups = group_gaps(ranked, critical_keys(summary))
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
    page = render_page(calc, cells, groups, tz, holidays)
    elapsed = time.perf_counter() - began
    print(f"report of {START}..{END}: {len(cells):,} cells, {summary['critical_gaps_total']:,} critical gaps "
          f"in {len(groups):,} lines, {len(calc['findings']):,} findings")  # fmt: skip
    print(f"page: {len(page.encode()):,} bytes, rendered in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
