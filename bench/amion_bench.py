"""Amion scraper benchmark: a 12-month scrape from the fake Amion (its own process, no added latency) at the
default politeness, against the politeness floor; the grid parser's time per page; the scrape's peak memory.

    .venv/bin/python bench/amion_bench.py [--months 12] [--source report|grid]
"""

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml

from schedcu.runtime import processes
from schedcu.testing.demo_data import ROSTER, truth
from schedcu.testing.fake_amion import truth_from_dict
from services.amion_scraper.assessment import MonthPage, assess
from services.amion_scraper.client import AmionClient, Politeness, Source
from services.amion_scraper.grid import parse_grid, render_grid
from services.amion_scraper.report import parse_report, render_report
from services.amion_scraper.rows import months_of_period
from shared.kernel.people import PersonRef

PASSWORD = "bench pass"
FIRST = date(2026, 1, 1)
SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "amion" / "call-grid-2010-04.html"


def _truth(months: list[date]) -> dict:
    assignments = [a for month in months for a in truth(month, PASSWORD)["assignments"]]
    return {"password": PASSWORD, "assignments": assignments}


async def _scrape(base_url: str, months: list[date], source: Source) -> tuple[float, float, int, str]:
    """Seconds to fetch every month, seconds to then parse and match them, assignments, batch state."""
    people = [PersonRef(n, p["name"], tuple(p["aliases"])) for n, p in enumerate(ROSTER, start=1)]
    began = time.perf_counter()
    async with AmionClient(base_url, PASSWORD, source=source, politeness=Politeness()) as client:
        fetched = await client.fetch_months(months)
    fetched_at = time.perf_counter()
    pages = [MonthPage(f.month, f.page.body if f.page else None, f.error) for f in fetched]
    last = date(months[-1].year + months[-1].month // 12, months[-1].month % 12 + 1, 1)
    outcome = assess(pages, months[0], date.fromordinal(last.toordinal() - 1), [], people)
    return fetched_at - began, time.perf_counter() - fetched_at, len(outcome.assignments), outcome.state


def _per_call_ms(call: Callable[[], object], runs: int) -> str:
    """Median wall-clock and CPU milliseconds per call (CPU time is what the parse costs on a busy machine)."""
    call()  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return f"{statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.2f} ms CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--source", choices=("report", "grid"), default="report")
    parser.add_argument("--runs", type=int, default=50, help="parses per page timing")
    args = parser.parse_args()
    months = months_of_period(FIRST, date(FIRST.year + (args.months - 1) // 12, (args.months - 1) % 12 + 1, 1))
    data = _truth(months)

    with tempfile.TemporaryDirectory() as work:
        truth_file = Path(work) / "truth.yaml"
        truth_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        fake = processes.fake_amion(truth_file, dict(os.environ), Path(work)).start()
        try:
            fake.wait_healthy()
            base_url = fake.health_url.replace("/truth", "/cgi-bin/ocs")
            fetching, parsing, stored, state = asyncio.run(_scrape(base_url, months, args.source))
            tracemalloc.start()  # a second scrape: tracing allocations slows parsing several times over
            asyncio.run(_scrape(base_url, months, args.source))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            fake.stop()

    elapsed = fetching + parsing
    floor = (len(months) - 1) * 1.0  # the first request goes at once, then one per second
    print(f"scrape: {len(months)} months ({args.source}), default politeness (1 request/s, 5 in flight)")
    print(f"  total {elapsed:.2f} s; politeness floor {floor:.0f} s ({len(months)} requests at 1/s, first at once);")
    print(f"  {elapsed / floor:.3f} x floor ({(elapsed / floor - 1) * 100:+.1f} %, target within +10 %);"
          f" {len(months)} s if every request waited its second: {elapsed / len(months):.3f} x")  # fmt: skip
    print(f"  fetching {fetching:.2f} s, then parsing and matching {parsing:.2f} s;"
          f" {stored} assignments, batch {state}")  # fmt: skip
    print(f"  peak memory: {peak / 1e6:.2f} MB traced Python allocations during a second, traced scrape; "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")  # fmt: skip

    march = date(2026, 3, 1)
    rows = [r for r in truth_from_dict(data).assignments if r.schedule_date.month == march.month]
    rendered_grid = render_grid(rows, march, date(2026, 3, 31))
    rendered_report = render_report(rows, march)
    print(f"parse, median of {args.runs} runs per page:")
    if SAMPLE.is_file():
        sample = SAMPLE.read_bytes().decode("iso-8859-1")
        took = _per_call_ms(lambda: parse_grid(sample, date(2010, 4, 1)), args.runs)
        print(f"  grid sample call-grid-2010-04.html ({len(sample) // 1000} kB, "
              f"{len(parse_grid(sample).rows)} rows): {took}; target < 20 ms")  # fmt: skip
    took = _per_call_ms(lambda: parse_grid(rendered_grid, march), args.runs)
    print(f"  grid rendered by the fake, March 2026 ({len(rendered_grid) // 1000} kB, {len(rows)} rows): {took}")
    took = _per_call_ms(lambda: parse_report(rendered_report), args.runs)
    print(f"  report 619, March 2026 ({len(rows)} rows): {took}")


if __name__ == "__main__":
    main()
