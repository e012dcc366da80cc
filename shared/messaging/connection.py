"""Connecting to RabbitMQ through any of several nodes.

`SCHEDCU_AMQP_URL` may name several hosts, comma-separated, sharing the credentials, the virtual host and the
query: `amqp://user:password@rabbit-1:5672,rabbit-2:5672,rabbit-3/schedcu`. Every client of schedcu tries them
in turn: at connect (each once, the first that answers wins; the error of the last when none does) and, for
the workers' long-lived connection, at every reconnect.

aio-pika connects to one host (mosquito/aio-pika#141) and FastStream's `RabbitBroker._connect` builds its
connection with `aio_pika.connect_robust(**connection_kwargs)`. So:

- `connect` opens a plain connection to the first host that answers (command line, dead-letter tools, metrics,
  declaring the topology);
- `FailoverConnection` is the robust connection a worker keeps: whenever its connection is lost or an attempt
  to connect fails, it moves to the next host. It hooks `_on_connection_close`, which aio-pika calls in both
  cases (`UnderlayConnection.connect` calls it with the failure of an attempt);
- `FailoverBroker` (`shared/messaging/failover_broker.py`, apart so that a command that only connects does not
  import FastStream) is FastStream's `RabbitBroker` whose `_connect` tries each host once and hands
  `connect_robust` the `FailoverConnection` (its `connection_class` argument).

A URL's password never reaches a log line or an error: hosts are shown as `host:port` (`shown`).
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractConnection
from yarl import URL

from shared.messaging.faults import Backoff, classify, describe

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# between rounds over every host: the first round right away, then a capped backoff
RECONNECT = Backoff(first_s=0.25, cap_s=2.0)


class AmqpUrlError(ValueError):
    """SCHEDCU_AMQP_URL cannot be read (the message never holds the URL: it may hold a password)."""


def urls(amqp_url: str) -> list[str]:
    """One URL per host of `amqp_url`, each with the URL's credentials, virtual host and query."""
    scheme, separator, rest = amqp_url.strip().partition("://")
    if not separator or scheme not in ("amqp", "amqps"):
        raise AmqpUrlError("SCHEDCU_AMQP_URL must start with amqp:// or amqps://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host_list = rest[:end].rpartition("@")
    hosts = [host.strip() for host in host_list.split(",") if host.strip()]
    if not hosts:
        raise AmqpUrlError("SCHEDCU_AMQP_URL names no host")
    return [f"{scheme}://{userinfo}{at}{host}{rest[end:]}" for host in hosts]


def login(amqp_url: str) -> str | None:
    """The user `amqp_url` logs in as: what a publisher sets as a message's `user_id`, which RabbitMQ checks
    against the connection's user (a forged one is refused)."""
    return URL(urls(amqp_url)[0]).user


def shown(url: str | URL) -> str:
    """`host:port` of one host's URL."""
    parsed = URL(str(url))
    return f"{parsed.host}:{parsed.port}" if parsed.port else str(parsed.host)


async def connect(amqp_url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> AbstractConnection:
    """A connection to the first host of `amqp_url` that answers; each is tried once, in order."""
    failure: BaseException | None = None
    hosts = urls(amqp_url)
    for n, url in enumerate(hosts, start=1):
        try:
            return await aio_pika.connect(url, timeout=timeout_s)
        except Exception as error:
            if not classify(error).transient:
                raise
            if n < len(hosts):
                log.info("RabbitMQ at %s did not answer (%s); trying the next host", shown(url), describe(error))
            failure = error
    assert failure is not None
    raise failure


class FailoverConnection(RobustConnection):
    """A robust connection over several hosts: each lost connection and each failed attempt moves it to the next
    host. A round over every host goes at once; between rounds it waits `RECONNECT` (0.25 s doubling to 2 s).
    While it is away it logs once what it waits for, and each new cause once; once back, where and after how
    long."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, *, hosts: Sequence[str], **kwargs: Any):
        super().__init__(url, loop, **kwargs)
        self._hosts = [URL(host) for host in hosts]
        self._current = next((i for i, host in enumerate(self._hosts) if shown(host) == shown(url)), 0)
        self._failures = 0
        self._down_since: float | None = None
        self._causes: set[str] = set()

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # a connection that never connected is the first attempt: FailoverBroker tries the next host itself
        if self.connection_attempt and not (self.is_closed or self._close_called):
            self._move_on(closing)
        await super()._on_connection_close(closing)

    def _move_on(self, closing: asyncio.Future[Any]) -> None:
        error = None if closing.cancelled() else closing.exception()
        cause = describe(error) if error is not None else "closed"
        left = shown(self.url)
        self._failures += 1
        self._current = (self._current + 1) % len(self._hosts)
        self.url = self._hosts[self._current].with_query(self.url.query)
        rounds = (self._failures - 1) // len(self._hosts)
        self.reconnect_interval = 0.0 if self._failures % len(self._hosts) else RECONNECT.delay(rounds + 1)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "RabbitMQ connection to %s lost (%s); waiting for any of %s, each in turn, at most %.0f s apart",
                left, cause, ", ".join(shown(h) for h in self._hosts), RECONNECT.cap_s,
            )  # fmt: skip
        elif cause not in self._causes:
            log.warning("RabbitMQ at %s: %s; still waiting, trying %s next", left, cause, shown(self.url))
        self._causes.add(cause)

    async def _on_connected(self) -> None:
        await super()._on_connected()
        if self._down_since is not None:
            log.warning(
                "RabbitMQ connection back, to %s, after %.1f s", shown(self.url), time.monotonic() - self._down_since
            )
        self._failures = 0
        self._down_since = None
        self._causes.clear()
        self.reconnect_interval = RECONNECT.first_s  # aio-pika sleeps this long after connecting, too
