"""Deciding a draft in the console, through Starlette's TestClient on a real database and broker: an operator
approves ticked rows, rejects one, approves every open row and downloads the approved draft's exports; an edit
that breaks a hard rule is refused with the rule in words, an allowed one is stored EDITED; a period is drafted
from a form, which publishes what `schedcu draft new` publishes. Each action is audited with the console user,
refused to the read-only role (no form offered, 403) and refused without its CSRF token."""

import html
import io
import re
import uuid
import zipfile
from collections.abc import Callable
from datetime import date

import ezodf
import icalendar
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from schedcu.console.params import MAX_TEXT
from services.drafting import inputs
from services.drafting.approval import edit_refusals
from services.drafting.handlers import draft_schedule, options_from
from services.drafting.store import load_problem
from shared.db.models import AuditRecord, DraftRowRecord, DraftRun, OutboxMessage, Person
from shared.kernel.contracts import DraftSchedule
from shared.kernel.ids import draft_run_id as run_id_for
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import OPERATOR_TOKEN, OTHER_OPERATOR_TOKEN, READER_TOKEN, bearer, csrf_token
from tests.console.test_routes import redirected, versions_queue
from tests.drafting.stored import draft_version
from tests.support import amqp_client

pytestmark = pytest.mark.integration

START, END = date(2026, 8, 3), date(2026, 8, 9)
WEDNESDAY = date(2026, 8, 5)
OFF_ON_WEDNESDAY = "Chen, Cleo"
READER, OPERATOR = bearer(READER_TOKEN), bearer(OPERATOR_TOKEN)


def drafted_week(services: Services) -> uuid.UUID:
    """A completed run of a week of a group of its own, drafted by the handler in this process."""
    group = f"console-decide-{uuid.uuid4().hex[:8]}"
    with Session(services.engine) as session, session.begin():
        version_id = draft_version(session, START, END, group)
    delivery = Delivery(f"draft:{uuid.uuid4()}", None, DraftSchedule.routing_key, False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHEDCU_DATABASE_URL", services.database_url)
        get_settings.cache_clear()
        command = DraftSchedule(version_id=version_id, requested_by="setup", time_limit_s=5, workers=1)
        draft_schedule(command, delivery, get_settings())
    get_settings.cache_clear()
    return run_id_for(delivery.message_id)


@pytest.fixture(scope="module")
def week_run(console_services: Services) -> uuid.UUID:
    with Session(console_services.engine) as session, session.begin():
        draft_version(session, START, END, "console-decide-roster")  # the demo roster, before the time off
        inputs.add_time_off(session, OFF_ON_WEDNESDAY, WEDNESDAY, WEDNESDAY, "setup")
    return drafted_week(console_services)


def states(services: Services, run_id: uuid.UUID) -> dict[tuple[str, str], str]:
    with Session(services.engine) as session:
        rows = session.execute(
            select(DraftRowRecord.schedule_date, DraftRowRecord.role, DraftRowRecord.state).where(
                DraftRowRecord.run_id == run_id
            )
        ).all()
    return {(d.isoformat(), role): state for d, role, state in rows}


def snapshot(services: Services, run_id: uuid.UUID) -> tuple[object, ...]:
    """What a run's action could change: its rows, the audit log and the outbox."""
    with Session(services.engine) as session:
        latest = (
            session.scalar(select(func.max(AuditRecord.id))),
            session.scalar(select(func.count(OutboxMessage.id))),
        )
    return states(services, run_id), latest


def notice(page: str) -> str:
    found = re.search(r'id="(notice|refused)">(.*?)</p>', page, re.S)
    assert found, "the page shows no outcome"
    return html.unescape(found.group(2))


def ticked(page: str) -> list[str]:
    """The rows the page offers to tick."""
    return re.findall(r'<input type="checkbox" name="row" value="([^"]+)" form="rows-form"', page)


ACTIONS: dict[str, Callable[[uuid.UUID], tuple[str, dict[str, str | list[str]]]]] = {
    "approve whole": lambda r: (f"/drafting/runs/{r}/approve", {"whole": "yes"}),
    "approve rows": lambda r: (f"/drafting/runs/{r}/approve", {"row": [f"{START}:ON1", f"{END}:ON1"]}),
    "reject rows": lambda r: (f"/drafting/runs/{r}/reject", {"row": f"{START}:ON1"}),
    "edit": lambda r: (f"/drafting/runs/{r}/edit", {"date": START.isoformat(), "role": "ON1", "person": "Adams, Ada"}),
    "draft a period": lambda r: (
        "/drafting/runs", {"group": "console-decide-roster", "start": START.isoformat(), "end": END.isoformat()}
    ),
}  # fmt: skip


@pytest.mark.parametrize("action", ACTIONS)
def test_read_only_users_see_no_decision_and_are_refused_one(
    action: str, client: TestClient, settings_for: Services, week_run: uuid.UUID
) -> None:
    path, form = ACTIONS[action](week_run)
    token = csrf_token(client.get(f"/drafting/runs/{week_run}", headers=OPERATOR).text)
    before = snapshot(settings_for, week_run)

    answer = client.post(path, data={**form, "csrf_token": token}, headers=READER)

    assert answer.status_code == 403 and "your role is read-only" in answer.text
    assert snapshot(settings_for, week_run) == before
    for page in (f"/drafting/runs/{week_run}", "/drafting/runs"):
        shown = client.get(page, headers=READER).text
        assert "csrf_token" not in shown and not ticked(shown) and '<form class="action"' not in shown


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("token", [None, "forged", "other user"])
def test_a_decision_without_its_csrf_token_is_refused(
    action: str, token: str | None, client: TestClient, settings_for: Services, week_run: uuid.UUID
) -> None:
    path, form = ACTIONS[action](week_run)
    if token == "other user":
        token = csrf_token(client.get(f"/drafting/runs/{week_run}", headers=bearer(OTHER_OPERATOR_TOKEN)).text)
    before = snapshot(settings_for, week_run)

    answer = client.post(path, data={**form, **({"csrf_token": token} if token else {})}, headers=OPERATOR)

    assert answer.status_code == 403 and "no valid CSRF token" in answer.text
    assert snapshot(settings_for, week_run) == before


def test_an_operator_approves_ticked_rows_rejects_one_approves_the_rest_and_downloads_the_exports(
    client: TestClient, settings_for: Services
) -> None:
    run_id = drafted_week(settings_for)
    page = client.get(f"/drafting/runs/{run_id}", headers=OPERATOR).text
    token, offered = csrf_token(page), ticked(page)
    assert sorted(offered) == sorted(f"{d}:{role}" for d, role in states(settings_for, run_id))
    assert 'id="exports"' not in page  # nothing approved yet
    latest = snapshot(settings_for, run_id)[1][0] or 0
    path = f"/drafting/runs/{run_id}"

    nothing = client.post(f"{path}/approve", data={"csrf_token": token}, headers=OPERATOR)
    assert (
        redirected(nothing) and notice(nothing.text) == "refused: tick the rows to approve, or approve every open row"
    )
    some = client.post(f"{path}/approve", data={"csrf_token": token, "row": offered[:2], "reason": "checked"},
                       headers=OPERATOR)  # fmt: skip
    assert redirected(some) and some.url.path == path
    assert re.fullmatch(r"approved 2 rows as DRAFT assignments; recalculation requested: calculation \S+",
                        notice(some.text))  # fmt: skip
    one = client.post(f"{path}/reject", data={"csrf_token": token, "row": offered[2]}, headers=OPERATOR)
    assert redirected(one) and notice(one.text) == "rejected 1 rows"
    assert ticked(one.text) == offered[3:]
    rest = client.post(f"{path}/approve", data={"csrf_token": token, "whole": "yes"}, headers=OPERATOR)
    assert redirected(rest) and notice(rest.text).startswith(f"approved {len(offered) - 3} rows as DRAFT assignments")

    decided = states(settings_for, run_id)
    assert decided[tuple(offered[2].split(":"))] == "REJECTED"  # type: ignore[index]
    assert sorted(k for k, v in decided.items() if v == "APPROVED") == sorted(
        tuple(r.split(":")) for r in offered[:2] + offered[3:]
    )
    with Session(settings_for.engine) as session:
        audit = session.execute(
            select(AuditRecord.actor, AuditRecord.entity, AuditRecord.action).where(AuditRecord.id > latest)
        ).all()
    assert {a for a in audit if a[1] == "draft_row"} == {("olga", "draft_row", "approved"),
                                                        ("olga", "draft_row", "rejected")}  # fmt: skip
    assert len([a for a in audit if a[1] == "draft_row"]) == len(offered)
    assert len([a for a in audit if a[1] == "assignment"]) == len(offered) - 1
    assert {a[0] for a in audit} == {"olga"}

    shown = client.get(path, headers=READER).text  # anyone signed in downloads them
    assert "(approved)" in shown and "(rejected)" in shown and not ticked(shown)
    table = client.get(f"{path}/draft.csv", headers=READER)
    assert table.headers["content-type"].startswith("text/csv")
    lines = table.text.splitlines()
    assert lines[0] == "schedule_date,role,person,email,starts_at,ends_at" and len(lines) == len(offered)
    workbook = client.get(f"{path}/draft.ods", headers=READER)
    sheet = ezodf.opendoc(io.BytesIO(workbook.content)).sheets["2026-08"]
    assert sheet.nrows() == 8 and sheet[0, 0].value == "date"
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{path}/calendars.zip", headers=READER).content))
    events = {name: len(icalendar.Calendar.from_ical(archive.read(name)).walk("VEVENT")) for name in archive.namelist()}
    assert sum(events.values()) == len(offered) - 1 and all(name.endswith(".ics") for name in events)
    links = re.findall(r'href="(/drafting/runs/[^"]+/calendars/[^"]+\.ics)"', shown)
    assert len(links) == len(events)
    person = client.get(html.unescape(links[0]), headers=READER)
    assert person.headers["content-type"].startswith("text/calendar")
    assert icalendar.Calendar.from_ical(person.content).walk("VEVENT")


def test_an_edit_breaking_a_rule_is_refused_in_words_and_an_allowed_one_is_stored_edited(
    client: TestClient, settings_for: Services, week_run: uuid.UUID
) -> None:
    path = f"/drafting/runs/{week_run}"
    token = csrf_token(client.get(path, headers=OPERATOR).text)
    held = states(settings_for, week_run)
    wednesday_role = next(role for d, role in held if d == WEDNESDAY.isoformat())
    before = snapshot(settings_for, week_run)

    refused = client.post(
        f"{path}/edit", data={"csrf_token": token, "date": WEDNESDAY.isoformat(), "role": wednesday_role,
                              "person": OFF_ON_WEDNESDAY}, headers=OPERATOR,
    )  # fmt: skip

    assert redirected(refused) and refused.url.path == path
    said = notice(refused.text)
    assert said.startswith(f"refused: {OFF_ON_WEDNESDAY} cannot hold {wednesday_role} on {WEDNESDAY}: ")
    assert "is on time off" in said
    assert snapshot(settings_for, week_run) == before

    day, role, person = allowed_edit(settings_for, week_run)
    done = client.post(
        f"{path}/edit", data={"csrf_token": token, "date": day, "role": role, "person": person, "reason": "swap"},
        headers=OPERATOR,
    )  # fmt: skip
    assert redirected(done) and notice(done.text) == f"edited: {person} on {role} on {day}"
    assert states(settings_for, week_run)[(day, role)] == "EDITED"
    with Session(settings_for.engine) as session:
        audit = session.execute(
            select(AuditRecord.actor, AuditRecord.action, AuditRecord.reason).where(
                AuditRecord.entity_id == f"{week_run}:{day}:{role}"
            )
        ).all()
    assert audit == [("olga", "edited", "swap")]
    grid = html.unescape(done.text)
    assert f"{person} (edited)" in grid


def allowed_edit(services: Services, run_id: uuid.UUID) -> tuple[str, str, str]:
    """A draft row and another person the hard rules allow on it (found with the engine's own check)."""
    with Session(services.engine) as session:
        version_id = session.get_one(DraftRun, run_id).version_id
        problem = load_problem(session, version_id, options_from(get_settings()))
        names = dict(session.execute(select(Person.id, Person.name)).all())
        rows = session.execute(
            select(DraftRowRecord.schedule_date, DraftRowRecord.role, DraftRowRecord.person_id).where(
                DraftRowRecord.run_id == run_id, DraftRowRecord.state == "PROPOSED"
            )
        ).all()
    current = {(d, role): pid for d, role, pid in rows}
    for (day, role), holder in sorted(current.items()):
        for reader in problem.readers:
            if reader.id != holder and not edit_refusals(problem, current, day, role, reader.id):
                return day.isoformat(), role, names[reader.id]
    raise AssertionError("no edit the rules allow")


def test_a_period_drafted_from_the_console_is_asked_as_draft_new_asks_it(
    client: TestClient, settings_for: Services, week_run: uuid.UUID
) -> None:
    token = csrf_token(client.get("/drafting/runs", headers=OPERATOR).text)
    form = {"csrf_token": token, "group": "console-decide-roster", "start": START.isoformat(), "end": END.isoformat(),
            "time_limit": "20", "reason": "next week"}  # fmt: skip

    answer = client.post("/drafting/runs", data=form, headers=OPERATOR)

    assert redirected(answer) and answer.url.path == "/drafting/runs"
    said = re.fullmatch(r"draft of version (\S+) requested: workflow (\S+), run (\S+)", notice(answer.text))
    assert said is not None
    routing_key, body = amqp_client.take(settings_for.amqp_url, versions_queue().name, timeout_s=30) or ("", {})
    assert routing_key == "command.versions.draft"
    assert (body["version_id"], body["requested_by"], body["reason"], body["time_limit_s"]) == (
        said[1], "olga", "next week", 20.0
    )  # fmt: skip

    wrong = client.post("/drafting/runs", data=form | {"end": "2026-08-31"}, headers=OPERATOR)
    assert redirected(wrong) and notice(wrong.text).startswith(
        "refused: group console-decide-roster has no version for 2026-08-03 .. 2026-08-31 to draft"
    )
    backwards = client.post("/drafting/runs", data=form | {"end": "2026-08-01"}, headers=OPERATOR)
    assert notice(backwards.text) == "refused: the period's end 2026-08-01 is before its start 2026-08-03"
    too_long = {"csrf_token": token, "row": "x" * (MAX_TEXT + 1)}
    long_row = client.post(f"/drafting/runs/{week_run}/approve", data=too_long, headers=OPERATOR)
    assert long_row.status_code == 400


def test_a_repair_run_is_not_decided_as_a_draft(
    client: TestClient, settings_for: Services, week_run: uuid.UUID
) -> None:
    repair_id = uuid.uuid4()
    with Session(settings_for.engine) as session, session.begin():
        version_id = session.get_one(DraftRun, week_run).version_id
        session.add(DraftRun(id=repair_id, version_id=version_id, state="completed", actor="setup", time_limit_s=5,
                             workers=1, kind="repair"))  # fmt: skip
    token = csrf_token(client.get("/drafting/runs", headers=OPERATOR).text)
    page = client.get(f"/drafting/runs/{repair_id}", headers=OPERATOR)
    assert page.status_code == 200 and 'id="approve-all-form"' not in page.text and 'id="edit-form"' not in page.text

    answer = client.post(f"/drafting/runs/{repair_id}/approve", data={"csrf_token": token, "whole": "yes"},
                         headers=OPERATOR)  # fmt: skip

    assert redirected(answer) and notice(answer.text) == (
        f"refused: Run {repair_id} is a repair: decide it with `schedcu draft repair-approve|repair-reject` or on "
        f"/repairs/{repair_id}."
    )
