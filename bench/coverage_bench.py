"""Coverage of the real template for one month and one year with a full roster: time and statements.

    .venv/bin/python bench/coverage_bench.py [--runs N] [--template FILE.ods]

Uses a fresh database `schedcu_bench_coverage` on the server of SCHEDCU_DATABASE_URL (dropped and created
again). Each run is the three steps of `calculate_and_store` (load, rules, store) in one committed
transaction, as the worker runs them; the figures are medians over the runs. Target: linear in the period
or better, a year under 2 s.
"""

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import date
from pathlib import Path

from benchlib import ROLES, fresh_database
from sqlalchemy import Engine, create_engine, func, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schedcu.testing.demo_data import ROSTER
from schedcu.testing.sample_template import sample_template
from services.coverage.calculation import CalculationOptions, compute
from services.coverage.store import load_inputs, store_calculation, stored_cells
from services.ods_importer.expansion import expand
from services.ods_importer.store import store_version
from services.ods_importer.workbook import Layout, parse_workbook
from shared.db.models import Assignment, Person, ScrapeBatch
from shared.db.statements import recorded
from shared.kernel.contracts import Period
from shared.kernel.schedule_days import dates_between
from shared.settings import get_settings

REAL_TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "templates" / "cuSchedNormalized.ods"
DATABASE = "schedcu_bench_coverage"
LINEAR_MARGIN = 1.15  # per-cell time of the year over that of the month; timing noise on a shared machine


def create_version(engine: Engine, template: bytes, start: date, end: date) -> uuid.UUID:
    """The template imported for the period, and five people on call every date (drawn at random from the
    demo roster, BODY_ONLY and NEURO_ONLY people included, so both variants and mismatches occur)."""
    parsed = parse_workbook(template)
    assert parsed.layout is Layout.TEMPLATE, parsed.findings
    version_id = uuid.uuid4()
    rng = random.Random(start.toordinal())
    with Session(engine) as session, session.begin():
        store_version(
            session,
            version_id=version_id,
            workflow_id=uuid.uuid4(),
            group="bench",
            period=Period(start=start, end=end),
            layout=parsed.layout,
            template_name="bench.ods",
            template_sha256="0" * 64,
            windows=parsed.windows,
            shifts=expand(parsed.windows, start, end, get_settings().tz),
            findings=parsed.findings,
            actor="bench",
        )
        session.execute(pg_insert(Person).values(ROSTER).on_conflict_do_nothing(index_elements=["email"]))
        people = session.query(Person.id).order_by(Person.id).all()
        batch_id = uuid.uuid4()  # a complete scrape: every date has Amion data
        months = {f"{d.year:04d}-{d.month:02d}": {"outcome": "OK"} for d in dates_between(start, end)}
        session.execute(
            insert(ScrapeBatch).values(
                id=batch_id, version_id=version_id, workflow_id=uuid.uuid4(), account="bench", state="COMPLETE",
                months=months, findings=[], finished_at=func.now(),
            )
        )  # fmt: skip
        session.execute(
            insert(Assignment),
            [
                {
                    "version_id": version_id,
                    "schedule_date": day,
                    "role": role,
                    "person_id": pid,
                    "source": "AMION",
                    "scrape_batch_id": batch_id,
                }
                for day in dates_between(start, end)
                for role, (pid,) in zip(ROLES, rng.sample(people, len(ROLES)), strict=True)
            ],
        )
    return version_id


def measure(engine: Engine, version_id: uuid.UUID, runs: int) -> dict[str, float]:
    """The three steps of `calculate_and_store`, timed one by one, each run in one committed transaction."""
    options = CalculationOptions.from_settings(get_settings())
    times: dict[str, list[float]] = {"load_s": [], "rules_s": [], "store_s": [], "total_s": []}
    counts, cells = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        with recorded(engine) as statements, Session(engine) as session, session.begin():
            inputs = load_inputs(session, version_id)
            assert inputs is not None
            loaded = time.perf_counter()
            result = compute(inputs, options)
            computed = time.perf_counter()
            store_calculation(session, uuid.uuid4(), inputs, result, stored_cells(inputs, result.cells))
        stored = time.perf_counter()
        for key, seconds in zip(
            times, (loaded - began, computed - loaded, stored - computed, stored - began), strict=True
        ):
            times[key].append(seconds)
        counts.append(len(statements))
        cells = len(result.cells)
    assert len(set(counts)) == 1, counts
    return {"cells": cells, "statements": counts[0], **{k: statistics.median(v) for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--template", type=Path, default=REAL_TEMPLATE)
    args = parser.parse_args()
    template = args.template.read_bytes() if args.template.exists() else sample_template()
    source = str(args.template) if args.template.exists() else "sample_template() (the real file is absent)"

    engine = create_engine(fresh_database(DATABASE))
    loads = os.getloadavg()
    periods = {"month": (date(2026, 3, 1), date(2026, 3, 31)), "year": (date(2026, 1, 1), date(2026, 12, 31))}
    figures = {}
    for name, (start, end) in periods.items():
        version_id = create_version(engine, template, start, end)
        figures[name] = {"days": (end - start).days + 1, **measure(engine, version_id, args.runs)}
    engine.dispose()

    print(f"coverage benchmark: template {source}, {args.runs} runs each, medians")
    print(f"load average before {loads[0]:.1f}, after {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    header = ("period", "days", "cells", "statements", "load s", "rules s", "store s", "total s", "µs/cell")
    print("  ".join(f"{h:>10}" for h in header))
    for name, f in figures.items():
        values = [name, f["days"], f["cells"], f["statements"]]
        values += [f"{f[k]:.3f}" for k in ("load_s", "rules_s", "store_s", "total_s")]
        values.append(f"{f['total_s'] / f['cells'] * 1e6:.1f}")
        print("  ".join(f"{v:>10}" for v in values))
    month, year = figures["month"], figures["year"]
    time_ratio, size_ratio = year["total_s"] / month["total_s"], year["cells"] / month["cells"]
    per_cell = time_ratio / size_ratio
    verdict = "linear or better" if per_cell <= LINEAR_MARGIN else "WORSE than linear"
    print(f"year/month: time x{time_ratio:.1f} for x{size_ratio:.1f} the cells, per cell x{per_cell:.2f}: {verdict}")
    same = "the same" if month["statements"] == year["statements"] else "DIFFERENT"
    print(f"statements: month {month['statements']}, year {year['statements']} ({same})")
    print(f"one year under 2 s: {'yes' if year['total_s'] < 2 else 'NO'} ({year['total_s']:.3f} s)")


if __name__ == "__main__":
    main()
