"""The console against a database and vhost of its own (no workers, so a running workflow stays running and a
redriven message waits in its queue), and users of both roles (two operators)."""

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from schedcu.console.routes import create_app
from schedcu.console.users import WatchedUsers, token_hash
from schedcu.runtime import processes
from schedcu.runtime.infra import free_port
from schedcu.runtime.registries import all_queues
from shared.messaging import topology
from shared.settings import get_settings
from tests.conftest import Services, eventually, provisioned

OPERATOR_TOKEN = "operator-token-0123456789abcdef"
READER_TOKEN = "reader-token-0123456789abcdef"
OTHER_OPERATOR_TOKEN = "other-operator-token-0123456789abcdef"


def write_users_file(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "users": [
                    {"name": "olga", "role": "operator", "token_sha256": token_hash(OPERATOR_TOKEN)},
                    {"name": "rita", "role": "read-only", "token_sha256": token_hash(READER_TOKEN)},
                    {"name": "oscar", "role": "operator", "token_sha256": token_hash(OTHER_OPERATOR_TOKEN)},
                ]
            }
        ),
        encoding="utf-8",
    )
    return path


UsersChange = Callable[[list[dict[str, str]]], list[dict[str, str]]]


def rewrite_users_file(path: Path, change: UsersChange) -> None:
    """The file's users as `change` makes them, written in place (same inode, as an editor saving it would)."""
    users = yaml.safe_load(path.read_text(encoding="utf-8"))["users"]
    path.write_text(yaml.safe_dump({"users": change(users)}), encoding="utf-8")


def rotated(name: str, token: str) -> UsersChange:
    return lambda users: [u | {"token_sha256": token_hash(token)} if u["name"] == name else u for u in users]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@contextmanager
def running_console(env: dict[str, str], work: Path, users_file: Path) -> Iterator[str]:
    """`schedcu console` as its own process on a free port, with `env` and `users_file`; its root URL once it
    answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "console.log"
    server = processes.Process(
        "console", processes.schedcu_command("console", "--port", str(port)),
        {**env, "SCHEDCU_CONSOLE_USERS_FILE": str(users_file)}, f"{url}/status", log,
    ).start()  # fmt: skip

    def answers() -> bool:
        assert server.popen is not None and server.popen.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/status", headers=bearer(OPERATOR_TOKEN), timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(answers, 60, "the console to answer")
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def console_services() -> Iterator[Services]:
    with provisioned(f"schedcu_test_console_{uuid.uuid4().hex[:8]}") as services:
        asyncio.run(topology.declare(services.amqp_url, get_settings().delivery_limit, all_queues()))
        yield services


@pytest.fixture
def settings_for(console_services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """In-process settings (and so `transaction()`) pointed at the console's database and vhost."""
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", console_services.database_url)
    monkeypatch.setenv("SCHEDCU_AMQP_URL", console_services.amqp_url)
    get_settings.cache_clear()
    yield console_services
    get_settings.cache_clear()


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    return write_users_file(tmp_path / "users.yaml")


@pytest.fixture
def users(users_file: Path) -> WatchedUsers:
    return WatchedUsers(users_file)


@pytest.fixture
def client(settings_for: Services, users: WatchedUsers) -> Iterator[TestClient]:
    with TestClient(create_app(users, get_settings())) as test_client:
        yield test_client
