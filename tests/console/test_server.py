"""`schedcu console` as its own process (uvicorn), on its own database and vhost: the users file read again
when it changes, without a restart."""

import http.client
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Services, eventually
from tests.console.conftest import (
    OPERATOR_TOKEN,
    READER_TOKEN,
    bearer,
    rewrite_users_file,
    rotated,
    running_console,
    write_users_file,
)

pytestmark = pytest.mark.integration

REVOKED_WITHIN_S = 5.0


@dataclass(frozen=True)
class Console:
    url: str
    users_file: Path
    log: Path

    def status(self, token: str, path: str = "/versions") -> int:
        return httpx.get(f"{self.url}{path}", headers=bearer(token), timeout=10).status_code


@pytest.fixture(scope="module")
def served(console_services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One console process for the module's tests."""
    env = {
        **os.environ,
        "SCHEDCU_DATABASE_URL": console_services.database_url,
        "SCHEDCU_AMQP_URL": console_services.amqp_url,
    }
    work = tmp_path_factory.mktemp("console")
    users_file = write_users_file(work / "users.yaml")
    with running_console(env, work, users_file) as url:
        yield Console(url, users_file, work / "console.log")


@pytest.fixture
def console(served: Console) -> Console:
    """The console with the users file as it was first written again, and taken."""
    write_users_file(served.users_file)
    until(served, "the first users file taken", (OPERATOR_TOKEN, 200), (READER_TOKEN, 200))
    return served


def until(console: Console, what: str, *expected: tuple[str, int]) -> None:
    """Wait until every (token, status) holds, failing past REVOKED_WITHIN_S."""
    eventually(lambda: all(console.status(token) == status for token, status in expected), REVOKED_WITHIN_S, what)


def test_a_rotated_token_stops_working_and_the_new_one_works_without_a_restart(console: Console) -> None:
    assert console.status(OPERATOR_TOKEN) == 200

    rewrite_users_file(console.users_file, rotated("olga", "olga-rotated-token"))

    until(console, "the old token refused and the new one taken", (OPERATOR_TOKEN, 401), ("olga-rotated-token", 200))
    assert console.status(READER_TOKEN) == 200  # the others are untouched


def test_a_removed_user_is_refused_without_a_restart(console: Console) -> None:
    assert console.status(READER_TOKEN) == 200

    rewrite_users_file(console.users_file, lambda users: [u for u in users if u["name"] != "rita"])

    until(console, "rita refused", (READER_TOKEN, 401), (OPERATOR_TOKEN, 200))


def test_a_broken_users_file_refuses_everyone_until_it_is_fixed(console: Console) -> None:
    good = console.users_file.read_text(encoding="utf-8")
    console.users_file.write_text("users: [", encoding="utf-8")  # half-edited

    until(console, "everyone refused", (OPERATOR_TOKEN, 503), (READER_TOKEN, 503))
    answer = httpx.get(f"{console.url}/versions", headers=bearer(OPERATOR_TOKEN), timeout=10)
    assert f"the console users file {console.users_file} is not YAML" in answer.text
    assert OPERATOR_TOKEN not in answer.text

    console.users_file.write_text(good, encoding="utf-8")
    until(console, "the fixed file taken", (OPERATOR_TOKEN, 200), (READER_TOKEN, 200))
    log = console.log.read_text()
    assert "is not YAML: every request is refused until it is fixed" in log
    assert OPERATOR_TOKEN not in log and READER_TOKEN not in log


@pytest.mark.parametrize(
    ("where", "status", "text"),
    [("url", 414, "the URL is too long"), ("header", 431, "the request headers are too large")],
)
def test_an_oversized_request_is_answered_not_reset(console: Console, where: str, status: int, text: str) -> None:
    huge = "x" * 500_000
    path, headers = "/workflows", bearer(READER_TOKEN)
    if where == "url":
        path += f"?group={huge}"
    else:
        headers["X-Huge"] = huge
    address = urlsplit(console.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)  # httpx refuses
    try:  # such a URL before sending it
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        assert answer.status == status and text in answer.read().decode()
        assert answer.getheader("X-Content-Type-Options") == "nosniff"
        assert answer.getheader("Cache-Control") == "no-store"
    finally:
        connection.close()
    assert console.status(READER_TOKEN, "/workflows") == 200  # the console goes on serving
