"""Transient is not poison: which failures are the database's or the broker's absence, how long to wait
before trying again, and the gates that hold work while a dependency is down.

Why the consumer retries in process, holding the delivery
----------------------------------------------------------
A transient failure (PostgreSQL or RabbitMQ unavailable, a serialization failure, a deadlock, a lock or
statement timeout) says nothing about the message, so it must not count toward the queue's delivery
limit. The consumer keeps the delivery unacknowledged and runs the handler again in the same process:

- while the database is down, the worker's database gate is closed: no handler starts work, the held
  deliveries wait on the gate, and the bounded prefetch means the broker sends no more. One probe per
  process (`SELECT 1`, backoff 0.25 s doubling to 2 s, jittered) reopens the gate, so the worker resumes
  by itself within about 2 s of the database's return;
- other transient failures are retried after a capped exponential backoff with jitter, 0.5 s doubling to
  30 s (`TRANSIENT`).

A deterministic failure (any other exception) is counted by RabbitMQ: the consumer waits its backoff
(1 s doubling to 30 s, `DETERMINISTIC`, so never a hot loop) while holding the delivery, then rejects it
for redelivery; on the last allowed delivery it dead-letters the message itself, with the reason and the
true delivery count in its headers (the broker's own dead-lettering keeps neither).

The alternatives were weighed against this. Delay queues with a TTL per attempt (a retry exchange, one
queue per delay, dead-lettering back to the work queue) need more topology and broker permissions per
service, republish the message (a publish that can itself fail while the broker falters), and would still
count or lose the attempt number by hand. RabbitMQ 3.10 has no delayed redelivery: a quorum queue returns
a rejected message at once, which spent a delivery limit of 5 in ~40 ms, and the delayed-message plugin is
not replicated. Holding the delivery needs nothing from the broker and keeps the message where it is.

What holding costs, and why it is safe:

- a worker that dies while holding a delivery (kill, crash, lost connection) hands it back: RabbitMQ
  redelivers it to another consumer (counted as a delivery) and the inbox skips the work already committed;
- RabbitMQ closes a channel that holds a delivery longer than its `consumer_timeout` (default 30 minutes),
  returning the delivery; the consumer notices the closed channel, stops retrying it, and the robust
  connection reopens the channel. A database outage longer than that costs one counted delivery per
  timeout, so the limit is only spent by outages of hours;
- while held, a delivery uses one prefetch slot; other deliveries go on in parallel (up to the prefetch).
"""

import asyncio
import enum
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import aiormq.exceptions
import psycopg
import sqlalchemy.exc
from pamqp.commands import Basic

log = logging.getLogger(__name__)


class Failure(enum.Enum):
    DATABASE_DOWN = "database unavailable"
    BROKER_DOWN = "broker unavailable"
    TRANSIENT = "transient"  # serialization failure, deadlock, lock or statement timeout, pool timeout
    # a publish the broker answered with basic.nack: it could not take the message (in a cluster: a queue's leader
    # went away while the message was on its way); publishing it again is safe (message ids, inboxes)
    NACKED = "not taken by the broker"
    DETERMINISTIC = "deterministic"

    @property
    def transient(self) -> bool:
        return self is not Failure.DETERMINISTIC


# connection exceptions (class 08), the server shutting down or starting, no connection slot free
DATABASE_DOWN_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
# serialization failure, deadlock, lock not available, statement timeout, idle session timeout
TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03", "57014", "57P05")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (a DBAPI error's driver exception) and what caused it, each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, sqlalchemy.exc.DBAPIError) and isinstance(current.orig, BaseException):
            pending.append(current.orig)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        # aiormq cancels what waits on a connection it lost with the loss as the reason (`task.cancel(error)`)
        if isinstance(current, asyncio.CancelledError) and current.args and isinstance(current.args[0], BaseException):
            pending.append(current.args[0])


def _classify_one(error: BaseException) -> Failure:
    if isinstance(error, psycopg.Error):
        state = error.sqlstate
        if state is None:
            # no answer from the server at all: refused, reset, closed connection
            return Failure.DATABASE_DOWN if isinstance(error, psycopg.OperationalError) else Failure.DETERMINISTIC
        if state.startswith(DATABASE_DOWN_SQLSTATES):
            return Failure.DATABASE_DOWN
        return Failure.TRANSIENT if state.startswith(TRANSIENT_SQLSTATES) else Failure.DETERMINISTIC
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return Failure.DATABASE_DOWN
    if isinstance(error, sqlalchemy.exc.DisconnectionError):
        return Failure.DATABASE_DOWN
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection free in time
        return Failure.TRANSIENT
    if isinstance(error, aiormq.exceptions.DeliveryError) and isinstance(error.frame, Basic.Nack):
        return Failure.NACKED
    if isinstance(error, aiormq.exceptions.AMQPConnectionError | aiormq.exceptions.ChannelInvalidStateError):
        return Failure.BROKER_DOWN
    if isinstance(error, ConnectionError | TimeoutError):
        return Failure.TRANSIENT
    return Failure.DETERMINISTIC


def classify(error: BaseException) -> Failure:
    """How a failure should be handled: the first transient kind found in the error's chain, else
    deterministic."""
    for current in _chain(error):
        kind = _classify_one(current)
        if kind.transient:
            return kind
    return Failure.DETERMINISTIC


_CREDENTIALS = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def describe(error: BaseException, limit: int = 500) -> str:
    """`Type: message` safe to log and to put in a dead-letter header: a DBAPI error shows its driver's
    message without the SQL and its parameters, and a URL's password is masked."""
    shown = error.orig if isinstance(error, sqlalchemy.exc.DBAPIError) and error.orig is not None else error
    text = str(shown).strip().splitlines()
    message = _CREDENTIALS.sub(r"\1***@", text[0] if text else "")
    return f"{type(shown).__name__}: {message}"[:limit] if message else type(shown).__name__


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with equal jitter: attempt n waits between half of
    min(cap, first * 2**n) and all of it, so never less than `first_s`."""

    first_s: float
    cap_s: float

    def ceiling(self, attempt: int) -> float:
        return min(self.cap_s, self.first_s * 2 ** min(attempt, 32))

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        ceiling = self.ceiling(attempt)
        return ceiling / 2 + rand() * ceiling / 2


TRANSIENT = Backoff(first_s=0.5, cap_s=30.0)
DETERMINISTIC = Backoff(first_s=1.0, cap_s=30.0)
DATABASE_PROBE = Backoff(first_s=0.25, cap_s=2.0)
BROKER_PROBE = Backoff(first_s=0.25, cap_s=1.0)


class DependencyGate:
    """Whether a dependency (the database, the broker) answers, as this process last saw it.

    Whoever sees it unavailable closes the gate; work that needs it waits until the gate is open. While
    closed, one probe checks the dependency on a short capped backoff and reopens the gate when it
    answers. Each change of state is logged once: down (with the cause), back (with how long it was down).
    """

    def __init__(self, name: str, probe: Callable[[], Awaitable[bool]], backoff: Backoff) -> None:
        self.name = name
        self._probe = probe
        self._backoff = backoff
        self._open = asyncio.Event()
        self._open.set()
        self._down_since = 0.0
        self._prober: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def close(self, cause: BaseException | str) -> None:
        if not self._open.is_set():
            return
        self._open.clear()
        self._down_since = time.monotonic()
        shown = cause if isinstance(cause, str) else describe(cause)
        log.warning("%s unavailable (%s); holding work until it answers", self.name, shown)
        self._prober = asyncio.create_task(self._probe_until_open(), name=f"probe-{self.name}")

    async def wait_open(self) -> None:
        await self._open.wait()

    async def _probe_until_open(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            await asyncio.sleep(self._backoff.delay(attempt))
            try:
                if await self._probe():
                    break
            except Exception as error:
                log.debug("%s probe failed: %s", self.name, describe(error))
        self._open.set()
        log.warning("%s is back after %.1f s; resuming", self.name, time.monotonic() - self._down_since)

    async def stop(self) -> None:
        if self._prober is not None and not self._prober.done():
            self._prober.cancel()
            await asyncio.gather(self._prober, return_exceptions=True)


async def unless_stopped(stopping: asyncio.Event, waiting: Awaitable[object]) -> bool:
    """Wait for `waiting` or for `stopping`, whichever comes first; True when not stopping."""
    tasks = [asyncio.ensure_future(waiting), asyncio.ensure_future(stopping.wait())]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return not stopping.is_set()
