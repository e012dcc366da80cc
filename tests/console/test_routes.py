"""Every console action, through Starlette's TestClient on a real database and broker: refused to the read-only
role (403), refused without its form's CSRF token (403), and done, audited with its user, for an operator.
Also the pages' clear answers: 401 without a token, 404 for unknown ids, a banner when a dependency is down."""

import asyncio
import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from schedcu.console.app import PAGE_SIZE, create_app
from schedcu.console.users import User
from schedcu.sample_template import sample_template
from services.versions import lifecycle, saga
from shared import ids
from shared.contracts import ImportRequested
from shared.db.models import AuditRecord, VersionLifecycle, Workflow
from shared.messaging import dead_letters
from shared.messaging.consumer import Delivery
from shared.messaging.topology import ConsumerQueue
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import OPERATOR_TOKEN, READER_TOKEN, bearer, csrf_token
from tests.support import amqp_client
from tests.versions.test_lifecycle import new_version

pytestmark = pytest.mark.integration

PARKED_REASON = "worker crashed (test)"  # what amqp_client.park_in_dead_letters records


def versions_queue() -> ConsumerQueue:
    from schedcu.registries import all_queues

    return dead_letters.consumer_queue("versions", all_queues())


def start_workflow(group: str = "test-group") -> uuid.UUID:
    """A workflow that stays RUNNING: no worker consumes this vhost's commands."""
    request_id = f"console-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, sample_template(), "2026-03-02", "2026-03-08") | {"group": group}
    saga.start_workflow(
        ImportRequested.model_validate(body),
        Delivery(message_id=f"m-{request_id}", correlation_id=None, routing_key="import.requested", redelivered=False),
    )
    return ids.workflow_id_for(request_id)


@dataclass(frozen=True)
class Targets:
    running: uuid.UUID
    failed: uuid.UUID
    staging: uuid.UUID
    production: uuid.UUID
    letter: str


@pytest.fixture
def targets(settings_for: Services) -> Targets:
    running, failed = start_workflow(), start_workflow()
    saga.cancel(failed, "setup", "to have a failed workflow")
    group = f"g-{uuid.uuid4().hex[:8]}"
    staging = new_version(settings_for, group, date(2026, 3, 1), date(2026, 3, 31), cells=None)
    production = new_version(settings_for, group, date(2026, 5, 1), date(2026, 5, 31), cells=None)
    with Session(settings_for.engine) as session, session.begin():
        lifecycle.promote(session, production, "setup", force=True, reason="setup")
    letter = f"dead-{uuid.uuid4()}"
    amqp_client.park_in_dead_letters(
        settings_for.amqp_url, versions_queue().dead_letter_name, b'{"not": "a request"}', "import.requested", letter
    )
    return Targets(running, failed, staging, production, letter)


# each action: its path and form (without the CSRF token) for the targets
ACTIONS: dict[str, Callable[[Targets], tuple[str, dict[str, str]]]] = {
    "retry": lambda t: (f"/workflows/{t.failed}/retry", {}),
    "cancel": lambda t: (f"/workflows/{t.running}/cancel", {"reason": "wrong month"}),
    "promote": lambda t: (f"/versions/{t.staging}/promote", {"reason": "checked by phone", "force": "yes"}),
    "archive": lambda t: (f"/versions/{t.production}/archive", {"reason": "replaced"}),
    "redrive one": lambda t: ("/dead-letters/versions/redrive", {"message_id": t.letter}),
    "redrive group": lambda t: ("/dead-letters/versions/redrive", {"reason": PARKED_REASON}),
    "discard": lambda t: ("/dead-letters/versions/discard", {"message_id": t.letter, "confirmed": "yes"}),
}


def parked(services: Services) -> set[str | None]:
    letters = asyncio.run(dead_letters.peek(services.amqp_url, versions_queue(), limit=None))
    return {letter.message_id for letter in letters}


def snapshot(services: Services, t: Targets) -> dict[str, Any]:
    """Everything an action could change."""
    with Session(services.engine) as session:
        return {
            "workflows": [session.get(Workflow, w).state for w in (t.running, t.failed)],  # type: ignore[union-attr]
            "versions": [
                session.get(VersionLifecycle, v).state if session.get(VersionLifecycle, v) else "STAGING"  # type: ignore[union-attr]
                for v in (t.staging, t.production)
            ],
            "audit": session.scalar(select(AuditRecord.id).order_by(AuditRecord.id.desc()).limit(1)),
            "letter parked": t.letter in parked(services),
        }


def operator_csrf(client: TestClient) -> str:
    return csrf_token(client.get("/dead-letters", headers=bearer(OPERATOR_TOKEN)).text)


@pytest.mark.parametrize("action", ACTIONS)
def test_read_only_users_cannot_act(action: str, client: TestClient, targets: Targets, settings_for: Services) -> None:
    path, form = ACTIONS[action](targets)
    before = snapshot(settings_for, targets)

    answer = client.post(path, data={**form, "csrf_token": operator_csrf(client)}, headers=bearer(READER_TOKEN))

    assert answer.status_code == 403
    assert "your role is read-only" in answer.text
    assert snapshot(settings_for, targets) == before


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("token", [None, "forged", "other user"])
def test_a_form_without_its_csrf_token_is_refused(
    action: str, token: str | None, client: TestClient, targets: Targets, settings_for: Services, users: list[User]
) -> None:
    path, form = ACTIONS[action](targets)
    if token == "other user":  # a token the console signed, but for somebody else
        other = TestClient(create_app(users, get_settings()))
        token = csrf_token(other.get("/dead-letters", headers=bearer(OPERATOR_TOKEN)).text)
    before = snapshot(settings_for, targets)

    data = {**form, **({"csrf_token": token} if token else {})}
    answer = client.post(path, data=data, headers=bearer(OPERATOR_TOKEN))

    assert answer.status_code == 403
    assert "no valid CSRF token" in answer.text
    assert snapshot(settings_for, targets) == before


def audit_of(services: Services, entity_id: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
    with Session(services.engine) as session:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.entity_id == entity_id).order_by(AuditRecord.id)
        ).all()
        return [(a.actor, a.action, a.from_state, a.to_state, a.reason) for a in rows]


def act(client: TestClient, targets: Targets, action: str) -> Any:
    path, form = ACTIONS[action](targets)
    return client.post(path, data={**form, "csrf_token": operator_csrf(client)}, headers=bearer(OPERATOR_TOKEN))


def test_an_operator_cancels_a_running_workflow_and_retries_it(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    cancelled = act(client, targets, "cancel")
    assert cancelled.status_code == 200 and 'id="notice">cancelled' in cancelled.text
    assert "cancelled by olga: wrong month" in cancelled.text

    retry = f"/workflows/{targets.running}/retry"
    retried = client.post(retry, data={"csrf_token": operator_csrf(client)}, headers=bearer(OPERATOR_TOKEN))
    assert retried.status_code == 200 and "retrying from ODS_IMPORT" in retried.text
    assert "retried by olga" in retried.text
    assert audit_of(settings_for, str(targets.running)) == [
        ("olga", "cancel", "RUNNING", "FAILED", "wrong month"),
        ("olga", "retry", "FAILED", "RUNNING", None),
    ]

    again = client.post(retry, data={"csrf_token": operator_csrf(client)}, headers=bearer(OPERATOR_TOKEN))
    assert again.status_code == 409 and "refused: the workflow is RUNNING with no failed phase" in again.text


def test_a_refused_promotion_shows_why_and_force_with_a_reason_promotes(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    path, _ = ACTIONS["promote"](targets)
    csrf = operator_csrf(client)
    refused = client.post(path, data={"csrf_token": csrf}, headers=bearer(OPERATOR_TOKEN))
    assert refused.status_code == 409
    assert "no coverage has been calculated for it" in refused.text and "force and a reason" in refused.text
    no_reason = client.post(path, data={"csrf_token": csrf, "force": "yes"}, headers=bearer(OPERATOR_TOKEN))
    assert no_reason.status_code == 409 and "a forced promotion needs a reason" in no_reason.text

    promoted = act(client, targets, "promote")

    assert promoted.status_code == 200 and 'id="state">PRODUCTION' in promoted.text
    assert audit_of(settings_for, str(targets.staging)) == [
        ("olga", "promote", "STAGING", "PRODUCTION", "checked by phone")
    ]


def test_an_operator_archives_a_production_version_with_a_reason(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    archived = act(client, targets, "archive")

    assert archived.status_code == 200 and 'id="state">ARCHIVED' in archived.text
    last = audit_of(settings_for, str(targets.production))[-1]
    assert last == ("olga", "archive", "PRODUCTION", "ARCHIVED", "replaced")


def test_an_operator_redrives_one_dead_letter_back_to_its_queue(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    answer = act(client, targets, "redrive one")

    assert answer.status_code == 200 and "1 redriven from schedcu.versions.dead-letter" in answer.text
    assert targets.letter not in parked(settings_for)
    assert waiting_in_versions_queue(settings_for) >= 1
    queue = versions_queue().dead_letter_name
    assert audit_of(settings_for, f"{queue}/{targets.letter}") == [
        ("olga", "redrive", queue, "import.requested", PARKED_REASON)
    ]


def test_an_operator_redrives_a_whole_group(client: TestClient, targets: Targets, settings_for: Services) -> None:
    second = f"dead-{uuid.uuid4()}"
    amqp_client.park_in_dead_letters(
        settings_for.amqp_url, versions_queue().dead_letter_name, b"{}", "import.requested", second
    )

    answer = act(client, targets, "redrive group")

    assert answer.status_code == 200 and "redriven from schedcu.versions.dead-letter" in answer.text
    assert not {targets.letter, second} & parked(settings_for)
    queue = versions_queue().dead_letter_name
    audited = audit_of(settings_for, f"{queue}/{second}")
    assert audited == [("olga", "redrive", queue, "import.requested", PARKED_REASON)]


def test_discard_asks_for_confirmation_then_removes_the_dead_letter(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    headers = bearer(OPERATOR_TOKEN)
    confirm = client.get("/dead-letters/versions/discard", params={"message_id": targets.letter}, headers=headers)
    assert confirm.status_code == 200 and "Discard for good?" in confirm.text and targets.letter in confirm.text
    unconfirmed = client.post(
        "/dead-letters/versions/discard",
        data={"message_id": targets.letter, "csrf_token": csrf_token(confirm.text)},
        headers=headers,
    )
    assert "Discard for good?" in unconfirmed.text and targets.letter in parked(settings_for)

    answer = act(client, targets, "discard")

    assert answer.status_code == 200 and "1 discarded from schedcu.versions.dead-letter" in answer.text
    assert targets.letter not in parked(settings_for)
    queue = versions_queue().dead_letter_name
    assert audit_of(settings_for, f"{queue}/{targets.letter}") == [("olga", "discard", queue, None, PARKED_REASON)]


def waiting_in_versions_queue(services: Services) -> int:
    async def count() -> int:
        async with await aio_pika.connect(services.amqp_url) as connection:
            declared = await (await connection.channel()).declare_queue(versions_queue().name, passive=True)
            return declared.declaration_result.message_count or 0

    return asyncio.run(count())


def test_read_only_users_see_the_pages_without_action_forms(client: TestClient, targets: Targets) -> None:
    headers = bearer(READER_TOKEN)
    for path in ("/status", "/workflows", f"/workflows/{targets.running}", "/versions", f"/versions/{targets.staging}",
                 "/versions/diff", "/dead-letters", f"/versions/{targets.staging}/gaps",
                 f"/dead-letters/versions/message?id={targets.letter}"):  # fmt: skip
        page = client.get(path, headers=headers)
        assert page.status_code == 200, path
        assert "rita (read-only)" in page.text and 'method="post"' not in page.text, path
    shown = client.get("/dead-letters/versions/message", params={"id": targets.letter}, headers=headers)
    letter = html.unescape(shown.text)
    assert PARKED_REASON in letter and '{"not": "a request"}' in letter
    confirm = client.get("/dead-letters/versions/discard", params={"message_id": targets.letter}, headers=headers)
    assert confirm.status_code == 403 and "your role is read-only" in confirm.text
    pair = {"a": str(targets.staging), "b": str(targets.production)}
    diff = client.get("/versions/diff", params=pair, headers=headers)
    assert all(f"{what}: 0 added, 0 removed, 0 changed" in diff.text for what in ("shift instances", "coverage cells"))


def test_pages_need_a_valid_token(client: TestClient) -> None:
    for headers in ({}, bearer("wrong"), {"Authorization": "Basic cml0YTp3cm9uZw=="}):
        answer = client.get("/workflows", headers=headers)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    page = client.get("/workflows", auth=("rita", READER_TOKEN))
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"  # no page inside another site
    assert client.get("/workflows", auth=("olga", READER_TOKEN)).status_code == 401


def test_unknown_ids_get_a_not_found_page(client: TestClient) -> None:
    headers = bearer(READER_TOKEN)
    unknown = uuid.uuid4()
    for path, text in (
        (f"/workflows/{unknown}", f"no workflow {unknown}"),
        (f"/versions/{unknown}", f"no schedule version {unknown}"),
        (f"/versions/{unknown}/gaps", f"no schedule version {unknown}"),
        (f"/versions/diff?a={unknown}&b={unknown}", f"no schedule version {unknown}"),
        ("/dead-letters/versions/message?id=nothing", "no dead letter nothing in schedcu.versions.dead-letter"),
        ("/dead-letters/nosuch/message?id=x", "no queue 'nosuch'"),
        ("/workflows/not-a-uuid", "Not found"),
    ):
        page = client.get(path, headers=headers)
        assert page.status_code == 404 and text in html.unescape(page.text), path


def test_workflow_search_filters_and_pages(client: TestClient, settings_for: Services) -> None:
    started = [start_workflow() for _ in range(3)]
    with Session(settings_for.engine) as session:
        request_id = session.get(Workflow, started[1]).request_id  # type: ignore[union-attr]
    headers = bearer(READER_TOKEN)

    found = client.get("/workflows", params={"request": request_id}, headers=headers).text
    assert str(started[1]) in found and str(started[0]) not in found

    today = date.today().isoformat()
    in_range = client.get("/workflows", params={"state": "RUNNING", "from": today, "to": today}, headers=headers)
    assert all(str(w) in in_range.text for w in started)
    assert str(started[0]) not in client.get("/workflows", params={"to": "2020-01-01"}, headers=headers).text
    bad = client.get("/workflows", params={"from": "yesterday"}, headers=headers)
    assert bad.status_code == 400 and "'yesterday' is not a date" in html.unescape(bad.text)

    group = f"paged-{uuid.uuid4().hex[:8]}"
    paged = {start_workflow(group) for _ in range(PAGE_SIZE + 1)}
    first = client.get("/workflows", params={"group": group}, headers=headers).text
    assert 'id="next"' in first and 'id="previous"' not in first
    second = client.get("/workflows", params={"group": group, "page": "2"}, headers=headers).text
    assert 'id="next"' not in second and 'id="previous"' in second
    shown = {w for w in paged if str(w) in first} | {w for w in paged if str(w) in second}
    assert shown == paged and sum(str(w) in second for w in paged) == 1


def test_a_database_or_broker_that_is_down_shows_a_banner(
    users: list[User], settings_for: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none")
    monkeypatch.setenv("SCHEDCU_AMQP_URL", "amqp://guest:s3cret@127.0.0.1:1/")
    get_settings.cache_clear()
    client = TestClient(create_app(users, get_settings()))

    for path, text in (
        ("/workflows", "cannot use the database at 127.0.0.1:1"),
        ("/dead-letters", "cannot reach RabbitMQ at 127.0.0.1:1"),
    ):
        page = client.get(path, headers=bearer(READER_TOKEN))
        assert page.status_code == 503 and text in page.text, path
        assert "Traceback" not in page.text and "s3cret" not in page.text
