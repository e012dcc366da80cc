"""No bare 500: every route of the console, taken from the app itself (a new route is covered without touching
this file), with hostile values in each of its path parameters, in each parameter of its query model and in
each field of its form: huge and negative numbers, NUL and other control characters, long strings, unicode,
path traversal, SQL. Nothing answers 5xx, and a JSON route answers JSON. Then the cases the issue found."""

import html
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from schedcu.console.app import JSON_PATHS
from schedcu.console.params import MAX_DEAD_LETTER_PAGE, MAX_PAGE
from schedcu.console.routes import create_app
from schedcu.console.users import WatchedUsers
from services.coverage import proposals
from services.coverage.calculation import CalculationOptions
from services.versions import operator_actions
from shared.db.models import HospitalGroup, Person, ScheduleVersion
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import OPERATOR_TOKEN, READER_TOKEN, bearer, csrf_token
from tests.console.test_routes import gapped_week, start_workflow
from tests.coverage.test_corrections import MON

pytestmark = pytest.mark.integration

HOSTILE = [
    "99999999999999999999",
    "-1",
    "0",
    "-99999999999999999999",
    "1e309",
    "NaN",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "line\r\nSet-Cookie: x=1",
    "\x7f",
    "x" * 50_000,  # httpx refuses URLs past 64 kB; 500 kB ones are tests/console/test_server.py's
    "日本語 ✓ 😀",
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "'; DROP TABLE workflows; --",
    "%_\\",
    "<script>alert(1)</script>",
    " ",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "2026-03-02T02:30:00",
    "null",
]


@dataclass(frozen=True)
class Known:
    """Ids and names that exist (a queue, a person, a group), so that a route gets past its "not found" to its
    parameters."""

    ids: tuple[str, ...]
    names: tuple[str, ...]


@pytest.fixture(scope="module")
def known(console_services: Services) -> Known:
    version_id = gapped_week(console_services)
    with Session(console_services.engine) as session, session.begin():
        created = proposals.create(session, version_id, CalculationOptions.from_settings(get_settings()), "fuzz", MON)
        email = session.scalars(select(Person.email).order_by(Person.id)).first()
        group = session.scalar(
            select(HospitalGroup.name)
            .join(ScheduleVersion, ScheduleVersion.group_id == HospitalGroup.id)
            .where(ScheduleVersion.id == version_id)
        )
    assert email is not None and group is not None
    return Known(ids=(str(version_id), str(created.proposals[0]), "WORKFLOW"), names=("versions", email, group))


@pytest.fixture
def client(settings_for: Services, users: WatchedUsers, known: Known) -> Iterator[TestClient]:
    failed = start_workflow()
    operator_actions.cancel(failed, "fuzz", "a failed workflow to look at", get_settings())
    with TestClient(create_app(users, get_settings()), raise_server_exceptions=False) as test_client:
        test_client.workflow_id = str(failed)  # type: ignore[attr-defined]
        yield test_client


def path_of(route: Route, values: dict[str, str]) -> str:
    path = route.path_format
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def path_choices(route: Route, known: Known, workflow_id: str) -> list[dict[str, str]]:
    """Every combination of known values for the route's path parameters."""
    choices: list[dict[str, str]] = [{}]
    for name, convertor in route.param_convertors.items():
        pool = (
            [workflow_id if i == "WORKFLOW" else i for i in known.ids] + [str(uuid.uuid4())]
            if type(convertor).__name__ == "UUIDConvertor"
            else list(known.names)
        )
        choices = [c | {name: value} for c in choices for value in pool]
    return choices


def checked(answer: Any, what: str) -> Any:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"
    if answer.request.url.path in JSON_PATHS:
        assert answer.headers["content-type"].startswith("application/json"), what
        assert answer.status_code == 200 or "error" in answer.json(), what
    return answer


def console_routes(client: TestClient) -> list[Route]:
    routes = [r for r in client.app.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    assert len(routes) >= 25  # the app's own routes, not an empty list
    return routes


def test_no_route_answers_5xx_to_hostile_path_or_query_values(client: TestClient, known: Known) -> None:
    headers = bearer(READER_TOKEN)
    for route in console_routes(client):
        if "GET" not in (route.methods or ()):
            continue
        choices = path_choices(route, known, client.workflow_id)  # type: ignore[attr-defined]
        for name in route.param_convertors:
            for value in HOSTILE:
                values = choices[0] | {name: value}
                checked(client.get(path_of(route, values), headers=headers), f"{route.path} {name}={value[:40]!r}")
        answers = [(c, checked(client.get(path_of(route, c), headers=headers), route.path)) for c in choices]
        usable = next((c for c, answer in answers if answer.status_code == 200), choices[0])
        query = getattr(route.endpoint, "query", None)
        names = [f.alias or n for n, f in query.model_fields.items()] if query else []
        for name in [*names, "unexpected"]:
            for value in HOSTILE:
                answer = client.get(path_of(route, usable), params={name: value}, headers=headers)
                checked(answer, f"{route.path}?{name}={value[:40]!r}")


def test_no_action_answers_5xx_to_hostile_form_values(client: TestClient, known: Known) -> None:
    headers = bearer(OPERATOR_TOKEN)
    token = csrf_token(client.get(f"/versions/{known.ids[0]}/proposals", headers=headers).text)
    for route in console_routes(client):
        if "POST" not in (route.methods or ()):
            continue
        form = route.endpoint.form
        choices = path_choices(route, known, client.workflow_id)  # type: ignore[attr-defined]
        tried = [
            (c, checked(client.post(path_of(route, c), data={"csrf_token": token}, headers=headers), route.path))
            for c in choices
        ]
        usable = next((c for c, answer in tried if answer.status_code == 200), choices[0])
        for name in route.param_convertors:
            for value in HOSTILE:
                answer = client.post(
                    path_of(route, usable | {name: value}), data={"csrf_token": token}, headers=headers
                )
                checked(answer, f"POST {route.path} {name}={value[:40]!r}")
        path = path_of(route, usable)
        for name in [*(f.alias or n for n, f in form.model_fields.items()), "unexpected"]:
            for value in HOSTILE:
                answer = client.post(path, data={"csrf_token": token, name: value}, headers=headers)
                checked(answer, f"POST {route.path} {name}={value[:40]!r}")


def test_static_files_refuse_path_traversal(client: TestClient) -> None:
    (static,) = [r for r in client.app.routes if isinstance(r, Mount)]  # type: ignore[attr-defined]
    for value in ("..%2f..%2fusers.yaml", "%2e%2e/%2e%2e/app.py", "%00", "console.css%00.png"):
        answer = checked(client.get(f"{static.path}/{value}", headers=bearer(READER_TOKEN)), value)
        assert answer.status_code in (400, 404), value


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (f"/workflows?page={10**20}", f"page: Input should be less than or equal to {MAX_PAGE}"),
        ("/workflows?page=-3", "page: Input should be greater than or equal to 1"),
        ("/workflows?request=a%00b", "control characters (such as NUL or a line break) are not allowed"),
        ("/workflows?group=%00", "control characters"),
        ("/versions?group=%00", "control characters"),
        ("/workflows?from=9999-12-31", "from: '9999-12-31' is out of range: give a date from 2000-01-01"),
        ("/versions/diff?a=nope", "a: 'nope' is not a version id"),
        ("/dead-letters/versions?page=201", f"page: Input should be less than or equal to {MAX_DEAD_LETTER_PAGE}"),
    ],
)
def test_a_wrong_parameter_is_a_400_that_names_it(client: TestClient, path: str, words: str) -> None:
    answer = client.get(path, headers=bearer(READER_TOKEN))

    assert answer.status_code == 400 and words in html.unescape(answer.text)
    assert 'id="who"' in answer.text  # the console's page, with its menu


def test_nul_in_a_calendar_email_or_a_json_route_is_a_400(client: TestClient, known: Known) -> None:
    calendar = client.get(f"/versions/{known.ids[0]}/calendars/a%00b.ics", headers=bearer(READER_TOKEN))
    assert calendar.status_code == 400 and "control characters" in calendar.text

    on_call = client.get("/oncall?worklist=CT&group=%00", headers=bearer(READER_TOKEN))
    assert on_call.status_code == 400 and "control characters" in on_call.json()["error"]


def test_a_json_route_answers_json_when_the_database_is_down_or_the_token_is_wrong(
    users: WatchedUsers, settings_for: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none")
    get_settings.cache_clear()
    client = TestClient(create_app(users, get_settings()))

    down = client.get("/oncall", params={"worklist": "CPMC CT Body"}, headers=bearer(READER_TOKEN))
    assert down.status_code == 503 and "cannot use the database at 127.0.0.1:1" in down.json()["error"]
    assert "s3cret" not in down.text
    wrong = client.get("/oncall", params={"worklist": "CPMC CT Body"}, headers=bearer("wrong"))
    assert wrong.status_code == 401 and "give your console token" in wrong.json()["error"]


def test_a_fault_of_the_console_is_a_page_that_says_so(
    users: WatchedUsers, settings_for: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug with a secret: s3cret")

    monkeypatch.setattr("schedcu.console.versions.version_rows", broken)
    client = TestClient(create_app(users, get_settings()), raise_server_exceptions=False)

    answer = client.get("/versions", headers=bearer(READER_TOKEN))

    assert answer.status_code == 500 and "the console failed on this request: the log has the details" in answer.text
    assert 'id="who"' in answer.text and "s3cret" not in answer.text and "Traceback" not in answer.text
