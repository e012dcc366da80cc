"""Every console action, through Starlette's TestClient on a real database and broker: refused to the read-only
role (403), refused without its form's CSRF token (403), and done, audited with its user, for an operator
(proposals: created, edited, approved and rejected with the console user in their history). A form's token
outlives a console restart from the same users file, not a change of the file nor CSRF_MAX_AGE_S. Also the pages'
clear answers: 401 without a token, 404 for unknown ids, a banner when a dependency is down."""

import asyncio
import html
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from schedcu.console.app import CSRF_MAX_AGE_S, PAGE_SIZE
from schedcu.console.routes import create_app
from schedcu.console.users import WatchedUsers, token_hash
from schedcu.testing.sample_template import sample_template
from services.coverage import proposals
from services.coverage.calculation import CalculationOptions
from services.coverage.gap_lines import group_gaps
from services.coverage.gaps import gap_report
from services.versions import intake, lifecycle, operator_actions
from shared.db.models import (
    AssignmentCorrection,
    AuditRecord,
    OutboxMessage,
    Person,
    Proposal,
    ProposalHistory,
    VersionLifecycle,
    Workflow,
)
from shared.kernel import ids
from shared.kernel.contracts import ImportRequested
from shared.messaging import dead_letters
from shared.messaging.consumer import Delivery
from shared.messaging.topology import ConsumerQueue
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import (
    OPERATOR_TOKEN,
    OTHER_OPERATOR_TOKEN,
    READER_TOKEN,
    UsersChange,
    bearer,
    csrf_token,
    rewrite_users_file,
    rotated,
)
from tests.coverage.test_corrections import MON, TUE, week
from tests.coverage.test_proposals import recalculate, set_amion
from tests.support import amqp_client
from tests.versions.test_lifecycle import new_version

pytestmark = pytest.mark.integration

PARKED_REASON = "worker crashed (test)"  # what amqp_client.park_in_dead_letters records


def versions_queue() -> ConsumerQueue:
    from schedcu.runtime.registries import all_queues

    return dead_letters.consumer_queue("versions", all_queues())


def start_workflow(group: str = "test-group") -> uuid.UUID:
    """A workflow that stays RUNNING: no worker consumes this vhost's commands."""
    request_id = f"console-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, sample_template(), "2026-03-02", "2026-03-08") | {"group": group}
    intake.start_workflow(
        ImportRequested.model_validate(body),
        Delivery(message_id=f"m-{request_id}", correlation_id=None, routing_key="import.requested", redelivered=False),
        get_settings(),
    )
    return ids.workflow_id_for(request_id)


def gapped_week(services: Services) -> uuid.UUID:
    """A week whose Monday and Tuesday have nobody on Mid3 in Amion, its coverage calculated."""
    version_id = week(services)
    for day in (MON, TUE):
        set_amion(services, version_id, day, "Mid3", None)
    recalculate(services, version_id)
    return version_id


@pytest.fixture(scope="module")
def with_proposals(console_services: Services) -> tuple[uuid.UUID, uuid.UUID]:
    """A gapped week with proposals for Monday's gaps (Tuesday's have none yet), and one of them."""
    version_id = gapped_week(console_services)
    with Session(console_services.engine) as session, session.begin():
        created = proposals.create(session, version_id, CalculationOptions.from_settings(get_settings()), "setup", MON)
    return version_id, created.proposals[0]


@dataclass(frozen=True)
class Targets:
    running: uuid.UUID
    failed: uuid.UUID
    staging: uuid.UUID
    production: uuid.UUID
    letter: str
    gapped: uuid.UUID
    proposal: uuid.UUID


@pytest.fixture
def targets(settings_for: Services, with_proposals: tuple[uuid.UUID, uuid.UUID]) -> Targets:
    running, failed = start_workflow(), start_workflow()
    operator_actions.cancel(failed, "setup", "to have a failed workflow", get_settings())
    group = f"g-{uuid.uuid4().hex[:8]}"
    staging = new_version(settings_for, group, date(2026, 3, 1), date(2026, 3, 31), cells=None)
    production = new_version(settings_for, group, date(2026, 5, 1), date(2026, 5, 31), cells=None)
    with Session(settings_for.engine) as session, session.begin():
        lifecycle.promote(session, production, "setup", force=True, reason="setup")
    letter = f"dead-{uuid.uuid4()}"
    amqp_client.park_in_dead_letters(
        settings_for.amqp_url, versions_queue().dead_letter_name, b'{"not": "a request"}', "import.requested", letter
    )
    return Targets(running, failed, staging, production, letter, *with_proposals)


# each action: its path and form (without the CSRF token) for the targets
ACTIONS: dict[str, Callable[[Targets], tuple[str, dict[str, str]]]] = {
    "retry": lambda t: (f"/workflows/{t.failed}/retry", {}),
    "cancel": lambda t: (f"/workflows/{t.running}/cancel", {"reason": "wrong month"}),
    "promote": lambda t: (f"/versions/{t.staging}/promote", {"reason": "checked by phone", "force": "yes"}),
    "archive": lambda t: (f"/versions/{t.production}/archive", {"reason": "replaced"}),
    "redrive one": lambda t: ("/dead-letters/versions/redrive", {"message_id": t.letter}),
    "redrive group": lambda t: ("/dead-letters/versions/redrive", {"reason": PARKED_REASON}),
    "discard": lambda t: ("/dead-letters/versions/discard", {"message_id": t.letter, "confirmed": "yes"}),
    "create proposals": lambda t: (f"/versions/{t.gapped}/proposals", {"date": TUE.isoformat()}),
    "edit proposal": lambda t: (f"/proposals/{t.proposal}/edit", {"candidate": "nobody@example.org"}),
    "approve proposal": lambda t: (f"/proposals/{t.proposal}/approve", {}),
    "reject proposal": lambda t: (f"/proposals/{t.proposal}/reject", {"reason": "not needed"}),
    "request repair": lambda t: (f"/versions/{t.production}/repair", {"person": "nobody", "from": "2026-05-04"}),
    # refused before any work: a run id is not needed (tests/console/test_repair_page.py decides real ones)
    "approve repair": lambda t: (f"/repairs/{uuid.UUID(int=1)}/approve", {}),
    "reject repair": lambda t: (f"/repairs/{uuid.UUID(int=1)}/reject", {"move": "0", "reason": "not needed"}),
    "edit repair": lambda t: (f"/repairs/{uuid.UUID(int=1)}/edit", {"move": "0", "person": "nobody@example.org"}),
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
            "proposals": session.execute(
                select(Proposal.id, Proposal.state, Proposal.person_id)
                .where(Proposal.version_id == t.gapped)
                .order_by(Proposal.id)
            ).all(),
            "proposal history": session.scalar(select(ProposalHistory.id).order_by(ProposalHistory.id.desc()).limit(1)),
            "outbox": session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)),
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
    action: str, token: str | None, client: TestClient, targets: Targets, settings_for: Services
) -> None:
    path, form = ACTIONS[action](targets)
    if token == "other user":  # a token the console signed, but for another operator
        token = csrf_token(client.get("/dead-letters", headers=bearer(OTHER_OPERATOR_TOKEN)).text)
    before = snapshot(settings_for, targets)

    data = {**form, **({"csrf_token": token} if token else {})}
    answer = client.post(path, data=data, headers=bearer(OPERATOR_TOKEN))

    assert answer.status_code == 403
    assert "no valid CSRF token" in answer.text
    assert snapshot(settings_for, targets) == before


def test_a_form_stays_valid_on_a_console_started_again_from_the_same_users_file(
    client: TestClient, targets: Targets, settings_for: Services, users_file: Path
) -> None:
    path, form = ACTIONS["cancel"](targets)
    csrf = operator_csrf(client)

    restarted = TestClient(create_app(WatchedUsers(users_file), get_settings()))
    answer = restarted.post(path, data={**form, "csrf_token": csrf}, headers=bearer(OPERATOR_TOKEN))

    assert redirected(answer) and 'id="notice">cancelled' in answer.text
    assert audit_of(settings_for, str(targets.running)) == [("olga", "cancel", "RUNNING", "FAILED", "wrong month")]


# a change of the users file about someone else than the form's user, and a check that the console took it
OTHER_USERS_CHANGES: dict[str, tuple[UsersChange, str, int]] = {
    "a user added": (
        lambda users: [*users, {"name": "nina", "role": "read-only", "token_sha256": token_hash("nina-token")}],
        "nina-token",
        200,
    ),
    "a user removed": (lambda users: [u for u in users if u["name"] != "rita"], READER_TOKEN, 401),
    "another user's token rotated": (rotated("rita", "rita-new-token"), READER_TOKEN, 401),
}


@pytest.mark.parametrize("change", OTHER_USERS_CHANGES)
def test_a_form_outlives_a_change_of_the_users_file_about_other_users(
    change: str, client: TestClient, targets: Targets, settings_for: Services, users_file: Path
) -> None:
    path, form = ACTIONS["cancel"](targets)
    csrf = operator_csrf(client)
    edit, token, status = OTHER_USERS_CHANGES[change]

    rewrite_users_file(users_file, edit)

    assert client.get("/versions", headers=bearer(token)).status_code == status  # the running console took it
    answer = client.post(path, data={**form, "csrf_token": csrf}, headers=bearer(OPERATOR_TOKEN))
    assert redirected(answer) and 'id="notice">cancelled' in answer.text


def test_a_form_is_refused_once_its_users_token_is_rotated(
    client: TestClient, targets: Targets, settings_for: Services, users_file: Path
) -> None:
    path, form = ACTIONS["cancel"](targets)
    csrf = operator_csrf(client)
    before = snapshot(settings_for, targets)

    rewrite_users_file(users_file, rotated("olga", "olga-new-token"))

    assert client.get("/versions", headers=bearer(OPERATOR_TOKEN)).status_code == 401
    answer = client.post(path, data={**form, "csrf_token": csrf}, headers=bearer("olga-new-token"))
    assert answer.status_code == 403 and "no valid CSRF token" in answer.text
    assert snapshot(settings_for, targets) == before
    fresh = csrf_token(client.get("/dead-letters", headers=bearer("olga-new-token")).text)
    again = client.post(path, data={**form, "csrf_token": fresh}, headers=bearer("olga-new-token"))
    assert redirected(again) and 'id="notice">cancelled' in again.text


def test_a_form_expires(
    client: TestClient, targets: Targets, settings_for: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, form = ACTIONS["cancel"](targets)
    csrf = operator_csrf(client)
    before = snapshot(settings_for, targets)
    later = int(time.time()) + CSRF_MAX_AGE_S + 1
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _: later)

    answer = client.post(path, data={**form, "csrf_token": csrf}, headers=bearer(OPERATOR_TOKEN))

    assert answer.status_code == 403 and "no valid CSRF token" in answer.text
    assert snapshot(settings_for, targets) == before


def redirected(answer: Any) -> bool:
    """The action answered 303 to a page (Post/Redirect/Get), which answered 200."""
    assert [r.status_code for r in answer.history] == [303], answer.history
    assert answer.status_code == 200 and answer.request.method == "GET"
    return True


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
    assert redirected(cancelled) and 'id="notice">cancelled' in cancelled.text
    assert "cancelled by olga: wrong month" in cancelled.text

    retry = f"/workflows/{targets.running}/retry"
    retried = client.post(retry, data={"csrf_token": operator_csrf(client)}, headers=bearer(OPERATOR_TOKEN))
    assert redirected(retried) and "retrying from ODS_IMPORT" in retried.text
    assert "retried by olga" in retried.text
    assert audit_of(settings_for, str(targets.running)) == [
        ("olga", "cancel", "RUNNING", "FAILED", "wrong month"),
        ("olga", "retry", "FAILED", "RUNNING", None),
    ]

    again = client.post(retry, data={"csrf_token": operator_csrf(client)}, headers=bearer(OPERATOR_TOKEN))
    assert redirected(again) and "refused: the workflow is RUNNING with no failed phase" in again.text


def test_a_refused_promotion_shows_why_and_force_with_a_reason_promotes(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    path, _ = ACTIONS["promote"](targets)
    csrf = operator_csrf(client)
    refused = client.post(path, data={"csrf_token": csrf}, headers=bearer(OPERATOR_TOKEN))
    assert redirected(refused)
    assert "no coverage has been calculated for it" in refused.text and "force and a reason" in refused.text
    no_reason = client.post(path, data={"csrf_token": csrf, "force": "yes"}, headers=bearer(OPERATOR_TOKEN))
    assert redirected(no_reason) and "a forced promotion needs a reason" in no_reason.text

    promoted = act(client, targets, "promote")

    assert redirected(promoted) and 'id="state">PRODUCTION' in promoted.text
    assert audit_of(settings_for, str(targets.staging)) == [
        ("olga", "promote", "STAGING", "PRODUCTION", "checked by phone")
    ]


def test_an_operator_archives_a_production_version_with_a_reason(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    archived = act(client, targets, "archive")

    assert redirected(archived) and 'id="state">ARCHIVED' in archived.text
    last = audit_of(settings_for, str(targets.production))[-1]
    assert last == ("olga", "archive", "PRODUCTION", "ARCHIVED", "replaced")


def test_an_operator_redrives_one_dead_letter_back_to_its_queue(
    client: TestClient, targets: Targets, settings_for: Services
) -> None:
    answer = act(client, targets, "redrive one")

    assert redirected(answer) and "1 redriven from schedcu.versions.dead-letter" in answer.text
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

    assert redirected(answer) and "redriven from schedcu.versions.dead-letter" in answer.text
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

    assert redirected(answer) and "1 discarded from schedcu.versions.dead-letter" in answer.text
    assert targets.letter not in parked(settings_for)
    queue = versions_queue().dead_letter_name
    assert audit_of(settings_for, f"{queue}/{targets.letter}") == [("olga", "discard", queue, None, PARKED_REASON)]


def proposal_rows(page: str) -> list[str]:
    """The proposal ids of a version's proposals page, in its order."""
    return re.findall(r'data-proposal-id="([0-9a-f-]+)"', page)


def history_of(page: str) -> list[list[str]]:
    """The proposal page's history table: who, action, from, to, why of each step."""
    table = page.split('id="proposal-history"')[1].split("</table>")[0]
    rows = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in table.split("<tr>")[2:]]
    return [[html.unescape(cell) for cell in row[1:]] for row in rows]


def outbox_of(services: Services, proposal_id: uuid.UUID) -> list[tuple[str, str]]:
    with Session(services.engine) as session:
        found = session.execute(
            select(OutboxMessage.routing_key, OutboxMessage.message_id)
            .where(OutboxMessage.message_id.like(f"proposal:{proposal_id}:%"))
            .order_by(OutboxMessage.id)
        )
        return [(key, message_id) for key, message_id in found]


def test_an_operator_creates_proposals_edits_one_and_approves_it(client: TestClient, settings_for: Services) -> None:
    version_id = gapped_week(settings_for)
    headers = bearer(OPERATOR_TOKEN)
    version = client.get(f"/versions/{version_id}", headers=headers).text
    assert all(f'href="/versions/{version_id}/{page}"' in version for page in ("proposals", "fairness"))
    with Session(settings_for.engine) as session:
        report = gap_report(session, version_id, CalculationOptions.from_settings(get_settings()), MON)
        assert report is not None
        lines = group_gaps(report.gaps)
        monday = sum(line.plan() is not None for line in lines)
        emails = {pid: value for pid, value in session.execute(select(Person.id, Person.email))}

    path = f"/versions/{version_id}/proposals"
    csrf = csrf_token(client.get(path, headers=headers).text)
    created = client.post(path, data={"date": MON.isoformat(), "csrf_token": csrf}, headers=headers)
    assert created.status_code == 200
    assert (
        f"{monday} proposals created (0 leave gaps of their line open); 0 gap lines already proposed, "
        f"{len(lines) - monday} without a candidate"
    ) in created.text
    listed = proposal_rows(client.get(path, params={"state": "PROPOSED"}, headers=headers).text)
    assert len(listed) == monday
    assert proposal_rows(client.get(path, params={"state": "APPROVED"}, headers=headers).text) == []
    first = uuid.UUID(listed[0])
    gaps_page = client.get(f"/versions/{version_id}/gaps", headers=headers).text
    assert f'href="/proposals/{first}"' in gaps_page  # the gap line links to its open proposal

    page = client.get(f"/proposals/{first}", headers=headers).text
    with Session(settings_for.engine) as session:
        proposal = session.get_one(Proposal, first)
        line = proposals.current_line(session, proposal, CalculationOptions.from_settings(get_settings()))
        first_person = proposal.person_id
    offered = re.findall(r'<option value="([^"]+)">', page.split('id="candidate"')[1].split("</select>")[0])
    assert offered == [emails[c.person.id] for c in line.candidates if c.person.id != first_person]
    booked = next(o for g in line.members for o in g.left_out if any(r.startswith("booked") for r in o.reasons))
    edit = f"/proposals/{first}/edit"
    not_candidate = client.post(
        edit, data={"candidate": emails[booked.person.id], "csrf_token": csrf_token(page)}, headers=headers
    )
    assert redirected(not_candidate)
    assert f"refused: {booked.person.name} is not a candidate for {line.assign_role} on {MON.isoformat()}: booked" in (
        html.unescape(not_candidate.text)
    )

    edited = client.post(edit, data={"candidate": offered[0], "csrf_token": csrf_token(page)}, headers=headers)
    assert redirected(edited) and 'id="proposal-state">EDITED' in edited.text
    approved = client.post(f"/proposals/{first}/approve", data={"csrf_token": csrf_token(page)}, headers=headers)

    assert redirected(approved) and 'id="proposal-state">APPROVED' in approved.text
    assert "approved: assigned as OVERRIDE; recalculation requested: calculation" in approved.text
    assert 'method="post"' not in approved.text  # nothing more to do with it
    with Session(settings_for.engine) as session:
        new_person = session.get_one(Proposal, first).person_id
        names = {pid: value for pid, value in session.execute(select(Person.id, Person.name))}
        corrections = session.execute(
            select(AssignmentCorrection.role, AssignmentCorrection.person_id, AssignmentCorrection.source)
            .where(AssignmentCorrection.version_id == version_id)
        ).all()  # fmt: skip
    assert emails[new_person] == offered[0]
    assert corrections == [(line.assign_role, new_person, "OVERRIDE")]
    old, new = names[first_person], names[new_person]
    assert [row[:4] for row in history_of(approved.text)] == [
        ["olga", "create", "-", f"PROPOSED ({old})"],
        ["olga", "edit", f"PROPOSED ({old})", f"EDITED ({new})"],
        ["olga", "approve", f"EDITED ({new})", f"APPROVED ({new})"],
    ]
    assert [a[:3] for a in audit_of_assignments(settings_for, version_id)] == [("olga", "add", "OVERRIDE")]
    assert outbox_of(settings_for, first) == [
        ("event.proposal.created", f"proposal:{first}:created"),
        ("command.coverage.calculate", f"proposal:{first}:recalculate"),
        ("event.proposal.approved", f"proposal:{first}:approved"),
    ]

    again = client.post(f"/proposals/{first}/approve", data={"csrf_token": csrf_token(page)}, headers=headers)
    assert redirected(again) and "Traceback" not in again.text
    assert f"refused: Proposal {first}: The proposal is APPROVED: it cannot be approved any more." in again.text


def audit_of_assignments(services: Services, version_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    with Session(services.engine) as session:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.entity == "assignment", AuditRecord.details["version_id"].astext == str(version_id))
            .order_by(AuditRecord.id)
        ).all()
        return [(a.actor, a.action, a.to_state) for a in rows]


def test_an_operator_rejects_a_proposal_with_a_reason(client: TestClient, settings_for: Services) -> None:
    version_id = gapped_week(settings_for)
    headers = bearer(OPERATOR_TOKEN)
    csrf = csrf_token(client.get(f"/versions/{version_id}/proposals", headers=headers).text)
    client.post(f"/versions/{version_id}/proposals", data={"csrf_token": csrf}, headers=headers)
    first = uuid.UUID(proposal_rows(client.get(f"/versions/{version_id}/proposals", headers=headers).text)[0])

    no_reason = client.post(f"/proposals/{first}/reject", data={"csrf_token": csrf, "reason": " "}, headers=headers)
    assert redirected(no_reason) and "refused: A reason is required." in no_reason.text
    rejected = client.post(
        f"/proposals/{first}/reject", data={"csrf_token": csrf, "reason": "a locum takes it"}, headers=headers
    )

    assert redirected(rejected) and 'id="proposal-state">REJECTED' in rejected.text
    who, action, before, after, why = history_of(rejected.text)[-1]
    assert (who, action, why) == ("olga", "reject", "a locum takes it")
    assert before.startswith("PROPOSED (") and after == before.replace("PROPOSED", "REJECTED")
    assert outbox_of(settings_for, first)[-1] == ("event.proposal.rejected", f"proposal:{first}:rejected")
    listed = client.get(f"/versions/{version_id}/proposals", params={"state": "REJECTED"}, headers=headers).text
    assert proposal_rows(listed) == [str(first)]
    assert f'href="/proposals/{first}"' not in client.get(f"/versions/{version_id}/gaps", headers=headers).text


def test_creating_proposals_without_coverage_is_refused(client: TestClient, targets: Targets) -> None:
    path, headers = f"/versions/{targets.staging}/proposals", bearer(OPERATOR_TOKEN)
    csrf = csrf_token(client.get(path, headers=headers).text)
    refused = client.post(path, data={"csrf_token": csrf}, headers=headers)
    assert redirected(refused)
    assert f"refused: No coverage has been calculated for version {targets.staging}." in refused.text


def test_the_fairness_page_counts_each_persons_nights_and_hours(client: TestClient, targets: Targets) -> None:
    page = client.get(f"/versions/{targets.gapped}/fairness", headers=bearer(READER_TOKEN))

    assert page.status_code == 200
    cells = r'<tr data-person="\d+"><td>(.*?)</td>' + r"<td>(\d+)</td>" * 3 + r"<td>([\d.]+)</td>"
    rows = re.findall(cells, page.text)
    assert rows and any(int(nights) > 0 and float(hours) > 0 for _, nights, _, _, hours in rows)
    assert "2026-03-02 .. 2026-03-08" in page.text
    one_day = client.get(
        f"/versions/{targets.gapped}/fairness", params={"from": "2026-03-02", "to": "2026-03-02"},
        headers=bearer(READER_TOKEN),
    )  # fmt: skip
    assert "2026-03-02 .. 2026-03-02" in one_day.text


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
                 f"/dead-letters/versions/message?id={targets.letter}", f"/versions/{targets.gapped}/gaps",
                 f"/versions/{targets.gapped}/proposals", f"/proposals/{targets.proposal}",
                 f"/versions/{targets.gapped}/fairness"):  # fmt: skip
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
        (f"/versions/{unknown}/proposals", f"no schedule version {unknown}"),
        (f"/versions/{unknown}/fairness", f"no schedule version {unknown}"),
        (f"/proposals/{unknown}", f"no proposal {unknown}"),
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
    users: WatchedUsers, settings_for: Services, monkeypatch: pytest.MonkeyPatch
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


def test_dead_letters_are_shown_a_page_at_a_time_and_left_in_their_order(
    client: TestClient, settings_for: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schedcu.runtime.registries import all_queues

    queue = dead_letters.consumer_queue("ods_importer", all_queues())  # no other test parks letters there
    mine = [f"paged-{n:03}-{uuid.uuid4()}" for n in range(120)]
    for message_id in mine:
        amqp_client.park_in_dead_letters(settings_for.amqp_url, queue.dead_letter_name, b"{}", "x", message_id)
    headers = bearer(READER_TOKEN)

    def listed(page: str) -> list[str]:
        return re.findall(r'data-message-id="([^"]+)"', page)

    overview = html.unescape(client.get("/dead-letters", headers=headers).text)
    assert f"{queue.dead_letter_name}: the first {PAGE_SIZE} of 120 letters" in overview
    assert set(mine[:PAGE_SIZE]) <= set(listed(overview)) and mine[PAGE_SIZE] not in overview
    assert f'href="/dead-letters/{queue.consumer}?page=2"' in overview

    pages = {
        n: client.get(f"/dead-letters/{queue.consumer}", params={"page": n}, headers=headers) for n in (1, 2, 3, 7)
    }
    assert {n: page.status_code for n, page in pages.items()} == {1: 200, 2: 200, 3: 200, 7: 200}
    assert [listed(pages[n].text) for n in (1, 2, 3, 7)] == [mine[:50], mine[50:100], mine[100:], []]
    assert "120 letters in the queue" in pages[7].text and "no letter on page 7" in pages[7].text
    assert 'id="next"' in pages[1].text and 'id="previous"' not in pages[1].text
    assert "?page=1" in pages[2].text and "?page=3" in pages[2].text
    assert (
        'id="next"' not in pages[3].text
        and f'href="/dead-letters/{queue.consumer}?page=3" id="previous"' in pages[7].text
    )
    assert 'method="post"' not in pages[2].text  # read-only: no forms
    as_operator = client.get(f"/dead-letters/{queue.consumer}", params={"page": 2}, headers=bearer(OPERATOR_TOKEN))
    assert csrf_token(as_operator.text) and listed(as_operator.text) == mine[50:100]

    letter = client.get(f"/dead-letters/{queue.consumer}/message", params={"id": mine[119]}, headers=headers)
    assert letter.status_code == 200 and mine[119] in letter.text
    monkeypatch.setattr("schedcu.console.dead_letters.WINDOW", 100)
    beyond = client.get(f"/dead-letters/{queue.consumer}/message", params={"id": mine[119]}, headers=headers)
    assert beyond.status_code == 404
    assert f"no dead letter {mine[119]} in {queue.dead_letter_name} among its first 100 letters (120 in all)" in (
        html.unescape(beyond.text)
    )
    for bad in ("0", "201", "x"):
        refused = client.get(f"/dead-letters/{queue.consumer}", params={"page": bad}, headers=headers)
        assert refused.status_code == 400 and "page:" in refused.text, bad

    left = asyncio.run(dead_letters.peek(settings_for.amqp_url, queue, limit=None))
    assert [x.message_id for x in left] == mine  # every letter still there, in its order
