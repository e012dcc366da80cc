"""`schedcu export cells|ics|ods` and `schedcu oncall` on the real database, as a scheduler runs them: March 2026
with nobody on Mid3 on the 9th and nobody at all on the 20th (tests/schedcu/test_coverage_page.py)."""

import csv
import io
import json
import os
import subprocess
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from lxml import etree
from sqlalchemy import text
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from services.ods_importer.ods_reader import iter_sheets
from services.versions import lifecycle
from tests.conftest import Services
from tests.schedcu.test_cli_mistakes import assert_one_line
from tests.schedcu.test_coverage_page import calculated_march

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
GROUP = "coverage-tests"  # the group of tests/schedcu/test_coverage_queries.py's versions
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def schedcu(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    return subprocess.run(schedcu_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)


def ok(services: Services, *args: str) -> str:
    done = schedcu(services, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def march(services: Services) -> tuple[uuid.UUID, uuid.UUID]:
    """The version, promoted to production, and its calculation."""
    version_id, calculation_id = calculated_march(services)
    with Session(services.engine) as session, session.begin():
        lifecycle.promote(session, version_id, "export-tests", force=True, reason="export tests")
    return version_id, calculation_id


def test_cells_csv_has_a_row_per_cell_of_the_latest_calculation(
    services: Services, march: tuple[uuid.UUID, uuid.UUID], tmp_path: Path
) -> None:
    version_id, calculation_id = march
    out = tmp_path / "cells.csv"
    ok(services, "export", "cells", str(version_id), "--out", str(out))

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    with services.engine.connect() as conn:
        stored = conn.scalar(
            text("SELECT count(*) FROM calculation_cells WHERE calculation_id = :c"), {"c": calculation_id}
        )
    assert len(rows) == stored > 0
    assert list(rows[0]) == ["schedule_date", "window", "worklist", "hospital", "role", "people", "status", "mandatory"]
    the_20th = [r for r in rows if r["schedule_date"] == "2026-03-20"]
    assert the_20th and all(r["status"] == "UNCOVERED" and r["people"] == "" for r in the_20th)
    assert any(", " in r["people"] for r in rows)  # "Last, First" names stay one field


def test_ods_has_a_sheet_per_month_coloured_by_status_then_the_gaps_with_candidates(
    services: Services, march: tuple[uuid.UUID, uuid.UUID], tmp_path: Path
) -> None:
    version_id, _ = march
    out = tmp_path / "coverage.ods"
    ok(services, "export", "ods", str(version_id), "--out", str(out))

    data = out.read_bytes()
    sheets = {sheet.name: sheet.rows for sheet in iter_sheets(data)}
    assert list(sheets) == ["2026-03", "Gaps"]
    month = sheets["2026-03"]
    assert month[0][0] == "worklist" and month[0][1:] == [f"2026-03-{d:02d}" for d in range(1, 32)]
    assert len(month) == 1 + 23
    assert {row[20] for row in month[1:]} == {"UNCOVERED"}  # the 20th: nobody on call
    assert month[1][0] == "CPMC CT Neuro" and "COVERED" in month[1][1:]

    package = zipfile.ZipFile(io.BytesIO(data))
    ns = {
        "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
        "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    }
    styles = etree.fromstring(package.read("styles.xml"))
    background = {
        s.get(f"{{{ns['style']}}}name"): s.find("style:table-cell-properties", ns).get(
            f"{{{ns['fo']}}}background-color"
        )
        for s in styles.iterfind(".//style:style[@style:family='table-cell']", ns)
    }
    assert background["UNCOVERED"] == "#e53935" and background["COVERED"] == "#81c784"
    content = etree.fromstring(package.read("content.xml"))
    uncovered = content.findall(".//table:table-cell[@table:style-name='UNCOVERED']", ns)
    assert len(uncovered) >= 23

    gaps = sheets["Gaps"]
    assert gaps[0][:3] == ["date", "role", "hours"] and gaps[0][-1] == "candidate 3"
    (mid3,) = [row for row in gaps[1:] if row[:3] == ["2026-03-09", "Mid3", "18:00-01:00"]]
    assert mid3[3].startswith("CPMC US, CPMC MR Neuro") and ": fills all its gaps; " in mid3[6]


def test_ics_gives_each_person_an_event_per_assignment_in_the_zone(
    services: Services, march: tuple[uuid.UUID, uuid.UUID], tmp_path: Path
) -> None:
    version_id, _ = march
    with services.engine.connect() as conn:
        counts = dict(
            conn.execute(
                text(
                    "SELECT p.email, count(*) FROM assignments a JOIN people p ON p.id = a.person_id "
                    "WHERE a.version_id = :v GROUP BY p.email"
                ),
                {"v": version_id},
            ).all()
        )
    folder = tmp_path / "calendars"
    assert f"wrote {len(counts)} calendars" in ok(services, "export", "ics", str(version_id), "--out", str(folder))
    assert {p.name for p in folder.iterdir()} == {f"{email}.ics" for email in counts}

    email = sorted(counts)[0]
    one = tmp_path / "one.ics"
    ok(services, "export", "ics", str(version_id), "--person", email.upper(), "--out", str(one))
    calendar = Calendar.from_ical(one.read_bytes())
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "America/New_York"
    events = calendar.walk("VEVENT")
    assert len(events) == counts[email]
    assert len({str(e["UID"]) for e in events}) == len(events)
    for event in events:
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert event["DTSTART"].params["TZID"] == "America/New_York"
        assert isinstance(start, datetime) and start.tzinfo is not None and start < end
        assert end - start <= timedelta(hours=16)
        assert str(event["SUMMARY"]).endswith(f" ({GROUP})")


def test_oncall_names_who_reads_a_worklist_at_a_time_in_the_production_version(
    services: Services, march: tuple[uuid.UUID, uuid.UUID]
) -> None:
    version_id, _ = march
    evening = json.loads(ok(services, "oncall", "cpmc us", "--at", "2026-03-09T19:00", "--group", GROUP))
    assert (evening["worklist"], evening["version_id"], evening["at"]) == (
        "CPMC US",
        str(version_id),
        "2026-03-09T19:00:00-04:00",
    )
    assert [(c["role"], c["people"], c["status"]) for c in evening["on_call"]] == [("Mid3", [], "UNCOVERED")]

    # 3 am (07:00 UTC) belongs to the night of the 9th
    night = json.loads(ok(services, "oncall", "CPMC US", "--at", "2026-03-10T07:00:00Z", "--group", GROUP))
    (shift,) = night["on_call"]
    assert shift["schedule_date"] == "2026-03-09" and shift["people"] and shift["status"] == "COVERED"
    assert shift["from"] <= "2026-03-10T03:00:00-04:00" < shift["to"]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("export", "cells", UNKNOWN, "--out", "{tmp}/c.csv"), 1, f"schedule version {UNKNOWN} does not exist"),
        (("export", "ods", UNKNOWN, "--out", "{tmp}/missing/c.ods"), 2, "folder {tmp}/missing does not exist"),
        (("export", "ics", "{version}", "--person", "nobody@example.org", "--out", "{tmp}/n.ics"), 2,
         "nobody has the email 'nobody@example.org'"),
        (("export", "ics", "{version}", "--out", "{tmp}/missing/deeper"), 2,
         "--out: folder {tmp}/missing does not exist"),
        (("export", "cells", "{version}", "--out", "/dev/full"), 2, "cannot write /dev/full: No space left on device"),
        (("oncall", "Nowhere US", "--at", "2026-03-09T19:00", "--group", GROUP), 2,
         "no worklist 'Nowhere US' in the production version of coverage-tests"),
        (("oncall", "CPMC US", "--at", "2031-01-01T12:00", "--group", GROUP), 1,
         "no production version of group 'coverage-tests' covers 2031-01-01"),
        (("oncall", "CPMC US", "--at", "tonight"), 2, "'tonight' is not a time"),
    ],
)  # fmt: skip
def test_export_mistakes_are_one_line(
    services: Services,
    march: tuple[uuid.UUID, uuid.UUID],
    tmp_path: Path,
    args: tuple[str, ...],
    status: int,
    message: str,
) -> None:
    values = {"tmp": str(tmp_path), "version": str(march[0])}
    done = schedcu(services, *(a.format(**values) for a in args))
    assert_one_line(done, status, message.format(**values))
