"""Ranking candidates for every gap of a one-year version, in memory: time per run.

    .venv/bin/python bench/candidates_bench.py [--runs N] [--removed FRACTION]

The sample template's windows (schedcu/sample_template.py), the demo roster, five people on call every date
of 2026 drawn at random, then a fraction of the assignments removed to open gaps. Coverage is calculated
once with the pure rules; each run builds the gaps' slots and the bookings' hours and ranks the candidates of
every gap (`services/coverage/candidates.py`), as `schedcu gaps` does after its reads. Target: under 1 s.
"""

import argparse
import os
import random
import statistics
import time
from datetime import date, timedelta

from schedcu.demo_data import ROSTER
from schedcu.sample_template import sample_template
from services.coverage.candidates import rank_candidates, template_slots
from services.coverage.rules import Assignment, Person, Specialty, booked_shifts, calculate, worklist_specialties
from services.ods_importer.workbook import parse_workbook
from shared.schedule_days import dates_between
from shared.settings import get_settings

ROLES = ("ON1", "ON2", "MidC", "MidL", "Mid3")
START, END = date(2026, 1, 1), date(2026, 12, 31)
TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--removed", type=float, default=0.1, help="fraction of assignments removed (default 0.1)")
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

    times, gaps, candidates = [], 0, 0
    for _ in range(args.runs):
        began = time.perf_counter()
        slots = template_slots(result.cells, windows, specialties, tz)
        shifts = booked_shifts(windows, assignments, holidays, tz)
        ranked = rank_candidates(slots, assignments, shifts, people, people, START, holidays, rest, tz)
        times.append(time.perf_counter() - began)
        gaps, candidates = len(ranked), sum(len(g.candidates) for g in ranked)

    median = statistics.median(times)
    print(f"candidates benchmark: {START}..{END}, {len(people)} people, {len(assignments)} assignments "
          f"({args.removed:.0%} removed), {len(result.cells)} cells, {args.runs} runs, median")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"gaps {gaps}, candidates {candidates} ({candidates / max(gaps, 1):.1f} per gap)")
    print(f"ranking every gap of a year: {median:.3f} s ({median / max(gaps, 1) * 1e6:.0f} µs per gap)")
    print(f"under {TARGET_S:g} s: {'yes' if median < TARGET_S else 'NO'}")


if __name__ == "__main__":
    main()
