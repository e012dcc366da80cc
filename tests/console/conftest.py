"""The console against a database and vhost of its own (no workers, so a running workflow stays running and a
redriven message waits in its queue), and users of both roles (two operators)."""

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from schedcu.console.app import create_app
from schedcu.console.users import User, load_users, token_hash
from schedcu.registries import all_queues
from shared.messaging import topology
from shared.settings import get_settings
from tests.conftest import Services, provisioned

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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


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
def users(users_file: Path) -> list[User]:
    return load_users(users_file)


@pytest.fixture
def client(settings_for: Services, users: list[User]) -> Iterator[TestClient]:
    with TestClient(create_app(users, get_settings())) as test_client:
        yield test_client
