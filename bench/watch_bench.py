"""The watch of Amion: a cycle over many unchanged groups, one change in a one-year production version, and
tonight's changes through the five workers.

    .venv/bin/python bench/watch_bench.py [--groups 500] [--accounts 10] [--runs 3] [--near-groups 50]
        [--near-accounts 5] [--changes 20] [--template FILE.ods] [--database NAME]

Sections 1 and 2 use a fresh database (`schedcu_bench_watch` unless `--database`) on the server of
SCHEDCU_DATABASE_URL (dropped and created again) and an in-process fake Amion; the workers' handlers run in this
process, as the workers run them, with the outbox read and emptied in between the way the relay does (its two
statements per message, a claim and a delete, are not counted).

1. A watch cycle over `--groups` groups spread over `--accounts` accounts, politeness lifted (1,000 requests/s),
   each group with a production version of next month whose Amion data has not changed: the versions worker's
   tick (one CheckAmion per account), the checks in the scraper, and the answers back in the versions worker.
   Printed: the cycle time, Amion requests, and the SQL statements per group (target at most 3), with every
   write by table: only the time of the check (`amion_watches`), the watch's account budget, the inbox and
   outbox rows of the messages, and the accounts' politeness slots; no batch, page, workflow or calculation.
2. A one-year production version (from next month), one Mid 3 assignment removed in Amion: from the re-scrape's
   Amion responses to `CoverageChanged` in the outbox (the scrape phase's transaction, then the coverage
   phase's), target under 1 s; and the recalculation alone when 1, 31 or 365 dates changed.
3. The near-term watch through the five worker processes at default watch settings, on a database and a
   broker vhost of its own (removed afterwards) and one in-process fake Amion per account (1 request/s, the
   default politeness): `--near-groups` groups on `--near-accounts` accounts, each with a production version of
   the week from today. Once every group has been checked, rounds of one change per account, each at a random
   point of the near-term interval: tonight's ON1 assignment removed (then put back). Printed: per change the
   time until every group of that account announced `CoverageChanged`, their p50 and max (target max 120 s),
   and per account the most requests within a minute and the closest two (never closer than the politeness).

Exits 1 when a target is missed.
"""

import argparse
import asyncio
import bisect
import functools
import itertools
import json
import math
import os
import random
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import yaml
from benchlib import fresh_database
from pipeline_bench import provisioned
from sqlalchemy import Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schedcu.runtime import processes
from schedcu.testing.demo_data import ROSTER, truth
from schedcu.testing.fake_amion import FakeAmion
from schedcu.testing.sample_template import sample_template
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
from shared.db.models import Assignment, OutboxMessage, Person, VersionLifecycle, Workflow
from shared.db.session import engine as shared_engine
from shared.db.statements import recorded
from shared.kernel.contracts import AmionChecked, CalculateCoverage, CheckAmion, ImportRequested, Period, TemplateSource
from shared.kernel.schedule_days import dates_between
from shared.kernel.states import VersionState, WorkflowState
from shared.messaging.consumer import Delivery
from shared.settings import get_settings

REAL_TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "templates" / "cuSchedNormalized.ods"
PASSWORD = "bench pass"
STATEMENTS_PER_GROUP = 3
NEAR_TARGET_S = 120.0
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


@functools.cache
def parsed_template(template: bytes) -> Any:
    return parse_workbook(template)


def production_version(
    engine: Engine, template: bytes, group: str, start: date, end: date, account: str | None = None
) -> uuid.UUID:
    """The template imported for the period by an import workflow of `account` (default: one named as the group),
    then promoted."""
    parsed = parsed_template(template)
    assert parsed.layout is Layout.TEMPLATE, parsed.findings
    version_id, workflow_id = uuid.uuid4(), uuid.uuid4()
    request = ImportRequested(
        request_id=f"bench-{group}", group=group, period=Period(start=start, end=end),
        template=TemplateSource(filename="bench.ods", path="bench.ods"), amion_account=account or group,
        requested_by="bench",
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
        scrape_store.record_outcome(session, batch_id, version_id, outcome, get_settings().tz)


def recalculate(version_id: uuid.UUID, n: int) -> None:
    """The coverage worker's handling of a recalculation: store, compare, announce."""
    delivery = Delivery(f"bench-calc-{version_id}-{n}", "bench", CalculateCoverage.routing_key, False)
    coverage.calculate_coverage(CalculateCoverage(version_id=version_id), delivery, get_settings())


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


async def watch_cycle(groups: int, accounts: int, template: bytes, database_url: str, work: Path) -> bool:
    """Prints the cycle; False when a group cost more than STATEMENTS_PER_GROUP statements or wrote more than the
    check's bookkeeping."""
    month = next_month(date.today())
    period_end = next_month(month) - timedelta(days=1)
    truth_path = work / "truth.yaml"
    write_truth(truth_path, [month])
    names = [f"group-{n:03d}" for n in range(groups)]
    account_names = [f"account-{n:02d}" for n in range(accounts)]
    side = create_engine(database_url)
    with FakeAmion(truth_path) as fake:
        configure(database_url, fake.base_url, account_names, 1000.0)  # politeness lifted
        engine = shared_engine()
        with Session(engine) as session, session.begin():
            session.execute(pg_insert(Person).values(ROSTER).on_conflict_do_nothing(index_elements=["email"]))
        pages = {a: await fetched_pages(a, [month]) for a in account_names}
        for n, name in enumerate(names):
            account = account_names[n % accounts]
            version_id = production_version(engine, template, name, month, period_end, account)
            store_scrape(version_id, account, month, period_end, pages[account])
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
                *(
                    scraper.check(
                        CheckAmion.model_validate_json(body),
                        Delivery(mid, "bench", CheckAmion.routing_key, False),
                        settings,
                    )
                    for mid, body in checks
                )
            )
            answers = take_outbox(side, AmionChecked.routing_key)
            for mid, body in answers:
                delivery = Delivery(mid, "bench", AmionChecked.routing_key, False)
                await asyncio.to_thread(
                    watch.on_amion_checked, AmionChecked.model_validate_json(body), delivery, settings
                )
            took = time.perf_counter() - began
        outcomes = Counter(
            r.outcome.value for _, body in answers for r in AmionChecked.model_validate_json(body).results
        )
        after_rows = {t: side.connect().execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        requests = fake.ocs_requests - requests_before
    side.dispose()
    print(f"1. watch cycle over {groups} groups on {accounts} accounts, Amion unchanged (one month each), politeness"
          " lifted")  # fmt: skip
    print(
        f"   groups due {due}, CheckAmion messages {len(checks)}, versions {dict(outcomes)}, Amion requests {requests}"
    )
    print(f"   cycle time {took:.2f} s ({took / groups * 1000:.1f} ms per group, the checks concurrent)")
    per_group = len(statements) / groups
    statements_ok = per_group <= STATEMENTS_PER_GROUP
    print(f"   SQL statements {len(statements)}: {per_group:.1f} per group (target <= {STATEMENTS_PER_GROUP}: "
          f"{'yes' if statements_ok else 'NO'})")  # fmt: skip
    for write, n in sorted(writes(statements).items()):
        print(f"     {write:<40} {n:>4}  ({n / groups:.2f} per group)")
    changed = {t: after_rows[t] - before_rows[t] for t in tables}
    print(f"   rows added: {changed} (no batch, page, assignment, workflow or calculation)")
    return statements_ok and not any(changed.values())


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
        people = session.scalars(select(Person.id).where(Person.specialty == "BOTH").order_by(Person.id)).all()
        session.execute(
            update(Assignment)
            .where(Assignment.version_id == version_id, Assignment.role == "MidC",
                   Assignment.schedule_date.in_(days))
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


async def consume_changes(
    amqp_url: str, seen: dict[str, list[float]], ready: threading.Event, stop: threading.Event
) -> None:
    """Every CoverageChanged on the vhost: version id -> the times it arrived."""
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind("schedcu.events", "event.coverage.changed")

        async def received(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                seen.setdefault(json.loads(message.body)["version_id"], []).append(time.time())

        await queue.consume(received)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)


def edit_tonight(path: Path, day: date, removed: dict[str, Any] | None) -> dict[str, Any] | None:
    """Remove `day`'s ON1 assignment from the truth file (returns it), or put `removed` back; written at once."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if removed is None:
        (on1,) = [a for a in data["assignments"] if str(a["date"]) == day.isoformat() and a["label"].startswith("ON1")]
        data["assignments"].remove(on1)
    else:
        data["assignments"].append(removed)
    aside = path.with_suffix(".new")
    aside.write_text(yaml.safe_dump(data), encoding="utf-8")
    aside.replace(path)
    return on1 if removed is None else None


def request_times(fake_root: str) -> list[float]:
    """When each request reached that fake Amion (its request log)."""
    times: list[float] = httpx.get(f"{fake_root}/stats", timeout=10).json()["request_times"]
    return times


def per_minute(times: list[float]) -> int:
    """The most requests within any 60 s."""
    return max((bisect.bisect_right(times, t + 60.0) - i for i, t in enumerate(times)), default=0)


def near_term(groups: int, accounts: int, changes: int, template: bytes, work: Path) -> bool:
    """Tonight's assignment removed (then put back) in one account's Amion at a time, with the five workers
    running at default watch settings: the time until every group of that account has announced
    `CoverageChanged`. False when the slowest is over NEAR_TARGET_S or an account was asked faster than its
    politeness."""
    tz = get_settings().tz
    tonight = datetime.now(tz).date()
    end = tonight + timedelta(days=6)
    months = sorted({tonight.replace(day=1), end.replace(day=1)})
    account_names = [f"account-{n}" for n in range(accounts)]
    name = f"schedcu_bench_near_{os.getpid()}"
    amqp_root = os.environ.get("SCHEDCU_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    with ExitStack() as stack:
        database_url, amqp_url = stack.enter_context(provisioned(name, amqp_root))
        truths = {a: work / f"near-{a}.yaml" for a in account_names}
        fakes: dict[str, str] = {}  # account -> the root URL of its fake Amion, a process of its own
        log_dir = work / "near-logs"
        log_dir.mkdir(exist_ok=True)
        for account, path in truths.items():
            write_truth(path, months)
            (log_dir / account).mkdir(exist_ok=True)
            fake = processes.fake_amion(path, dict(os.environ), log_dir / account).start()
            stack.callback(fake.stop)
            fake.wait_healthy()
            fakes[account] = fake.health_url.removesuffix("/truth")
        os.environ["SCHEDCU_DATABASE_URL"] = database_url
        os.environ["SCHEDCU_BENCH_AMION_PASSWORD"] = PASSWORD
        os.environ["SCHEDCU_AMION_ACCOUNTS"] = json.dumps(
            {
                a: {"base_url": f"{fakes[a]}/cgi-bin/ocs", "password_env": "SCHEDCU_BENCH_AMION_PASSWORD"}
                for a in account_names
            }
        )
        get_settings.cache_clear()
        engine = shared_engine()
        with Session(engine) as session, session.begin():
            session.execute(pg_insert(Person).values(ROSTER).on_conflict_do_nothing(index_elements=["email"]))
        versions: dict[str, list[str]] = {a: [] for a in account_names}
        for account in account_names:
            pages = asyncio.run(fetched_pages(account, months))
            for n in range(groups // accounts):
                group = f"{account}-group-{n:02d}"
                version_id = production_version(engine, template, group, tonight, end, account)
                store_scrape(version_id, account, tonight, end, pages)
                recalculate(version_id, 0)
                versions[account].append(str(version_id))
        with engine.begin() as conn:
            conn.execute(delete(OutboxMessage))  # the set-up's own events: nobody waits for them
        requests_before = {a: len(request_times(root)) for a, root in fakes.items()}

        env = {**os.environ, "SCHEDCU_AMQP_URL": amqp_url}
        workers = [processes.worker(w, env, log_dir).start() for w in processes.WORKER_NAMES]
        for w in workers:
            stack.callback(w.stop)
        for w in workers:
            w.wait_healthy(timeout_s=120)
        seen: dict[str, list[float]] = {}
        ready, stop = threading.Event(), threading.Event()
        consumer = threading.Thread(
            target=lambda: asyncio.run(consume_changes(amqp_url, seen, ready, stop)), daemon=True
        )
        consumer.start()
        stack.callback(consumer.join)
        stack.callback(stop.set)
        ready.wait(30)  # the workers declared the exchange
        started = time.time()
        first_checked = deadline_at(NEAR_TARGET_S * 2)
        while time.monotonic() < first_checked:  # every group's first near-term check: the watch in its stride
            with engine.connect() as conn:
                if (
                    conn.execute(
                        text("SELECT count(*) FROM amion_watches WHERE last_check_at IS NOT NULL")
                    ).scalar_one()
                    >= groups
                ):
                    break
            time.sleep(1)
        print(f"3. near-term watch through the five workers, {groups} groups on {accounts} accounts, default settings "
              f"(near-term every {get_settings().watch_near_interval_s:.0f} s, full every "
              f"{get_settings().watch_interval_s:.0f} s, politeness {1.0:g} request/s)")  # fmt: skip
        print(f"   every group checked once {time.time() - started:.0f} s after the workers started")
        latencies: list[float] = []
        removed: dict[str, dict[str, Any] | None] = dict.fromkeys(account_names)
        rng = random.Random(7)
        while len(latencies) < changes:  # a round: one change in each account, at random points of the rhythm
            round_accounts = account_names[: changes - len(latencies)]
            offsets = {a: time.time() + rng.uniform(0, get_settings().watch_near_interval_s) for a in round_accounts}
            counts: dict[str, dict[str, int]] = {}
            changed_at: dict[str, float] = {}
            until = deadline_at(get_settings().watch_near_interval_s + NEAR_TARGET_S * 3)
            while time.monotonic() < until:
                for account in round_accounts:
                    if account not in changed_at and time.time() >= offsets[account]:
                        counts[account] = {v: len(seen.get(v, [])) for v in versions[account]}
                        changed_at[account] = time.time()
                        removed[account] = edit_tonight(truths[account], tonight, removed[account])
                if len(changed_at) == len(round_accounts) and all(
                    len(seen.get(v, [])) > counts[a][v] for a in round_accounts for v in versions[a]
                ):
                    break
                time.sleep(0.2)
            for account in round_accounts:
                arrivals = [seen[v][counts[account][v]] for v in versions[account]
                            if len(seen.get(v, [])) > counts[account][v]]  # fmt: skip
                complete = len(arrivals) == len(versions[account])
                latency = max(arrivals) - changed_at[account] if complete else math.inf
                latencies.append(latency)
                print(f"   change {len(latencies):>2} ({account}): every group's CoverageChanged after {latency:.1f} s",
                      flush=True)  # fmt: skip
        times = {a: request_times(root)[requests_before[a] :] for a, root in fakes.items()}
    p50, worst = statistics.median(latencies), max(latencies)
    print(
        f"   change -> CoverageChanged of every group of the account: p50 {p50:.1f} s, max {worst:.1f} s over "
        f"{len(latencies)} changes (target max <= {NEAR_TARGET_S:.0f} s: {'yes' if worst <= NEAR_TARGET_S else 'NO'})"
    )
    polite = True
    for account, stamps in times.items():
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        closest = min(gaps, default=math.inf)
        polite = polite and closest >= 1.0
        span_min = (stamps[-1] - stamps[0]) / 60 if len(stamps) > 1 else 0.0
        print(f"   {account}: {len(stamps)} requests in {span_min:.1f} min, at most {per_minute(stamps)} in a minute "
              f"(politeness 60), closest two {closest:.3f} s apart")  # fmt: skip
    return worst <= NEAR_TARGET_S and polite


def deadline_at(seconds: float) -> float:
    return time.monotonic() + seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=500, help="groups of the unchanged cycle (default 500)")
    parser.add_argument("--accounts", type=int, default=10, help="accounts of the unchanged cycle (default 10)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--near-groups", type=int, default=50, help="groups of the near-term run (default 50)")
    parser.add_argument("--near-accounts", type=int, default=5, help="accounts of the near-term run (default 5)")
    parser.add_argument("--changes", type=int, default=20, help="changes of the near-term run (default 20; 0: none)")
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
    met = asyncio.run(watch_cycle(args.groups, args.accounts, template, database_url, args.work))
    asyncio.run(one_change(args.runs, template, database_url, args.work))
    if args.changes:
        met = near_term(args.near_groups, args.near_accounts, args.changes, template, args.work) and met
    print(f"load average after {os.getloadavg()[0]:.1f}")
    if not met:
        raise SystemExit("a target was missed")


if __name__ == "__main__":
    main()
