"""The console against attackers: failed sign-ins throttled per address and per user name with a clear 429,
security headers on every answer (errors and 500s included), secrets in dead-letter bodies hidden from read-only
users, and a warning when it serves plain HTTP beyond this machine."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from schedcu.console.redaction import redact_secrets
from schedcu.console.routes import create_app
from schedcu.console.throttle import LIMIT, WINDOW_S, SignInThrottle, keys
from schedcu.console.users import WatchedUsers
from schedcu.runtime import processes
from schedcu.runtime.infra import free_port
from shared.settings import get_settings
from tests.conftest import Services, eventually
from tests.console.conftest import OPERATOR_TOKEN, READER_TOKEN, bearer
from tests.console.test_routes import versions_queue
from tests.support import amqp_client

pytestmark = pytest.mark.integration

HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@pytest.fixture
def from_address(settings_for: Services, users: WatchedUsers) -> Callable[[str], TestClient]:
    """Clients of one console, each from its own address."""
    app = create_app(users, get_settings())
    return lambda address: TestClient(app, client=(address, 50000))


def test_failed_sign_ins_from_one_address_are_answered_429_until_the_window_passes() -> None:
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    counted = keys("10.0.0.9", None)
    for _ in range(LIMIT):
        assert throttle.retry_after(counted) is None
        throttle.failed(counted)
    assert throttle.retry_after(counted) == ("from address 10.0.0.9", WINDOW_S)
    assert throttle.retry_after(keys("10.0.0.8", None)) is None
    now[0] = WINDOW_S - 1
    assert throttle.retry_after(counted) == ("from address 10.0.0.9", 1.0)
    now[0] = WINDOW_S
    assert throttle.retry_after(counted) is None


def test_wrong_tokens_from_one_address_get_a_429_that_says_when_to_try_again(
    from_address: Callable[[str], TestClient],
) -> None:
    guesser = from_address("203.0.113.7")
    answers = [guesser.get("/status", headers=bearer(f"guess-{n}")).status_code for n in range(LIMIT)]
    assert answers == [401] * LIMIT

    throttled = guesser.get("/status", headers=bearer(OPERATOR_TOKEN))  # even the right token, from there
    assert throttled.status_code == 429
    assert "too many failed sign-ins from address 203.0.113.7: try again in" in throttled.text
    assert 0 < int(throttled.headers["Retry-After"]) <= WINDOW_S
    assert from_address("203.0.113.8").get("/status", headers=bearer(OPERATOR_TOKEN)).status_code == 200


def test_wrong_tokens_for_one_user_from_many_addresses_throttle_that_user_only(
    from_address: Callable[[str], TestClient],
) -> None:
    for n in range(LIMIT):  # one try from each address: no address is throttled
        answer = from_address(f"198.51.100.{n}").get("/status", auth=("olga", f"guess-{n}"))
        assert answer.status_code == 401
    elsewhere = from_address("192.0.2.1")
    olga = elsewhere.get("/status", auth=("olga", OPERATOR_TOKEN))
    assert olga.status_code == 429 and "too many failed sign-ins for user olga" in olga.text
    assert elsewhere.get("/status", auth=("rita", READER_TOKEN)).status_code == 200


def test_a_browser_asking_without_credentials_is_not_counted(from_address: Callable[[str], TestClient]) -> None:
    browser = from_address("203.0.113.20")
    assert [browser.get("/status").status_code for _ in range(LIMIT + 5)] == [401] * (LIMIT + 5)
    assert browser.get("/status", headers=bearer(READER_TOKEN)).status_code == 200


def test_every_answer_carries_the_security_headers(
    settings_for: Services, users: WatchedUsers, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("schedcu.console.versions.version_rows", broken)
    client = TestClient(create_app(users, get_settings()), raise_server_exceptions=False)
    answers = {
        "page": client.get("/status", headers=bearer(READER_TOKEN)),
        "401": client.get("/status"),
        "404": client.get(f"/versions/{uuid.uuid4()}", headers=bearer(READER_TOKEN)),
        "static": client.get("/static/console.css", headers=bearer(READER_TOKEN)),
        "500": client.get("/versions", headers=bearer(READER_TOKEN)),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "page": 200, "401": 401, "404": 404, "static": 200, "500": 500
    }  # fmt: skip
    for name, answer in answers.items():
        assert {header: answer.headers.get(header) for header in HEADERS} == HEADERS, name


def test_a_read_only_user_sees_a_dead_letter_without_its_secrets(client: TestClient) -> None:
    letter = f"secret-{uuid.uuid4()}"
    body = (
        b'{"request_id": "r-1", "template_url": "https://files.example/t.ods?access_token=tok-123&v=2",'
        b' "password": "pw-456", "headers": {"Authorization": "Bearer bearer-789"}, "group": "CPMC"}'
    )
    amqp_client.park_in_dead_letters(
        get_settings().amqp_url, versions_queue().dead_letter_name, body, "import.requested", letter
    )

    reader = client.get("/dead-letters/versions/message", params={"id": letter}, headers=bearer(READER_TOKEN))
    operator = client.get("/dead-letters/versions/message", params={"id": letter}, headers=bearer(OPERATOR_TOKEN))

    assert reader.status_code == 200 and operator.status_code == 200
    for secret in ("tok-123", "pw-456", "bearer-789"):
        assert secret not in reader.text and secret in operator.text
    assert "r-1" in reader.text and "CPMC" in reader.text and "[redacted]" in reader.text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{"client_secret": "s", "n": 1}', '{"client_secret": "[redacted]", "n": 1}'),
        ("x?api_key=1&access_token=t#f", "x?api_key=1&access_token=[redacted]#f"),
        ("Authorization: Basic b2xnYTp0b2s=\nAccept: */*", "Authorization: [redacted]\nAccept: */*"),
        ('"{\\"db_password\\": \\"p\\"}"', '"{\\"db_password\\": \\"[redacted]\\"}"'),
        ('{"refresh_token": "cut off he', '{"refresh_token": "[redacted]"'),
        ('{"group": "token ring", "who": "secretary"}', '{"group": "token ring", "who": "secretary"}'),
    ],
)
def test_secrets_are_hidden_by_key_in_every_form_a_body_holds_them(text: str, shown: str) -> None:
    assert redact_secrets(text) == shown


@pytest.fixture
def console_env(console_services: Services, tmp_path: Path, users_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SCHEDCU_DATABASE_URL": console_services.database_url,
        "SCHEDCU_AMQP_URL": console_services.amqp_url,
        "SCHEDCU_CONSOLE_USERS_FILE": str(users_file),
    }


@pytest.fixture
def serving(console_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """`schedcu console` started on each host asked for; its log."""
    started: list[processes.Process] = []

    def start(host: str) -> Path:
        port = free_port()
        log = tmp_path / f"console-{host}.log"
        args = processes.schedcu_command("console", "--host", host, "--port", str(port))
        server = processes.Process("console", args, console_env, f"http://127.0.0.1:{port}/status", log).start()
        started.append(server)
        eventually(lambda: "schedcu console on" in log.read_text(), 60, "the console to start")
        return log

    yield start
    for server in started:
        server.stop()


def test_serving_beyond_this_machine_without_tls_warns_at_start(serving: Callable[[str], Path]) -> None:
    beyond = serving("0.0.0.0").read_text()
    assert "warning: the console serves plain HTTP on 0.0.0.0" in beyond
    assert "deploy/console-proxy/Caddyfile" in beyond
    assert "warning" not in serving("127.0.0.1").read_text()
