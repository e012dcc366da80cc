"""Ranking candidates for every gap of a one-year version, in memory: time per run.

    .venv/bin/python bench/candidates_bench.py [--runs N] [--removed FRACTION]

The sample template's windows (schedcu/testing/sample_template.py), the demo roster, five people on call every date
of 2026 drawn at random, then a fraction of the assignments removed to open gaps. Coverage is calculated
once with the pure rules; each run builds the gaps' slots and the bookings' hours and ranks the candidates of
every gap (`services/coverage/candidates.py`), as `schedcu gaps` does after its reads. Target: under 1 s.
"""

import argparse
import os
import statistics
import time

from benchlib import END, START, synthetic_year

TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--removed", type=float, default=0.1, help="fraction of assignments removed (default 0.1)")
    args = parser.parse_args()

    year = synthetic_year(args.removed)

    times, gaps, candidates = [], 0, 0
    for _ in range(args.runs):
        began = time.perf_counter()
        ranked = year.ranked()
        times.append(time.perf_counter() - began)
        gaps, candidates = len(ranked), sum(len(g.candidates) for g in ranked)

    median = statistics.median(times)
    print(f"candidates benchmark: {START}..{END}, {len(year.people)} people, {len(year.assignments)} assignments "
          f"({args.removed:.0%} removed), {len(year.result.cells)} cells, {args.runs} runs, median")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"gaps {gaps}, candidates {candidates} ({candidates / max(gaps, 1):.1f} per gap)")
    print(f"ranking every gap of a year: {median:.3f} s ({median / max(gaps, 1) * 1e6:.0f} µs per gap)")
    print(f"under {TARGET_S:g} s: {'yes' if median < TARGET_S else 'NO'}")


if __name__ == "__main__":
    main()
