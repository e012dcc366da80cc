"""SCHEDCU_AMQP_URL with several hosts: every client tries them in turn, at connect and, for a worker's robust
connection, at every reconnect; no password is ever shown."""

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import pytest

from schedcu.errors import where
from schedcu.runtime.infra import free_port
from shared.messaging.connection import (
    AmqpUrlError,
    FailoverConnection,
    connect,
    login,
    shown,
    urls,
)
from shared.messaging.failover_broker import FailoverBroker
from tests.conftest import DEFAULT_AMQP_URL, isolated_vhost, until


def test_each_host_gets_the_credentials_the_virtual_host_and_the_query() -> None:
    assert urls("amqp://u:p%40ss@rabbit-1:5672, rabbit-2:5673 ,rabbit-3/schedcu?heartbeat=30") == [
        "amqp://u:p%40ss@rabbit-1:5672/schedcu?heartbeat=30",
        "amqp://u:p%40ss@rabbit-2:5673/schedcu?heartbeat=30",
        "amqp://u:p%40ss@rabbit-3/schedcu?heartbeat=30",
    ]
    assert urls("amqps://rabbit-1,rabbit-2") == ["amqps://rabbit-1", "amqps://rabbit-2"]
    assert urls("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_the_login_is_the_urls_user_decoded_and_none_without_one() -> None:
    assert login("amqp://schedcu-coverage:p%40ss@rabbit-1,rabbit-2/schedcu") == "schedcu-coverage"
    assert login("amqp://a%40b:p@rabbit-1/") == "a@b"
    assert login("amqp://rabbit-1/schedcu") is None


def test_hosts_are_shown_without_credentials() -> None:
    url = "amqp://user:secret@rabbit-1:5672,rabbit-2/schedcu"
    assert [shown(one) for one in urls(url)] == ["rabbit-1:5672", "rabbit-2"]
    assert where(url) == "rabbit-1:5672,rabbit-2"
    for wrong in ("http://user:secret@rabbit-1/", "amqp://user:secret@/schedcu", "user:secret@rabbit-1"):
        with pytest.raises(AmqpUrlError) as refused:
            urls(wrong)
        assert "secret" not in str(refused.value)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with ExitStack() as stack:
        yield isolated_vhost(
            os.environ.get("SCHEDCU_AMQP_URL", DEFAULT_AMQP_URL), f"failover_{uuid.uuid4().hex}", stack
        )


def with_hosts(amqp_url: str, *ports: int) -> str:
    """`amqp_url` with hosts 127.0.0.1:PORT for each of `ports` instead of its own."""
    scheme, rest = amqp_url.split("://", 1)
    credentials, host_and_path = rest.rsplit("@", 1)
    path = host_and_path[host_and_path.index("/") :]
    return f"{scheme}://{credentials}@" + ",".join(f"127.0.0.1:{port}" for port in ports) + path


def port_of(amqp_url: str) -> int:
    return int(amqp_url.rsplit("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


class Forwarder:
    """A host that can go away: forwards each connection to the real broker until `close`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> "Forwarder":
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, upstream_writer]
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()


@pytest.mark.integration
async def test_a_plain_connection_goes_to_the_first_host_that_answers(amqp_url: str) -> None:
    async with await connect(with_hosts(amqp_url, free_port(), port_of(amqp_url))) as connection:
        assert connection.url.port == port_of(amqp_url)


@pytest.mark.integration
async def test_no_host_answering_raises_the_last_error_without_the_password(amqp_url: str) -> None:
    with pytest.raises(ConnectionError) as refused:
        await connect(with_hosts(amqp_url, free_port(), free_port()), timeout_s=2)
    assert "guest:guest" not in str(refused.value)


def logged(logs: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in logs.records if r.name.startswith("shared.messaging.")]


@pytest.fixture
async def broker_logs(caplog: pytest.LogCaptureFixture) -> AsyncIterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="shared.messaging")
    yield caplog


@pytest.mark.integration
async def test_a_worker_broker_connects_past_a_refusing_host_and_reconnects_to_the_next_when_its_host_goes(
    amqp_url: str, broker_logs: pytest.LogCaptureFixture
) -> None:
    real = port_of(amqp_url)
    async with Forwarder(real) as going:
        broker = FailoverBroker(with_hosts(amqp_url, free_port(), going.port, real), logger=None)
        connection = await broker.connect()
        try:
            assert isinstance(connection, FailoverConnection)
            assert connection.url.port == going.port
            await going.close()
            await until(lambda: connection.url.port == real and connection.connected.is_set(), "the reconnect")
            assert await broker.ping(2.0)
            # the line saying it is back comes from the reconnect's callbacks, which may run after `connected`
            await until(lambda: any("back" in line for line in logged(broker_logs)), "the line saying it is back")
        finally:
            await broker.stop()
    said = logged(broker_logs)
    lost = [line for line in said if "lost" in line]
    back = [line for line in said if "back" in line]
    assert len(lost) == 1 and len(back) == 1, said
    assert f"127.0.0.1:{real}" in back[0]
    assert not [line for line in said if "guest:guest" in line]
