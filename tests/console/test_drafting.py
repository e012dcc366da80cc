"""The drafting pages through Starlette's TestClient on a real database: a run drafted by the drafting handler
(a week where only two readers who may hold ON1, ON2 and Mid3 are not on time off on the Wednesday) shown with
its figures per level, its grid, the unfilled role with each person's reason and the fairness table and chart;
a running run with its progress, on the page and in `schedcu draft show`; every input action refused to the
read-only role and without its CSRF token, and done and audited with the console user for an operator; a
refused input shown on the page; hostile names escaped."""

import html
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from schedcu.runtime.processes import schedcu_command
from services.drafting import inputs
from services.drafting.handlers import draft_schedule
from shared.db.models import (
    AuditRecord,
    DraftException,
    DraftGroup,
    DraftPerson,
    DraftRequest,
    DraftRoleHours,
    DraftRotation,
    DraftRowRecord,
    DraftRun,
    DraftTimeOff,
    Person,
)
from shared.kernel.contracts import DraftSchedule
from shared.kernel.ids import draft_run_id as run_id_for
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import OPERATOR_TOKEN, OTHER_OPERATOR_TOKEN, READER_TOKEN, bearer, csrf_token
from tests.console.test_routes import redirected
from tests.drafting.stored import draft_version

pytestmark = pytest.mark.integration

GROUP = "console-drafting"
START, END = date(2026, 7, 6), date(2026, 7, 12)
WEDNESDAY = date(2026, 7, 8)
OFF_ON_WEDNESDAY = ("Chen, Cleo", "Evans, Eve", "Gray, Gia", "Hill, Hal", "Jones, Jay", "King, Kim")
HOSTILE_NAME = '<script>alert("x")</script> & Co'
READER, OPERATOR = bearer(READER_TOKEN), bearer(OPERATOR_TOKEN)


@pytest.fixture(scope="module")
def drafted(console_services: Services) -> uuid.UUID:
    """A completed run of the week, drafted by the handler in this process."""
    with Session(console_services.engine) as session, session.begin():
        version_id = draft_version(session, START, END, GROUP)
        for name in OFF_ON_WEDNESDAY:
            inputs.add_time_off(session, name, WEDNESDAY, WEDNESDAY, "setup")
        session.add(Person(name=HOSTILE_NAME, email="hostile@example.org", specialty="BOTH", aliases=[]))
    delivery = Delivery(f"draft:{uuid.uuid4()}", None, DraftSchedule.routing_key, False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHEDCU_DATABASE_URL", console_services.database_url)
        get_settings.cache_clear()
        command = DraftSchedule(
            version_id=version_id, requested_by="setup", reason="console", time_limit_s=5, workers=1
        )
        draft_schedule(command, delivery, get_settings())
    get_settings.cache_clear()
    return run_id_for(delivery.message_id)


@pytest.fixture(autouse=True)
def _clean_inputs(console_services: Services) -> Iterator[None]:
    """Each test starts from the module's time off only, so that rotations and requests do not clash."""
    yield
    with Session(console_services.engine) as session, session.begin():
        for table in (DraftGroup, DraftPerson, DraftRoleHours, DraftRotation, DraftException, DraftRequest):
            session.execute(delete(table))
        session.execute(delete(DraftTimeOff).where(DraftTimeOff.first_date != WEDNESDAY))


def cells(page: str, table: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table}".*?</table>', page, re.S)
    assert body, f"no table {table}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(0), re.S)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)]
        for r in rows
    ]


def test_a_run_page_shows_the_figures_the_grid_the_unfilled_role_and_the_fairness(
    client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    page = client.get(f"/drafting/runs/{drafted}", headers=READER)

    assert page.status_code == 200
    with Session(settings_for.engine) as session:
        run = session.get_one(DraftRun, drafted)
        rows = session.execute(
            select(DraftRowRecord.schedule_date, DraftRowRecord.role, Person.name)
            .join(Person, Person.id == DraftRowRecord.person_id)
            .where(DraftRowRecord.run_id == drafted)
        ).all()
    assert run.state == "completed" and run.unfilled == 1
    assert run.progress is not None and run.progress["levels"] == len(run.levels)  # the worker recorded its solve
    levels = cells(page.text, "levels")
    assert levels[0] == ["level", "value", "bound", "proven", "time"]
    assert [r[0] for r in levels[1:]] == [level["level"] for level in run.levels]
    assert levels[1][:2] == ["unfilled mandatory roles", "1"]

    grid = cells(page.text, "grid")
    roles = grid[0][1:]
    shown = {(r[0], role): text for r in grid[1:] for role, text in zip(roles, r[1:], strict=True) if text}
    assert {k: v for k, v in shown.items() if v != "(unfilled)"} == {(d.isoformat(), r): n for d, r, n in rows}
    assert [k for k, v in shown.items() if v == "(unfilled)"] == [
        (u["date"], u["role"]) for u in run.explanations["unfilled"]
    ]
    assert run.explanations["unfilled"][0]["date"] == WEDNESDAY.isoformat()
    unfilled = html.unescape(re.search(r'<ul id="unfilled">.*?</ul></details></li></ul>', page.text, re.S).group(0))
    assert all(f"{name}: is on time off" in unfilled for name in OFF_ON_WEDNESDAY)

    fairness = cells(page.text, "fairness")
    assert fairness[0][:5] == ["person", "FTE", "nights", "share", "deviation"]
    assert [r[0] for r in fairness[1:]] == [f["name"] for f in run.fairness]
    by_name = {f["name"]: f["categories"]["nights"] for f in run.fairness}
    nights = {n: held for n, held in by_name.items() if held["held"]}
    assert sum(f["held"] for f in nights.values()) == run.filled
    for row in fairness[1:]:
        assert row[2] == f"0 + {by_name[row[0]]['held']}"  # no history: the group has no production version
    bars = re.findall(r'<g class="bar" data-person="([^"]*)" data-category="([^"]*)" data-held="(\d+)"', page.text)
    assert len(bars) == 3 * len(run.fairness)
    assert {(html.unescape(p), int(h)) for p, c, h in bars if c == "nights"} == {
        (n, held["held"]) for n, held in by_name.items()
    }
    assert HOSTILE_NAME not in page.text and html.escape(HOSTILE_NAME) in page.text  # a reader without a role
    assert 'http-equiv="refresh"' not in page.text and 'id="progress"' not in page.text  # it has ended

    listed = client.get("/drafting/runs", params={"version": str(run.version_id)}, headers=READER).text
    assert f'data-run-id="{drafted}"' in listed and "completed" in listed
    index = client.get("/drafting", headers=READER).text
    assert f'href="/drafting/groups/{GROUP}"' in index and f'href="/drafting/runs/{drafted}"' in index


def running_run(services: Services, version_id: uuid.UUID, progress: dict[str, Any] | None) -> uuid.UUID:
    run_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        session.execute(
            insert(DraftRun).values(
                id=run_id, version_id=version_id, state="running", actor="setup", time_limit_s=60, workers=2,
                progress=progress,
            )
        )  # fmt: skip
    return run_id


def test_a_running_run_shows_its_progress_on_its_page_and_in_draft_show(
    client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    with Session(settings_for.engine) as session:
        version_id = session.get_one(DraftRun, drafted).version_id
    progress = {
        "level": "holiday nights: largest deviation", "number": 3, "levels": 10, "value": 1050, "bound": 943,
        "seconds_left": 12.4, "at": "2026-12-06T15:40:01+00:00",
    }  # fmt: skip
    solving, starting = running_run(settings_for, version_id, progress), running_run(settings_for, version_id, None)
    words = "solving level 3 of 10 (holiday nights: largest deviation): best so far 1.050, bound 0.943; 12 s left"

    page = client.get(f"/drafting/runs/{solving}", headers=READER).text
    assert '<meta http-equiv="refresh" content="5">' in page
    assert words in html.unescape(re.search(r'id="progress">(.*?)<', page, re.S).group(1))
    first = client.get(f"/drafting/runs/{starting}", headers=READER).text
    assert "the solver has not started yet" in first and 'http-equiv="refresh"' in first

    env = {**os.environ, "SCHEDCU_DATABASE_URL": settings_for.database_url, "SCHEDCU_AMQP_URL": settings_for.amqp_url}
    shown = subprocess.run(
        schedcu_command("draft", "show", str(solving)), env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert f"  {words} (at 15:40:01 UTC)" in shown.splitlines()


# ---- the inputs' actions


def snapshot(services: Services) -> tuple[int | None, ...]:
    """Everything an input action could change: each input table's rows and the audit log."""
    with Session(services.engine) as session:
        tables = (DraftGroup, DraftPerson, DraftRoleHours, DraftRotation, DraftException, DraftRequest, DraftTimeOff)
        return (
            *(session.scalar(select(func.count()).select_from(t)) for t in tables),
            session.scalar(select(func.max(AuditRecord.id))),
        )


def a_rotation(services: Services) -> int:
    with Session(services.engine) as session, session.begin():
        return inputs.add_rotation(session, GROUP, "fri", "MidL", "Lopez, Lu", START, END, "setup")


PATH = f"/drafting/groups/{GROUP}"
# each action: its path and form (without the CSRF token), what the page then shows, and the audit entity id
ACTIONS: dict[str, Callable[[Services], tuple[str, dict[str, str], str, str]]] = {
    "limits": lambda s: (f"{PATH}/limits", {"nights": "6", "consecutive": "3", "weekends": "none"},
                         "limits: nights 6, consecutive 3, free between -, weekends -", f"limits:{GROUP}"),
    "person": lambda s: (f"{PATH}/people", {"person": "ada.adams@example.org", "fte": "0.5", "active_to": "2026-12-31"},
                         "ada.adams@example.org: fte 0.5, active from -, active to 2026-12-31",
                         f"person:{GROUP}:ada.adams@example.org"),
    "hours": lambda s: (f"{PATH}/hours", {"role": "ON1", "hours": "10p-8a"}, "ON1 in console-drafting: 22:00-08:00",
                        f"hours:{GROUP}:ON1"),
    "rotation": lambda s: (f"{PATH}/rotations", {"weekday": "mon", "role": "ON1", "person": "Adams, Ada",
                           "from": "2026-07-01", "to": "2026-09-30"}, "added rotation ", "rotation:"),
    "exception": lambda s: (f"{PATH}/exceptions", {"date": "2026-07-06", "role": "ON1", "nobody": "yes"},
                            "2026-07-06 ON1: nobody (the role is drafted)", f"exception:{GROUP}:2026-07-06:ON1"),
    "request": lambda s: (f"{PATH}/requests", {"person": "Hill, Hal", "kind": "off", "weekday": "fri", "weight": "5"},
                          "added request ", "request:"),
    "time off": lambda s: ("/drafting/time-off", {"person": "Lopez, Lu", "from": "2026-08-01", "to": "2026-08-02"},
                           "added time off ", "time_off:"),
    "remove rotation": lambda s: (f"{PATH}/rotations/{(r := a_rotation(s))}/remove", {"reason": "ended"},
                                  f"removed rotation {r}", f"rotation:{r}"),
}  # fmt: skip


@pytest.mark.parametrize("action", ACTIONS)
def test_read_only_users_cannot_change_drafting_inputs(
    action: str, client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    path, form, _, _ = ACTIONS[action](settings_for)
    token = csrf_token(client.get(PATH, headers=OPERATOR).text)
    before = snapshot(settings_for)

    answer = client.post(path, data={**form, "csrf_token": token}, headers=READER)

    assert answer.status_code == 403 and "your role is read-only" in answer.text
    assert snapshot(settings_for) == before
    assert "csrf_token" not in client.get(PATH, headers=READER).text  # no form is offered


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("token", [None, "forged", "other user"])
def test_a_drafting_form_without_its_csrf_token_is_refused(
    action: str, token: str | None, client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    path, form, _, _ = ACTIONS[action](settings_for)
    if token == "other user":
        token = csrf_token(client.get(PATH, headers=bearer(OTHER_OPERATOR_TOKEN)).text)
    before = snapshot(settings_for)

    answer = client.post(path, data={**form, **({"csrf_token": token} if token else {})}, headers=OPERATOR)

    assert answer.status_code == 403 and "no valid CSRF token" in answer.text
    assert snapshot(settings_for) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_an_operator_changes_a_drafting_input_audited_with_their_name(
    action: str, client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    path, form, notice, entity = ACTIONS[action](settings_for)
    token = csrf_token(client.get(PATH, headers=OPERATOR).text)
    latest = snapshot(settings_for)[-1]

    answer = client.post(path, data={**form, "csrf_token": token, "reason": "from the console"}, headers=OPERATOR)

    assert redirected(answer)
    assert answer.url.path == (PATH if path.startswith(PATH) else "/drafting/time-off")
    shown = html.unescape(re.search(r'id="notice">(.*?)</p>', answer.text).group(1))
    assert shown.startswith(notice)
    with Session(settings_for.engine) as session:
        audit = session.scalars(select(AuditRecord).where(AuditRecord.id > (latest or 0))).all()
    assert [(a.actor, a.entity, a.reason) for a in audit] == [("olga", "draft_input", "from the console")]
    assert audit[0].entity_id.startswith(entity)


def test_a_refused_input_is_shown_on_the_page_and_nothing_changes(
    client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    token = csrf_token(client.get(PATH, headers=OPERATOR).text)
    standing = a_rotation(settings_for)  # Lopez on Friday's MidL
    before = snapshot(settings_for)

    weight = client.post(
        f"{PATH}/requests", data={"person": "Hill, Hal", "kind": "on", "weight": "500", "csrf_token": token},
        headers=OPERATOR,
    )  # fmt: skip
    clash = client.post(
        f"{PATH}/rotations", data={"weekday": "fri", "role": "MidL", "person": "Adams, Ada", "from": "2026-07-10",
                                   "to": "2026-07-10", "csrf_token": token}, headers=OPERATOR,
    )  # fmt: skip

    assert redirected(weight) and "refused: a request&#39;s weight is 1 to 100 (got 500)." in weight.text
    assert redirected(clash) and "refused: Lopez, Lu already holds MidL on fri within those dates" in clash.text
    assert snapshot(settings_for) == before
    assert [r.id for r in _rotations(settings_for)] == [standing]


def _rotations(services: Services) -> list[inputs.RotationLine]:
    with Session(services.engine) as session:
        return inputs.rotations(session, GROUP)


def test_hostile_names_are_escaped_on_the_input_pages(
    client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    with Session(settings_for.engine) as session, session.begin():
        inputs.set_person(session, GROUP, "hostile@example.org", {"fte": 0.8}, "setup")
        inputs.add_time_off(session, "hostile@example.org", END, END, "setup", note="<img src=x onerror=alert(1)>")

    pages = [client.get(p, headers=READER).text for p in (PATH, "/drafting/time-off")]

    for page in pages:
        assert HOSTILE_NAME not in page and html.escape(HOSTILE_NAME, quote=False) in page.replace("&#34;", '"')
    assert "<img src=x" not in pages[1] and "&lt;img src=x onerror=alert(1)&gt;" in pages[1]
    assert client.get("/drafting/groups/no-such-group", headers=READER).status_code == 404


def test_a_row_of_another_group_is_not_removed_through_this_one(
    client: TestClient, settings_for: Services, drafted: uuid.UUID
) -> None:
    rotation = a_rotation(settings_for)
    token = csrf_token(client.get(PATH, headers=OPERATOR).text)
    with Session(settings_for.engine) as session, session.begin():
        draft_version(session, START, END, "console-drafting-other")  # a group of its own

    answer = client.post(
        f"/drafting/groups/console-drafting-other/rotations/{rotation}/remove", data={"csrf_token": token},
        headers=OPERATOR,
    )  # fmt: skip

    assert redirected(answer) and f"refused: console-drafting-other has no rotation {rotation}." in answer.text
    assert rotation in [r.id for r in _rotations(settings_for)]
