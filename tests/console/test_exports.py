"""The console serves the CLI's exports to any signed-in user, read-only included: a version's cells as CSV,
its coverage workbook, a person's calendar, and who is on call for a worklist at a time, as JSON. Mistakes get
the CLI's one line with 400 or 404, never a traceback."""

import csv
import io
import uuid
import zipfile

import pytest
from icalendar import Calendar
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from services.versions import lifecycle
from tests.conftest import Services
from tests.console.conftest import READER_TOKEN, bearer
from tests.schedcu.test_coverage_page import calculated_march

pytestmark = pytest.mark.integration

GROUP = "coverage-tests"  # calculated_march's group


@pytest.fixture(scope="module")
def march(console_services: Services) -> uuid.UUID:
    version_id, _ = calculated_march(console_services)
    with Session(console_services.engine) as session, session.begin():
        lifecycle.promote(session, version_id, "console-export-tests", force=True, reason="export tests")
    return version_id


def get(client: TestClient, path: str, **params: str) -> object:
    return client.get(path, params=params, headers=bearer(READER_TOKEN))


def test_a_reader_downloads_cells_workbook_and_a_calendar(
    client: TestClient, march: uuid.UUID, settings_for: Services
) -> None:
    cells = get(client, f"/versions/{march}/cells.csv")
    assert cells.status_code == 200 and cells.headers["content-type"].startswith("text/csv")
    assert f'filename="cells-{march}.csv"' in cells.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(cells.text)))
    assert rows and {r["status"] for r in rows if r["schedule_date"] == "2026-03-20"} == {"UNCOVERED"}

    workbook = get(client, f"/versions/{march}/coverage.ods")
    assert workbook.status_code == 200
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as ods:
        assert ods.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"

    with settings_for.engine.connect() as conn:
        email, assigned = conn.execute(
            text(
                "SELECT p.email, count(*) FROM assignments a JOIN people p ON p.id = a.person_id "
                "WHERE a.version_id = :v GROUP BY p.email ORDER BY p.email LIMIT 1"
            ),
            {"v": march},
        ).one()
    feed = get(client, f"/versions/{march}/calendars/{email}.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert len(Calendar.from_ical(feed.content).walk("VEVENT")) == assigned


def test_on_call_answers_as_json(client: TestClient, march: uuid.UUID) -> None:
    answer = get(client, "/oncall", worklist="cpmc us", at="2026-03-09T19:00", group=GROUP)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["worklist"], body["version_id"]) == ("CPMC US", str(march))
    assert [(c["role"], c["status"]) for c in body["on_call"]] == [("Mid3", "UNCOVERED")]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/oncall", {"worklist": "Nowhere US", "at": "2026-03-09T19:00", "group": GROUP}, 400, "no worklist"),
        ("/oncall", {"worklist": "CPMC US", "at": "tonight"}, 400, "'tonight' is not a time"),
        ("/oncall", {"worklist": "CPMC US", "at": "2031-01-01T12:00", "group": GROUP}, 404, "no production version"),
        ("/oncall", {}, 400, "give the worklist"),
        ("/oncall", {"worklist": "CPMC US", "at": "2026-03-08T02:30"}, 400, "does not exist in America/New_York"),
        ("/oncall", {"worklist": "CPMC US", "at": "2026-11-01T01:30"}, 400, "happens twice in America/New_York"),
    ],
)
def test_on_call_mistakes_get_one_line(
    client: TestClient, march: uuid.UUID, path: str, params: dict[str, str], status: int, message: str
) -> None:
    answer = get(client, path, **params)
    assert answer.status_code == status
    assert message in answer.json()["error"]


def test_exports_of_an_unknown_version_or_person_are_not_found(client: TestClient, march: uuid.UUID) -> None:
    unknown = uuid.uuid4()
    for path in (f"/versions/{unknown}/cells.csv", f"/versions/{unknown}/coverage.ods"):
        answer = get(client, path)
        assert answer.status_code == 404 and f"schedule version {unknown} does not exist" in answer.text
    nobody = get(client, f"/versions/{march}/calendars/nobody@example.org.ics")
    assert nobody.status_code == 400 and "nobody has the email" in nobody.text
