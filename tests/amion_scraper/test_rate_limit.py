"""One politeness limit per Amion account across scraper processes (each engine stands for a process)."""

import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from services.amion_scraper.rate_limit import hold_back, reserve_start
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
