"""One politeness limit per Amion account across every scraper process, kept in PostgreSQL.

Each request reserves its start time in one statement: the account's row moves on by one interval from
whichever is later, its last reservation or now. The row lock of that upsert orders the reservations of
all processes, so request starts are at least an interval apart however many replicas scrape the account.

Amion sees arrivals, not starts. A start is reserved on PostgreSQL's clock and the request leaves when the
client has slept until that time by its own clock; a request that leaves later than its slot or travels faster
than the one before it arrives closer to it than the interval (up to 18 ms measured; when the client slept
for the wait the server computed, ten checks in flight in one process, as the watch sends them, brought two
arrivals 0.974 s apart at a 1 s interval). The account's `arrival_margin_s` (default 50 ms) is
added to every spacing, so arrivals stay at least the configured interval apart while such differences stay
under the margin.
"""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from services.amion_scraper.client import Politeness

_RESERVE = text(
    """
    INSERT INTO amion_request_slots AS s (account, next_at)
    VALUES (:account, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (account) DO UPDATE
        SET next_at = greatest(s.next_at, clock_timestamp()) + make_interval(secs => :interval)
    RETURNING s.next_at - make_interval(secs => :interval) AS slot,
              extract(epoch FROM s.next_at - make_interval(secs => :interval) - clock_timestamp()) AS wait_s
    """
)
_HOLD_BACK = text(
    """
    INSERT INTO amion_request_slots AS s (account, next_at)
    VALUES (:account, clock_timestamp() + make_interval(secs => :seconds))
    ON CONFLICT (account) DO UPDATE
        SET next_at = greatest(s.next_at, clock_timestamp() + make_interval(secs => :seconds))
    """
)


def reserve_start(engine: Engine, account: str, interval_s: float) -> tuple[datetime, float]:
    """The start time reserved for the account's next request, and how many seconds from now that is."""
    with engine.begin() as conn:
        slot, wait_s = conn.execute(_RESERVE, {"account": account, "interval": interval_s}).one()
    return slot, max(0.0, float(wait_s))


def hold_back(engine: Engine, account: str, seconds: float) -> None:
    with engine.begin() as conn:
        conn.execute(_HOLD_BACK, {"account": account, "seconds": seconds})


class SharedPoliteness(Politeness):
    """Request starts spaced across processes by `min_interval_s` plus `margin_s`; `max_in_flight` still counts
    this process's requests."""

    def __init__(
        self, account: str, engine: Engine, max_in_flight: int = 5, min_interval_s: float = 1.0, margin_s: float = 0.0
    ) -> None:
        super().__init__(max_in_flight, min_interval_s + margin_s)
        self._account = account
        self._engine = engine

    async def wait_turn(self) -> None:
        # Until the slot by this host's clock (kept in step with PostgreSQL's host by NTP), not for the wait the
        # server computed: the answer may reach the event loop late (many requests share the thread pool and the
        # loop), and a request that leaves late lets the next one, on time, arrive closer than the interval.
        slot, _ = await asyncio.to_thread(reserve_start, self._engine, self._account, self._interval)
        wait_s = (slot - datetime.now(UTC)).total_seconds()
        if wait_s > 0:
            await asyncio.sleep(wait_s)

    async def hold_back(self, seconds: float) -> None:
        await asyncio.to_thread(hold_back, self._engine, self._account, seconds)
