"""Repair benchmark (issue 25): 20 seeded sick calls on a published quarter with 40 people, through the real
drafting worker.

Set-up, on a fresh database and a vhost of the run's own: the real template (tests/data/real/templates/
cuSchedNormalized.ods) imported for the quarter from the first of next month and promoted, a roster of 40 (three
quarters BOTH readers, the rest BODY_ONLY and NEURO_ONLY), group limits (a longest run of 3 nights, 2 free days
between runs, nights and weekends per period), and the quarter's assignments drafted by the engine (every role
filled, the nights balanced) stored as Amion's. The drafting worker then runs as its own process.

Each call publishes `RepairSchedule` (a person unavailable on one date, every fifth call on two) and waits for its
`RepairProposed`. Printed per call: the time from the call to `RepairProposed`, the solve time, the changed
assignments against the lower bound, the roles left open, how many changes a direct replacement implies (when each
role-date the person holds on those dates has someone free who breaks no rule, each a different person: one change
per role-date; `-` otherwise), and the largest and summed deviation of nights before and after.

Every fifth call from the third (3, 8, 13, 18) is a chain call: whoever could take the night directly is on time off
that date (stored as time off, removed after the call), so the only fix is a chain: someone kept off it by a limit
or the rest rule takes it and somebody else takes one of their nights. The chain's moves are printed under the call.

Targets: median <= 2 s and maximum <= 5 s from the call to `RepairProposed`; the change count proven minimal in at
least all calls but one (19 of 20); every role filled in every call; when direct replacements exist, exactly one
change per role-date held (1 for a one-date call). Exit 1 when one is missed.

Run: `.venv/bin/python bench/repair_bench.py [--calls 20] [--seed 11]` (needs PostgreSQL and RabbitMQ as for the
tests: SCHEDCU_DATABASE_URL, and the broker at amqp://guest:guest@127.0.0.1:5672/ administered by rabbitmqctl).
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import aio_pika
from pipeline_bench import provisioned
from sqlalchemy import Engine, create_engine, delete, func, insert
from sqlalchemy.orm import Session

from schedcu.runtime import processes
from services.drafting.engine import draft
from services.drafting.facts import Facts
from services.drafting.handlers import options_from
from services.drafting.model import Level, Problem, TimeOff
from services.drafting.store import load_problem
from services.ods_importer.expansion import expand
from services.ods_importer.store import store_version
from services.ods_importer.workbook import parse_workbook
from shared.db.models import (
    Assignment,
    DraftGroup,
    DraftTimeOff,
    HospitalGroup,
    Person,
    ScrapeBatch,
    VersionLifecycle,
)
from shared.kernel.contracts import Period, RepairSchedule
from shared.kernel.ids import draft_run_id as run_id_for
from shared.kernel.schedule_days import dates_between
from shared.kernel.states import Layout, VersionState
from shared.messaging.publish import publish_now
from shared.settings import get_settings

TEMPLATE = Path(__file__).resolve().parent.parent / "tests/data/real/templates/cuSchedNormalized.ods"
PEOPLE = 40
MEDIAN_TARGET_S, MAX_TARGET_S = 2.0, 5.0


def published_quarter(database_url: str, start: date, end: date) -> uuid.UUID:
    """The quarter imported, promoted, its roster and limits, and its drafted assignments stored as Amion's."""
    engine = create_engine(database_url)
    parsed = parse_workbook(TEMPLATE.read_bytes())
    assert parsed.layout is Layout.TEMPLATE, parsed.findings
    version_id = uuid.uuid4()
    rng = random.Random(3)
    specialties = ["BOTH"] * (PEOPLE * 3 // 4) + ["BODY_ONLY", "NEURO_ONLY"] * (PEOPLE // 8)
    with Session(engine) as session, session.begin():
        store_version(
            session, version_id=version_id, workflow_id=uuid.uuid4(), group="bench",
            period=Period(start=start, end=end), layout=parsed.layout, template_name="cuSchedNormalized.ods",
            template_sha256="0" * 64,
            windows=parsed.windows, shifts=expand(parsed.windows, start, end, get_settings().tz),
            findings=parsed.findings, actor="bench",
        )  # fmt: skip
        session.execute(insert(VersionLifecycle).values(version_id=version_id, state=VersionState.PRODUCTION))
        session.execute(
            insert(Person),
            [{"name": f"Reader {i:02d}", "email": f"reader{i:02d}@example.org", "specialty": s, "aliases": []}
             for i, s in enumerate(rng.sample(specialties, len(specialties)), start=1)],
        )  # fmt: skip
        group_id = session.scalar(func.min(HospitalGroup.id))
        weeks = ((end - start).days + 1) / 7
        session.execute(
            insert(DraftGroup).values(
                group_id=group_id, nights=round(5 * 7 * weeks / PEOPLE * 1.5) + 2, consecutive=3, free_between=2,
                weekends=round(weeks / 2),
            )
        )  # fmt: skip
    with Session(engine) as session:
        problem = load_problem(session, version_id, options_from(get_settings()))
    published = draft(problem, time_limit=90, order=(Level.UNFILLED, Level.NIGHTS_MAX, Level.NIGHTS_SUM))
    batch_id = uuid.uuid4()
    with Session(engine) as session, session.begin():
        months = {f"{d.year:04d}-{d.month:02d}": {"outcome": "OK"} for d in dates_between(start, end)}
        session.execute(
            insert(ScrapeBatch).values(
                id=batch_id, version_id=version_id, workflow_id=uuid.uuid4(), account="bench", state="COMPLETE",
                months=months, findings=[], finished_at=func.now(),
            )
        )  # fmt: skip
        session.execute(
            insert(Assignment),
            [{"version_id": version_id, "schedule_date": day, "role": role, "person_id": pid, "source": "AMION",
              "scrape_batch_id": batch_id} for (day, role), pid in published.assignment.items()],
        )  # fmt: skip
    unfilled = next(r.value for r in published.levels if r.level is Level.UNFILLED)
    print(f"published quarter {start} .. {end}: {len(published.assignment)} assignments, {unfilled} roles open")
    return version_id


CHAINABLE = {"limit", "rest"}  # a rule a chain can lift: somebody else takes the night that makes it break


def candidates(facts: Facts, key: tuple[date, str]) -> tuple[list[int], list[int]]:
    """Who could take the role-date without any other change, and who is kept off it only by a limit or the rest
    rule (a chain could free them)."""
    slot = facts.index[key]
    at = {s: ks[0].person_id for s, ks in facts.kept_on.items() if s != slot}
    held: dict[int, set[int]] = {}
    for s, p in at.items():
        held.setdefault(p, set()).add(s)
    direct, chained = [], []
    for r in facts.active:
        if r.id in facts.eligible[slot]:
            rules = {reason.rule for reason in facts.reasons(r.id, slot, held, at)}
            if not rules:
                direct.append(r.id)
            elif rules <= CHAINABLE:
                chained.append(r.id)
    return direct, chained


def distinct(options: list[list[int]], taken: frozenset[int] = frozenset()) -> bool:
    """A different person can be picked from each list."""
    if not options:
        return True
    return any(distinct(options[1:], taken | {p}) for p in options[0] if p not in taken)


def direct_changes(problem: Problem, pid: int, first: date, last: date) -> int | None:
    """With `pid` away from `first` to `last`: the changes a direct replacement of each role-date they hold then
    makes (one each), when each has one and a different person can take each; None otherwise."""
    facts = Facts(replace(problem, time_off=(*problem.time_off, TimeOff(pid, frozenset(dates_between(first, last))))))
    keys = [(k.day, k.role) for k in problem.kept if k.person_id == pid and first <= k.day <= last]
    options = [candidates(facts, key)[0] for key in keys]
    return len(keys) if keys and distinct(options) else None


def chain_call(
    problem: Problem, held: list[tuple[date, str, int]], rng: random.Random
) -> tuple[date, str, int, list[int]]:
    """A sick call whose only fix is a chain: the role-date, its person and who must be on time off that date (every
    direct replacement), chosen where someone kept off by a limit or the rest rule could be freed."""
    while True:
        day, role, pid = rng.choice(held)
        facts = Facts(replace(problem, time_off=(*problem.time_off, TimeOff(pid, frozenset({day})))))
        direct, chained = candidates(facts, (day, role))
        if chained:
            return day, role, pid, direct


def away(engine: Engine, people: list[int], day: date) -> list[int]:
    """Time off for `people` on `day`; the rows' ids."""
    with Session(engine) as session, session.begin():
        return list(
            session.scalars(
                insert(DraftTimeOff).returning(DraftTimeOff.id),
                [{"person_id": p, "first_date": day, "last_date": day, "note": "bench: away"} for p in people],
            )
        )


async def call(events: "asyncio.Queue[dict]", command: RepairSchedule) -> tuple[float, dict]:
    """Publish the command; the seconds until its RepairProposed, and the event."""
    message_id = f"bench:{uuid.uuid4()}"
    run_id = str(run_id_for(message_id))
    began = time.monotonic()
    await publish_now(get_settings(), command, [], message_id=message_id, correlation_id=message_id)
    while True:
        event = await asyncio.wait_for(events.get(), 60)
        if event["run_id"] == run_id:
            return time.monotonic() - began, event


async def sick_calls(amqp_url: str, version_id: uuid.UUID, database_url: str, calls: int, seed: int) -> bool:
    engine = create_engine(database_url)
    with Session(engine) as session:
        problem = load_problem(session, version_id, options_from(get_settings()))
    rng = random.Random(seed)
    today = date.today()
    held = sorted((k.day, k.role, k.person_id) for k in problem.kept if k.day > today + timedelta(days=1))
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind("schedcu.events", "event.repair.proposed")
    events: asyncio.Queue[dict] = asyncio.Queue()

    async def received(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            events.put_nowait(json.loads(message.body))

    await queue.consume(received)
    rows = []
    print(f"{'call':>4} {'person':>6} {'dates':<23} {'to event s':>10} {'solve s':>8} {'changes':>7} {'bound':>5} "
          f"{'open':>4} {'direct':>6}  nights: largest before -> after, sum before -> after")  # fmt: skip
    for n in range(1, calls + 1):
        chain = n % 5 == 3
        off: list[int] = []
        direct: int | None = None
        if chain:
            day, _, pid, others = chain_call(problem, held, rng)
            last = day
            off = away(engine, others, day)
        else:
            day, _, pid = rng.choice(held)
            last = day + timedelta(days=1) if n % 5 == 0 else day
            direct = direct_changes(problem, pid, day, last)
        command = RepairSchedule(
            version_id=version_id, requested_by="bench", reason="sick call", person_id=pid, first=day, last=last
        )
        seconds, event = await call(events, command)
        if off:
            with Session(engine) as session, session.begin():
                session.execute(delete(DraftTimeOff).where(DraftTimeOff.id.in_(off)))
        nights = next(f for f in event["fairness"] if f["category"] == "nights")
        rows.append((seconds, event, direct, chain))
        print(
            f"{n:>4} {pid:>6} {day} .. {last.day:02d}{'':>4} {seconds:>10.2f} {event['solve_seconds']:>8.2f} "
            f"{event['changes']:>7} {event['lower_bound']!s:>5} {len(event['unfilled']):>4} {direct or '-'!s:>6}  "
            f"{nights['largest_before']:.3f} -> {nights['largest_after']:.3f}, "
            f"{nights['sum_before']:.3f} -> {nights['sum_after']:.3f}"
        )
        if chain:
            print(f"{'':>6}chain ({len(others)} direct replacements away that date):")
            for move in event["moves"]:
                print(f"{'':>8}{move['position']}. {move['text']}")
    await connection.close()
    times = [s for s, _, _, _ in rows]
    proven, proven_target = sum(e["proven"] for _, e, _, _ in rows), len(rows) - 1
    direct_wrong = [n for n, (_, e, d, _) in enumerate(rows, start=1) if d is not None and e["changes"] != d]
    open_calls = [f"call {n}: {len(e['unfilled'])}" for n, (_, e, _, _) in enumerate(rows, start=1) if e["unfilled"]]
    chains = [f"call {n}: {e['changes']}" for n, (_, e, _, c) in enumerate(rows, start=1) if c]
    median, most = statistics.median(times), max(times)
    print(f"median {median:.2f} s (target <= {MEDIAN_TARGET_S:g}), maximum {most:.2f} s (target <= {MAX_TARGET_S:g})")
    print(f"proven minimal {proven} of {len(rows)} (target >= {proven_target}); direct replacements with a change "
          f"count other than the role-dates held: {direct_wrong or 'none'}")  # fmt: skip
    print(f"calls with a role left open: {', '.join(open_calls) or 'none'}")
    print(f"chain calls, changes (direct replacements away): {', '.join(chains)}")
    return (
        median <= MEDIAN_TARGET_S and most <= MAX_TARGET_S and proven >= proven_target and not direct_wrong
        and not open_calls
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    start = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    end = (start + timedelta(days=92)).replace(day=1) - timedelta(days=1)
    name = f"schedcu_repair_bench_{os.getpid()}"
    with ExitStack() as stack, provisioned(name, "amqp://guest:guest@127.0.0.1:5672/") as (database_url, amqp_url):
        os.environ["SCHEDCU_DATABASE_URL"], os.environ["SCHEDCU_AMQP_URL"] = database_url, amqp_url
        get_settings.cache_clear()
        version_id = published_quarter(database_url, start, end)
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        worker = processes.worker("drafting", dict(os.environ), log_dir).start()
        stack.callback(worker.stop)
        worker.wait_healthy(timeout_s=120)
        ok = asyncio.run(sick_calls(amqp_url, version_id, database_url, args.calls, args.seed))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
