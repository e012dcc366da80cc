"""The watch of Amion: a cycle over many unchanged groups, and one change in a one-year production version.

    .venv/bin/python bench/watch_bench.py [--groups 50] [--runs 3] [--template FILE.ods] [--database NAME]

Uses a fresh database (`schedcu_bench_watch` unless `--database`) on the server of SCHEDCU_DATABASE_URL
(dropped and created again) and an in-process fake Amion; the workers' handlers run in this process, as the
workers run them, with the outbox read and emptied in between the way the relay does (its two statements per
message, a claim and a delete, are not counted).

1. A watch cycle over `--groups` groups, each with a production version of next month whose Amion data has not
   changed: the versions worker's tick, each group's check in the scraper (one account per group, as groups
   have), and the answers back in the versions worker. Printed: the time, Amion requests, and the SQL
   statements per group, with every write by table: only the time of the check (`amion_watches`), the inbox
   and outbox rows of the two messages, and the account's politeness slot; no batch, page, workflow or
   calculation.
2. A one-year production version (from next month), one Mid 3 assignment removed in Amion: from the re-scrape's
   Amion responses to `CoverageChanged` in the outbox (the scrape phase's transaction, then the coverage
   phase's), target under 1 s; and the recalculation alone when 1, 31 or 365 dates changed.
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from benchlib import fresh_database
from sqlalchemy import Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schedcu.demo_data import ROSTER, truth
from schedcu.fake_amion import FakeAmion
from schedcu.sample_template import sample_template
from services.amion_scraper import handlers as scraper
from services.amion_scraper import store as scrape_store
from services.amion_scraper.assessment import MonthPage, assess
from services.amion_scraper.rows import months_of_period
from services.coverage import handlers as coverage
from services.coverage.calculation import CalculationOptions, calculate_and_store
from services.ods_importer.expansion import expand
from services.ods_importer.store import store_version
from services.ods_importer.workbook import Layout, parse_workbook
from services.versions import watch
from shared.contracts import AmionChecked, CalculateCoverage, CheckAmion, ImportRequested, Period, TemplateSource
from shared.db.models import AssignmentRow, OutboxMessage, PersonRow, VersionLifecycle, Workflow
from shared.db.session import engine as shared_engine
from shared.db.statements import recorded
from shared.messaging.consumer import Delivery
from shared.schedule_days import dates_between
from shared.settings import get_settings
from shared.states import VersionState, WorkflowState

REAL_TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "templates" / "cuSchedNormalized.ods"
PASSWORD = "bench pass"
WRITE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)", re.IGNORECASE)


def configure(database_url: str, amion_url: str, accounts: list[str], requests_per_s: float) -> None:
    """The settings the handlers read: this database, and one Amion account per group on the fake."""
    os.environ["SCHEDCU_DATABASE_URL"] = database_url
    os.environ["SCHEDCU_BENCH_AMION_PASSWORD"] = PASSWORD
    account = {"base_url": amion_url, "password_env": "SCHEDCU_BENCH_AMION_PASSWORD", "requests_per_s": requests_per_s}
    os.environ["SCHEDCU_AMION_ACCOUNTS"] = json.dumps(dict.fromkeys(accounts, account))
    get_settings.cache_clear()


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def write_truth(path: Path, months: list[date]) -> None:
    assignments = [a for month in months for a in truth(month, PASSWORD)["assignments"]]
    path.write_text(yaml.safe_dump({"password": PASSWORD, "assignments": assignments}), encoding="utf-8")


def production_version(engine: Engine, template: bytes, group: str, start: date, end: date) -> uuid.UUID:
    """The template imported for the period by an import workflow of account `group`, then promoted."""
    parsed = parse_workbook(template)
    assert parsed.layout is Layout.TEMPLATE, parsed.findings
    version_id, workflow_id = uuid.uuid4(), uuid.uuid4()
    request = ImportRequested(
        request_id=f"bench-{group}", group=group, period=Period(start=start, end=end),
        template=TemplateSource(filename="bench.ods", path="bench.ods"), amion_account=group, requested_by="bench",
    )  # fmt: skip
    with Session(engine) as session, session.begin():
        session.execute(
            insert(Workflow).values(
                id=workflow_id, request_id=request.request_id, group_name=group, state=WorkflowState.COMPLETED,
                version_id=version_id, request=request.model_dump(mode="json"),
            )
        )  # fmt: skip
        store_version(
            session, version_id=version_id, workflow_id=workflow_id, group=group, period=request.period,
            layout=parsed.layout, template_name="bench.ods", template_sha256="0" * 64, windows=parsed.windows,
            shifts=expand(parsed.windows, start, end, get_settings().tz), findings=parsed.findings, actor="bench",
        )  # fmt: skip
        session.execute(insert(VersionLifecycle).values(version_id=version_id, state=VersionState.PRODUCTION))
    return version_id


async def fetched_pages(account: str, months: list[date]) -> list[MonthPage]:
    fetched = await scraper.fetch(account, get_settings().amion_accounts[account], months)
    return [MonthPage(f.month, f.page.body if f.page else None, f.error) for f in fetched]


def store_scrape(version_id: uuid.UUID, account: str, start: date, end: date, pages: list[MonthPage]) -> None:
    """What the scrape phase stores (its fence, inbox and event aside): the batch, its pages, the assignments."""
    with Session(shared_engine()) as session, session.begin():
        people = scrape_store.active_people(session)
        outcome = assess(pages, start, end, [], people)
        batch_id = uuid.uuid4()
        scrape_store.open_batch(session, batch_id, version_id, uuid.uuid4(), account)
        scrape_store.archive(session, batch_id, [])
        session.execute(
            text(
                "INSERT INTO amion_pages (batch_id, month, url, status, fetched_at, sha256, body) "
                "SELECT :b, m, 'bench', 200, now(), '', body FROM unnest(CAST(:months AS date[]), "
                "CAST(:bodies AS text[])) AS t(m, body)"
            ),
            {"b": batch_id, "months": [p.month for p in pages], "bodies": [p.body or "" for p in pages]},
        )
        scrape_store.record_outcome(session, batch_id, version_id, outcome)


def recalculate(version_id: uuid.UUID, n: int) -> None:
    """The coverage worker's handling of a recalculation: store, compare, announce."""
    delivery = Delivery(f"bench-calc-{version_id}-{n}", "bench", CalculateCoverage.routing_key, False)
    coverage.calculate_coverage(CalculateCoverage(version_id=version_id), delivery)


def take_outbox(engine: Engine, routing_key: str) -> list[tuple[str, bytes]]:
    """The messages the relay would publish (read and deleted outside the counted statements)."""
    with engine.begin() as conn:
        rows = conn.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.routing_key == routing_key)
            .returning(OutboxMessage.message_id, OutboxMessage.body)
        ).all()
    return [(message_id, body) for message_id, body in rows]


def writes(statements: list[Any]) -> Counter[str]:
    return Counter(
        f"{m.group(0).split()[0].upper()} {m.group(1)}" for s in statements if (m := WRITE.match(s.sql)) is not None
    )


async def watch_cycle(groups: int, template: bytes, database_url: str, work: Path) -> None:
    month = next_month(date.today())
    period_end = next_month(month) - timedelta(days=1)
    truth_path = work / "truth.yaml"
    write_truth(truth_path, [month])
    names = [f"group-{n:02d}" for n in range(groups)]
    side = create_engine(database_url)
    with FakeAmion(truth_path) as fake:
        configure(database_url, fake.base_url, names, 1.0)
        engine = shared_engine()
        with Session(engine) as session, session.begin():
            session.execute(pg_insert(PersonRow).values(ROSTER).on_conflict_do_nothing(index_elements=["email"]))
        for name in names:
            version_id = production_version(engine, template, name, month, period_end)
            store_scrape(version_id, name, month, period_end, await fetched_pages(name, [month]))
        settings = get_settings().model_copy(update={"watch_jitter_s": 0.0})
        watch.tick(settings)  # the groups' watches, their first checks an interval away: made due now
        with side.begin() as conn:
            conn.execute(text("UPDATE amion_watches SET next_check_at = now() - interval '1 second'"))
        tables = ("scrape_batches", "amion_pages", "assignments", "workflows", "coverage_calculations")
        before_rows = {t: side.connect().execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        requests_before = fake.ocs_requests

        with recorded(engine) as statements:
            began = time.perf_counter()
            due = await asyncio.to_thread(watch.tick, settings)
            checks = take_outbox(side, CheckAmion.routing_key)
            await asyncio.gather(
                *(scraper.check(CheckAmion.model_validate_json(body), Delivery(mid, "bench", CheckAmion.routing_key,
                                                                               False)) for mid, body in checks)
            )  # fmt: skip
            answers = take_outbox(side, AmionChecked.routing_key)
            for mid, body in answers:
                delivery = Delivery(mid, "bench", AmionChecked.routing_key, False)
                await asyncio.to_thread(watch.on_amion_checked, AmionChecked.model_validate_json(body), delivery)
            took = time.perf_counter() - began
        outcomes = Counter(AmionChecked.model_validate_json(body).outcome.value for _, body in answers)
        after_rows = {t: side.connect().execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        requests = fake.ocs_requests - requests_before
    side.dispose()
    print(f"1. watch cycle over {groups} groups, Amion unchanged (one month each, one account each)")
    print(f"   groups due {due}, checks {len(checks)}, answers {dict(outcomes)}, Amion requests {requests}")
    print(f"   time {took:.2f} s ({took / groups * 1000:.1f} ms per group, the checks concurrent)")
    print(f"   SQL statements {len(statements)}: {len(statements) / groups:.1f} per group")
    for write, n in sorted(writes(statements).items()):
        print(f"     {write:<40} {n:>4}  ({n / groups:.2f} per group)")
    changed = {t: after_rows[t] - before_rows[t] for t in tables}
    print(f"   rows added: {changed} (no batch, page, assignment, workflow or calculation)")


def remove_mid3(path: Path, day: date) -> Callable[[], None]:
    """Remove `day`'s Mid 3 assignment from the truth file; returns how to put it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (mid3,) = [a for a in data["assignments"] if a["date"] == day.isoformat() and a["label"].startswith("Mid 3")]
    data["assignments"].remove(mid3)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    def put_back() -> None:
        restored = yaml.safe_load(path.read_text(encoding="utf-8"))
        restored["assignments"].append(mid3)
        path.write_text(yaml.safe_dump(restored), encoding="utf-8")

    return put_back


def change_dates(engine: Engine, version_id: uuid.UUID, days: list[date], n: int) -> None:
    """MidC on `days` goes to another person of the roster (a different one each round `n`)."""
    with Session(engine) as session, session.begin():
        people = session.scalars(select(PersonRow.id).where(PersonRow.specialty == "BOTH").order_by(PersonRow.id)).all()
        session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.version_id == version_id, AssignmentRow.role == "MidC",
                   AssignmentRow.schedule_date.in_(days))
            .values(person_id=people[n % len(people)])
        )  # fmt: skip


async def one_change(runs: int, template: bytes, database_url: str, work: Path) -> None:
    start = next_month(date.today())
    months = months_of_period(start, start.replace(year=start.year + 1) - timedelta(days=1))
    end = next_month(months[-1]) - timedelta(days=1)
    truth_path = work / "year.yaml"
    write_truth(truth_path, months)
    with FakeAmion(truth_path) as fake:
        configure(database_url, fake.base_url, ["year"], 50.0)
        engine = shared_engine()
        version_id = production_version(engine, template, "year", start, end)
        store_scrape(version_id, "year", start, end, await fetched_pages("year", months))
        recalculate(version_id, 0)
        take_outbox(engine, coverage.CoverageCalculated.routing_key)
        figures: list[tuple[float, float, int, int]] = []
        put_back: Callable[[], None] | None = None
        for n in range(1, 2 * runs + 1):
            if put_back is None:
                put_back = remove_mid3(truth_path, start + timedelta(days=10 + n))
            else:
                put_back()
                put_back = None
            pages = await fetched_pages("year", months)  # the re-scrape's responses: the clock starts here
            began = time.perf_counter()
            store_scrape(version_id, "year", start, end, pages)
            stored = time.perf_counter()
            recalculate(version_id, n)
            announced = time.perf_counter()
            (event,) = [json.loads(body) for _, body in take_outbox(engine, "event.coverage.changed")]
            take_outbox(engine, coverage.CoverageCalculated.routing_key)
            figures.append((stored - began, announced - stored, len(event["gaps_opened"]), len(event["gaps_closed"])))
        scrape_s = statistics.median(f[0] for f in figures)
        coverage_s = statistics.median(f[1] for f in figures)
        total = scrape_s + coverage_s
        print(f"2. one changed assignment in a one-year production version ({start} to {end}), {2 * runs} changes")
        print(f"   gaps opened/closed per change: {[(f[2], f[3]) for f in figures]}")
        print(f"   from the Amion responses to CoverageChanged in the outbox: {total:.3f} s (median) "
              f"= scrape phase {scrape_s:.3f} s + coverage phase {coverage_s:.3f} s; under 1 s: "
              f"{'yes' if total < 1 else 'NO'}")  # fmt: skip

        options = CalculationOptions.from_settings(get_settings())
        print("   recalculation (calculate_and_store, committed) by the number of dates changed:")
        year_days = list(dates_between(start, end))
        for label, days in (("1 date", year_days[40:41]), ("a month", year_days[31:62]), ("a year", year_days)):
            times, recomputed, counted = [], 0, 0
            for n in range(runs):
                change_dates(engine, version_id, days, n + 1)
                began = time.perf_counter()
                with recorded(engine) as statements, Session(engine) as session, session.begin():
                    calculated = calculate_and_store(session, version_id, uuid.uuid4(), options)
                times.append(time.perf_counter() - began)
                assert calculated is not None
                recomputed = len(calculated.recomputed) if calculated.recomputed is not None else len(year_days)
                counted = len(statements)
            print(f"     {label:<8} {len(days):>4} dates changed: recomputed {recomputed:>3} dates, "
                  f"{statistics.median(times):.3f} s, {counted} statements")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--template", type=Path, default=REAL_TEMPLATE)
    parser.add_argument("--work", type=Path, default=Path(".schedcu/bench-watch"))
    parser.add_argument("--database", default="schedcu_bench_watch", help="dropped and created again")
    args = parser.parse_args()
    template = args.template.read_bytes() if args.template.exists() else sample_template()
    args.work.mkdir(parents=True, exist_ok=True)
    database_url = fresh_database(args.database)
    loads = os.getloadavg()
    print(f"watch benchmark: template {args.template if args.template.exists() else 'sample_template()'}")
    print(f"load average before {loads[0]:.1f} ({os.cpu_count()} CPUs)")
    asyncio.run(watch_cycle(args.groups, template, database_url, args.work))
    asyncio.run(one_change(args.runs, template, database_url, args.work))
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
