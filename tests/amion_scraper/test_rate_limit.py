"""One politeness limit per Amion account across scraper processes (each engine stands for a process)."""

import asyncio
import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from services.amion_scraper.rate_limit import SharedPoliteness, hold_back, reserve_start
from shared.settings import AmionAccount
from tests.conftest import Services

pytestmark = pytest.mark.integration

INTERVAL_S = 0.25


def test_reservations_from_two_processes_are_an_interval_apart(services: Services) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    engines = [create_engine(services.database_url), create_engine(services.database_url)]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            reserved = list(pool.map(lambda n: reserve_start(engines[n % 2], account, INTERVAL_S), range(12)))
    finally:
        for e in engines:
            e.dispose()
    slots = sorted(slot for slot, _ in reserved)
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert min(gaps) >= timedelta(seconds=INTERVAL_S)
    assert max(wait for _, wait in reserved) >= 10 * INTERVAL_S  # the last ones were told to wait their turn


def test_retry_after_holds_back_every_process_and_accounts_are_independent(services: Services) -> None:
    account, other = f"acct-{uuid.uuid4().hex[:8]}", f"acct-{uuid.uuid4().hex[:8]}"
    reserve_start(services.engine, account, INTERVAL_S)
    hold_back(services.engine, account, 3.0)
    _, wait_s = reserve_start(services.engine, account, INTERVAL_S)
    assert 2.5 < wait_s <= 3.0
    _, other_wait = reserve_start(services.engine, other, INTERVAL_S)
    assert other_wait == 0.0


def test_the_arrival_margin_widens_every_spacing_of_request_starts(services: Services) -> None:
    """Starts spaced by the interval alone let a faster request arrive early; the margin is added to each."""
    account = f"acct-{uuid.uuid4().hex[:8]}"
    politeness = SharedPoliteness(account, services.engine, min_interval_s=0.1, margin_s=0.05)

    async def five_turns() -> None:
        for _ in range(5):
            await politeness.wait_turn()

    with services.engine.begin() as conn:
        before = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    asyncio.run(five_turns())
    with services.engine.begin() as conn:
        next_at = conn.execute(text("SELECT next_at FROM amion_request_slots WHERE account = :a"), {"a": account})
        spaced = next_at.scalar_one() - before
    assert spaced >= timedelta(seconds=5 * 0.15)  # five starts, each holding the next back by 0.1 s + 0.05 s


def test_accounts_get_a_50_ms_arrival_margin_by_default() -> None:
    assert AmionAccount().arrival_margin_s == 0.05
