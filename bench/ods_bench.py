"""ODS importer benchmark: parse time and peak memory against the floor (lxml iterparse) and ezodf, memory
against the number of sheets, and the time to expand and insert a year of shift instances.

    .venv/bin/python bench/ods_bench.py [--template PATH] [--skip-db]

Memory: each case runs once in a fresh subprocess, so that no case inherits another's memory; the figure is
the growth of the process's peak resident set (VmHWM, reset through /proc/self/clear_refs once the imports are
done and the file is in memory) over the resident set at that point. It counts libxml2's C allocations, which
tracemalloc does not see (and ru_maxrss would not do: Linux carries it over from the parent across exec).
Time: CPU seconds of the parse alone, best and median of several rounds in one fresh subprocess per file, the
cases interleaved within each round so that a shared machine's changing load weighs on all of them alike.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from schedcu.testing.sample_template import SHEETS, WORKLISTS
from schedcu.views.ods_writer import write_ods
from services.ods_importer.ods_reader import iter_sheets
from services.ods_importer.workbook import parse_workbook

REAL_TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "templates" / "cuSchedNormalized.ods"
TABLE_ROW = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}table-row"


# --- the cases, each run inside its own subprocess -------------------------------------------------------


def importer(data: bytes) -> None:
    parsed = parse_workbook(data)
    assert parsed.windows, parsed.findings


def reader_only(data: bytes) -> None:
    for _ in iter_sheets(data):
        pass


def floor_plain(data: bytes) -> None:
    """A plain iterparse pass over content.xml: an event for every element, each freed once read."""
    with zipfile.ZipFile(io.BytesIO(data)) as package, package.open("content.xml") as member:
        for _, elem in etree.iterparse(member):
            elem.clear()


def floor_rows(data: bytes) -> None:
    """The cheapest pass lxml allows: events for table rows only, each freed once read."""
    with zipfile.ZipFile(io.BytesIO(data)) as package, package.open("content.xml") as member:
        for _, elem in etree.iterparse(member, events=("end",), tag=TABLE_ROW):
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]


def ezodf_model(data: bytes) -> None:
    """ezodf's document model: open the document and read every cell's value."""
    import ezodf

    document = ezodf.opendoc(io.BytesIO(data))
    for sheet in document.sheets:
        for row in sheet.rows():
            for cell in row:
                _ = cell.value


CASES: dict[str, Callable[[bytes], None]] = {
    "importer": importer,
    "reader": reader_only,
    "floor": floor_plain,
    "floor-rows": floor_rows,
    "ezodf": ezodf_model,
}


def memory_kb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, in kB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0])


def peak_memory(case: str, path: Path) -> dict[str, Any]:
    """One run of a case in this (fresh) process: the growth of its peak resident set."""
    data = path.read_bytes()
    run = CASES[case]
    if case == "ezodf":
        import ezodf  # noqa: F401  (its import is not part of its parse)
    Path("/proc/self/clear_refs").write_text("5")  # peak resident := resident now
    baseline_kb = memory_kb("VmRSS")
    run(data)
    return {"peak_mb": (memory_kb("VmHWM") - baseline_kb) / 1024}


def timings(cases: list[str], path: Path, rounds: int) -> dict[str, Any]:
    """CPU time of each case, the cases interleaved round after round."""
    data = path.read_bytes()
    times: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            started = time.process_time()
            CASES[case](data)
            times[case].append(time.process_time() - started)
    return {case: {"best_s": min(t), "median_s": statistics.median(t)} for case, t in times.items()}


def in_subprocess(*args: str) -> Any:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  {' '.join(args)} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout)


# --- generated templates ---------------------------------------------------------------------------------


def generated_template(sheet_count: int, worklist_copies: int) -> bytes:
    """`sheet_count` windows (named like real ones, each unique) of the real template's roles and marks,
    each with `worklist_copies` times its worklists (the copies at hospitals H1, H2, ...)."""
    sheets: list[tuple[str, list[list[str]]]] = []
    for index in range(sheet_count):
        _, roles, mark, marks = SHEETS[index % len(SHEETS)]
        category = ("Mid", "ON")[index % 2]
        day = ("Weekday", "Weekend")[index // 2 % 2]
        variant = ("Body", "Neuro")[index // 4 % 2]
        hour, minute = divmod(index, 60)
        rows = [["", *roles]]
        for copy in range(worklist_copies):
            for worklist, column in zip(WORKLISTS, marks, strict=True):
                if column == "-":
                    continue
                row = [worklist if copy == 0 else f"H{copy}{worklist}"] + [""] * len(roles)
                if column != "0":
                    row[int(column)] = mark
                rows.append(row)
        sheets.append((f"{category} {day} {variant} {hour + 1}:{minute:02d} am - 8 am", rows))
    return write_ods(sheets)


def content_size(data: bytes) -> int:
    return zipfile.ZipFile(io.BytesIO(data)).getinfo("content.xml").file_size


# --- expansion and insert of a year ----------------------------------------------------------------------


def year_insert(template: bytes, runs: int = 3) -> dict[str, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from schedcu.runtime.infra import ensure_database_exists
    from services.ods_importer.expansion import expand
    from services.ods_importer.store import store_version
    from services.ods_importer.workbook import Layout
    from shared.db.migrate import upgrade
    from shared.kernel.contracts import Period
    from shared.settings import get_settings

    settings = get_settings()
    url = make_url(settings.database_url).set(database="schedcu_bench").render_as_string(hide_password=False)
    _drop_database(url)
    ensure_database_exists(url)
    upgrade(url)
    engine = create_engine(url)
    parsed = parse_workbook(template)
    period = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
    results = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            shifts = expand(parsed.windows, period.start, period.end, settings.tz, frozenset(settings.holidays))
            expanded = time.perf_counter()
            with Session(engine) as session, session.begin():
                store_version(
                    session,
                    version_id=uuid.uuid4(),
                    workflow_id=uuid.uuid4(),
                    group="bench",
                    period=period,
                    layout=Layout.TEMPLATE,
                    template_name="bench.ods",
                    template_sha256="0" * 64,
                    windows=parsed.windows,
                    shifts=shifts,
                    findings=parsed.findings,
                    actor="bench",
                )
            stored = time.perf_counter()
            results.append((expanded - started, stored - expanded, len(shifts)))
    finally:
        engine.dispose()
        _drop_database(url)
    return {"runs": results}


def _drop_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


# --- the report ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=REAL_TEMPLATE)
    parser.add_argument("--skip-db", action="store_true", help="skip the expand-and-insert case")
    parser.add_argument("--memory", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--timings", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(peak_memory(args.memory, args.path)))
        return
    if args.timings:
        print(json.dumps(timings(args.timings.split(","), args.path, args.rounds)))
        return

    if not args.template.exists():
        sys.exit(f"no template at {args.template} (give --template PATH)")
    print(f"python {sys.version.split()[0]}, lxml {etree.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as work:
        real = Path(work) / "real.ods"
        real.write_bytes(args.template.read_bytes())
        large = Path(work) / "large.ods"
        large.write_bytes(generated_template(sheet_count=120, worklist_copies=10))
        files = {"real template": (real, 30), "100x template": (large, 11)}
        for label, (path, _) in files.items():
            data = path.read_bytes()
            print(f"{label}: {len(data):,} bytes, content.xml {content_size(data):,} bytes")
        parse_report(["importer", "reader", "floor", "floor-rows", "ezodf"], files)
        memory_report(Path(work))
    if not args.skip_db:
        insert_report(args.template.read_bytes())


def parse_report(cases: list[str], files: dict[str, tuple[Path, int]]) -> None:
    print(
        "\nparse: CPU seconds best / median (cases interleaved in one process), "
        "peak memory growth (a fresh process per case)"
    )
    print(f"  {'case':<12}" + "".join(f"{label:>36}" for label in files))
    rows: dict[str, str] = {case: f"  {case:<12}" for case in cases}
    timed_by_file: dict[str, dict[str, Any]] = {}
    for label, (path, rounds) in files.items():
        timed = in_subprocess("--timings", ",".join(cases), "--path", str(path), "--rounds", str(rounds)) or {}
        timed_by_file[label] = timed
        for case in cases:
            memory = in_subprocess("--memory", case, "--path", str(path))
            if case in timed and memory is not None:
                rows[case] += f"{timed[case]['best_s']:>11.3f} / {timed[case]['median_s']:.3f} s"
                rows[case] += f"{memory['peak_mb']:>9.1f} MB"
            else:
                rows[case] += f"{'failed':>36}"
    print("\n".join(rows.values()))
    for floor in ("floor", "floor-rows"):
        for label, timed in timed_by_file.items():
            if "importer" in timed and floor in timed:
                best = timed["importer"]["best_s"] / timed[floor]["best_s"]
                median = timed["importer"]["median_s"] / timed[floor]["median_s"]
                print(f"  importer / {floor} on the {label}: {best:.2f}x best, {median:.2f}x median")
    print("  (target: the importer within 2x of the floor on the 100x template)")


def memory_report(work: Path) -> None:
    print("\nmemory against the number of sheets (230 worklists each): peak memory growth, a fresh process each")
    for sheet_count in (30, 60, 120):
        path = work / f"sheets-{sheet_count}.ods"
        path.write_bytes(generated_template(sheet_count=sheet_count, worklist_copies=10))
        reader = in_subprocess("--memory", "reader", "--path", str(path))
        whole = in_subprocess("--memory", "importer", "--path", str(path))
        if reader is not None and whole is not None:
            print(
                f"  {sheet_count:>4} sheets: reader {reader['peak_mb']:6.1f} MB, "
                f"importer {whole['peak_mb']:6.1f} MB (it keeps the parsed windows: the result)"
            )


def insert_report(template: bytes) -> None:
    print("\nexpand and insert a year (2026) of the template into a fresh database schedcu_bench:")
    for number, (expand_s, store_s, rows) in enumerate(year_insert(template)["runs"], start=1):
        print(
            f"  run {number}: {rows:,} shift instances, expand {expand_s:.3f} s + insert {store_s:.3f} s "
            f"= {expand_s + store_s:.3f} s wall clock (target: under 1 s)"
        )


if __name__ == "__main__":
    main()
