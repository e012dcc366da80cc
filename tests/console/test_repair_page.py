"""The repair page through Starlette's TestClient on a real database: a sick call from the version page's form (the
function of `schedcu draft repair`); the open gap, the chain as before -> after per night, the fairness effect;
approve, reject and edit a move with the form's CSRF token, for operators only; the gap line a repair is filling
links to it."""

import html
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from services.coverage.calculation import CalculationOptions, calculate_and_store
from services.drafting.handlers import repair_schedule
from shared.db.models import Assignment
from shared.kernel.contracts import RepairGap, RepairSchedule
from shared.kernel.ids import draft_run_id as run_id_for
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import OPERATOR_TOKEN, READER_TOKEN, bearer, csrf_token
from tests.schedcu.test_coverage_queries import template_version

pytestmark = pytest.mark.integration

START = date.today() + timedelta(days=10)
SICK_DAY = START + timedelta(days=2)


def repair_run(services: Services) -> uuid.UUID:
    """A published week and a repair of the person on ON1 on SICK_DAY, by the drafting handler in this process."""
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, START, START + timedelta(days=6))
    with services.engine.connect() as conn:
        sick = conn.execute(
            text("SELECT person_id FROM assignments WHERE version_id = :v AND schedule_date = :d AND role = 'ON1'"),
            {"v": version_id, "d": SICK_DAY},
        ).scalar_one()
    delivery = Delivery(f"repair:{uuid.uuid4()}", None, RepairSchedule.routing_key, False)
    command = RepairSchedule(
        version_id=version_id, requested_by="setup", reason="sick call", person_id=sick, first=SICK_DAY,
        time_limit_s=10, workers=1,
    )  # fmt: skip
    repair_schedule(command, delivery, get_settings())
    return run_id_for(delivery.message_id)


def states(services: Services, run_id: uuid.UUID) -> list[str]:
    with services.engine.connect() as conn:
        rows = conn.execute(text("SELECT state FROM draft_rows WHERE run_id = :r ORDER BY position"), {"r": run_id})
        return list(rows.scalars())


def outbox_repairs(services: Services, version_id: uuid.UUID) -> list[tuple[str, str]]:
    with services.engine.connect() as conn:
        found = conn.execute(
            text("SELECT message_id, body FROM outbox WHERE routing_key = 'command.drafting.repair' AND "
                 "message_id LIKE :v ORDER BY id"), {"v": f"repair:{version_id}:%"},
        )  # fmt: skip
        return [(m, b) for m, b in found]


def test_operators_start_a_sick_call_repair_from_the_version_page(client: TestClient, settings_for: Services) -> None:
    with Session(settings_for.engine) as session, session.begin():
        version_id = template_version(session, START, START + timedelta(days=6))
    with settings_for.engine.connect() as conn:
        sick_id, sick_name, sick_email = conn.execute(
            text("SELECT p.id, p.name, p.email FROM assignments a JOIN people p ON p.id = a.person_id WHERE "
                 "a.version_id = :v AND a.schedule_date = :d AND a.role = 'ON1'"), {"v": version_id, "d": SICK_DAY},
        ).one()  # fmt: skip
    url = f"/versions/{version_id}"
    operator = bearer(OPERATOR_TOKEN)
    page = client.get(url, headers=operator).text
    assert 'id="repair-form"' in page
    assert 'id="repair-form"' not in client.get(url, headers=bearer(READER_TOKEN)).text
    token = csrf_token(page)
    form = {"person": sick_email, "from": SICK_DAY.isoformat(), "reason": "sick call"}

    read_only = client.post(f"{url}/repair", data={**form, "csrf_token": token}, headers=bearer(READER_TOKEN))
    assert read_only.status_code == 403 and "your role is read-only" in read_only.text
    no_csrf = client.post(f"{url}/repair", data=form, headers=operator)
    assert no_csrf.status_code == 403 and "no valid CSRF token" in no_csrf.text

    def refused(**changed: str) -> str:
        answer = client.post(f"{url}/repair", data={**form, **changed, "csrf_token": token}, headers=operator)
        found = re.search(r'<p class="refused" id="refused">(.*?)</p>', html.unescape(answer.text))
        assert found, answer.text
        return found.group(1)

    assert refused(person="Nobody, N").startswith("refused: No person is called 'Nobody, N'")
    early = START - timedelta(days=30)
    assert refused(**{"from": early.isoformat()}) == (
        f"refused: {early.isoformat()} .. {early.isoformat()} is not within the version's period "
        f"{START.isoformat()} .. {(START + timedelta(days=6)).isoformat()}."
    )
    assert refused(to=(SICK_DAY - timedelta(days=1)).isoformat()).startswith("refused: The last date")
    assert outbox_repairs(settings_for, version_id) == []  # nothing requested by a refusal

    answer = client.post(f"{url}/repair", data={**form, "csrf_token": token}, headers=operator, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == url
    shown = html.unescape(client.get(url, headers=operator).text)
    ((message_id, body),) = outbox_repairs(settings_for, version_id)
    run_id = run_id_for(message_id)
    assert f"repair requested for {sick_name}: run {run_id}" in shown
    command = RepairSchedule.model_validate_json(body)
    assert (command.person_id, command.first, command.last, command.requested_by, command.reason) == (
        sick_id, SICK_DAY, SICK_DAY, "olga", "sick call",
    )  # fmt: skip

    # the command the relay publishes starts the run the notice names: its moves are on the repair page
    delivery = Delivery(message_id, message_id, RepairSchedule.routing_key, False)
    repair_schedule(command.model_copy(update={"time_limit_s": 10, "workers": 1}), delivery, get_settings())
    repair_page = html.unescape(client.get(f"/repairs/{run_id}", headers=operator).text)
    assert f"ON1 on {SICK_DAY.isoformat()}" in repair_page and 'id="approve-form"' in repair_page


def test_readers_see_the_chain_and_operators_approve_it(client: TestClient, settings_for: Services) -> None:
    run_id = repair_run(settings_for)
    page = html.unescape(client.get(f"/repairs/{run_id}", headers=bearer(READER_TOKEN)).text)
    assert f"ON1 on {SICK_DAY.isoformat()}" in page  # the open gap
    assert "is unavailable (sick call)." in page and "proven the fewest" in page
    assert 'id="fairness"' in page and "nights" in page
    assert 'id="approve-form"' not in page  # read-only

    url = f"/repairs/{run_id}"
    operator = bearer(OPERATOR_TOKEN)
    token = csrf_token(client.get(url, headers=operator).text)
    assert client.post(f"{url}/approve", data={}, headers=operator).status_code == 403  # no CSRF token
    answer = client.post(f"{url}/approve", data={"csrf_token": token}, headers=operator, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == url
    shown = client.get(url, headers=operator).text
    assert "approved 1 move; recalculation requested" in shown and 'id="approve-form"' not in shown
    assert states(settings_for, run_id) == ["APPROVED"]
    with settings_for.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT actor, action FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r"),
            {"r": str(run_id)},
        ).all()
    assert [tuple(a) for a in audit] == [("olga", "approve")]


def test_operators_reject_one_move_with_a_reason(client: TestClient, settings_for: Services) -> None:
    run_id = repair_run(settings_for)
    url = f"/repairs/{run_id}"
    operator = bearer(OPERATOR_TOKEN)
    token = csrf_token(client.get(url, headers=operator).text)
    refused = client.post(f"{url}/reject", data={"csrf_token": token, "move": "0"}, headers=operator)
    assert "choose a move and give a reason" in refused.text and states(settings_for, run_id) == ["PROPOSED"]
    client.post(f"{url}/reject", data={"csrf_token": token, "move": "0", "reason": "on leave"}, headers=operator)
    assert states(settings_for, run_id) == ["REJECTED"]
    assert client.get(f"/repairs/{uuid.uuid4()}", headers=operator).status_code == 404


def test_operators_edit_a_move_refused_with_the_rule_the_person_would_break(
    client: TestClient, settings_for: Services
) -> None:
    run_id = repair_run(settings_for)
    url = f"/repairs/{run_id}"
    operator = bearer(OPERATOR_TOKEN)
    page = client.get(url, headers=operator).text
    assert 'id="edit-form"' in page and 'id="edit-form"' not in client.get(url, headers=bearer(READER_TOKEN)).text
    token = csrf_token(page)
    with settings_for.engine.connect() as conn:
        version_id, moved = conn.execute(
            text("SELECT r.version_id, w.person_id FROM draft_runs r JOIN draft_rows w ON w.run_id = r.id "
                 "WHERE r.id = :r AND w.position = 0"), {"r": run_id},
        ).one()  # fmt: skip
        busy_name, busy_email = conn.execute(
            text("SELECT p.name, p.email FROM assignments a JOIN people p ON p.id = a.person_id WHERE "
                 "a.version_id = :v AND a.schedule_date = :d AND a.role = 'ON2'"), {"v": version_id, "d": SICK_DAY},
        ).one()  # fmt: skip
        off_that_night = conn.execute(
            text("SELECT p.id, p.name FROM people p WHERE p.specialty = 'BOTH' AND p.id <> :m AND NOT EXISTS (SELECT "
                 "1 FROM assignments a WHERE a.version_id = :v AND a.person_id = p.id AND a.schedule_date = :d) "
                 "ORDER BY p.id"), {"v": version_id, "m": moved, "d": SICK_DAY},
        ).all()  # fmt: skip

    def edit(person: str) -> str:
        form = {"csrf_token": token, "move": "0", "person": person}
        return html.unescape(client.post(f"{url}/edit", data=form, headers=operator).text)

    assert "choose a move and a person" in edit("")
    assert "No person is called 'Nobody, N'" in edit("Nobody, N")
    refused = edit(busy_email)
    assert f"{busy_name} cannot take ON1 on {SICK_DAY.isoformat()}: {busy_name} holds ON2 that night." in refused
    assert states(settings_for, run_id) == ["PROPOSED"]

    for free in off_that_night:  # the first one whom no rest rule keeps off it
        answer = edit(free.name)
        if f"move 0 goes to {free.name}" in answer:
            break
        assert f"{free.name} cannot take ON1 on {SICK_DAY.isoformat()}: {free.name} " in answer
    assert states(settings_for, run_id) == ["EDITED"]
    with settings_for.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT person_id FROM draft_rows WHERE run_id = :r AND position = 0"), {"r": run_id}
            ).scalar_one()
            == free.id
        )
        audit = conn.execute(
            text("SELECT actor, action FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r"),
            {"r": str(run_id)},
        ).all()
    assert [tuple(a) for a in audit] == [("olga", "edit")]


def test_a_gap_line_being_repaired_links_to_its_repair(client: TestClient, settings_for: Services) -> None:
    with Session(settings_for.engine) as session, session.begin():
        version_id = template_version(session, START, START + timedelta(days=6))
        session.execute(
            delete(Assignment).where(
                Assignment.version_id == version_id, Assignment.schedule_date == SICK_DAY,
                Assignment.role == "Mid3",
            )
        )  # fmt: skip
        calculate_and_store(session, version_id, uuid.uuid4(), CalculationOptions.from_settings(get_settings()))
    delivery = Delivery(f"repair:{uuid.uuid4()}", None, RepairSchedule.routing_key, False)
    gap = RepairGap(date=SICK_DAY, role="Mid3")
    repair_schedule(
        RepairSchedule(version_id=version_id, requested_by="setup", gaps=[gap], workers=1), delivery, get_settings()
    )
    run_id = run_id_for(delivery.message_id)

    page = client.get(f"/versions/{version_id}/gaps", headers=bearer(READER_TOKEN)).text
    assert f'<a class="repair" href="/repairs/{run_id}">open repair</a>' in page
    assert page.count('class="repair"') == 1  # only the line it repairs
