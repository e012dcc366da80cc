"""Reading results: `schedcu coverage show` in a terminal and as JSON, and `schedcu coverage report` rendered
by headless Chromium."""

import json
import os
import re
import shutil
import struct
import subprocess
import uuid
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from services.coverage.calculation import CalculationOptions, calculate_and_store
from shared.db.models import Assignment
from tests.conftest import Services
from tests.schedcu.test_coverage_queries import NY, template_version

pytestmark = pytest.mark.integration

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def calculated_march(services: Services) -> tuple[uuid.UUID, uuid.UUID]:
    """March 2026 with a full roster, except nobody on Mid3 on the 9th and nobody at all on the 20th."""
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, *MARCH)
        session.execute(
            delete(Assignment).where(
                Assignment.version_id == version_id,
                ((Assignment.schedule_date == date(2026, 3, 9)) & (Assignment.role == "Mid3"))
                | (Assignment.schedule_date == date(2026, 3, 20)),
            )
        )
    calculation_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        assert calculate_and_store(session, version_id, calculation_id, CalculationOptions(tz=NY)) is not None
    return version_id, calculation_id


def run(services: Services, *args: str) -> str:
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    done = subprocess.run(schedcu_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_show_prints_one_line_per_date_role_and_hours_with_candidates_and_json_has_the_cells_of_a_date(
    services: Services,
) -> None:
    version_id, calculation_id = calculated_march(services)

    shown = run(services, "coverage", "show", str(version_id), "--all")
    assert f"calculation {calculation_id}" in shown
    assert "TEMPLATE layout, period 2026-03-01 .. 2026-03-31" in shown
    section = shown[shown.index("critical gaps: ") :].splitlines()
    lines = [line.split(maxsplit=3) for line in section[1:] if line.startswith("  2026-")]
    assert [line[0] for line in lines] == sorted(line[0] for line in lines)
    # nobody on Mid3 on the 9th: one line for all its worklists and windows, from 6 pm to 1 am
    (mid3,) = [line for line in lines if line[:2] == ["2026-03-09", "Mid3"]]
    assert mid3[2] == "18:00-01:00"
    assert mid3[3].startswith("uncovered: CPMC US, CPMC MR Neuro, ") and "Allen US" in mid3[3]
    after = section[section.index("  " + " ".join(mid3)) + 1 :]
    assert [line.split(".")[0].strip() for line in after[:3]] == ["1", "2", "3"]
    assert all("fills all its gaps; " in line for line in after[:3])
    # nobody at all on the 20th: a line per role, not per cell
    the_20th = [line[1] for line in lines if line[0] == "2026-03-20"]
    assert len(the_20th) == len(set(the_20th)) >= 4
    assert "ON1" in the_20th and "Mid3" in the_20th

    as_json = json.loads(run(services, "coverage", "show", str(version_id), "--json", "--date", "2026-03-09"))
    assert as_json["calculation_id"] == str(calculation_id)
    gaps_of_9th = as_json["summary"]["critical_gaps_by_date"]["2026-03-09"]
    mid3_cells = [c for c in as_json["cells"] if c["role"] == "Mid3"]
    assert mid3_cells and all(c["status"] == "UNCOVERED" and c["people"] == [] for c in mid3_cells)
    assert {(c["window"], c["worklist"]) for c in mid3_cells} <= {(g["window"], g["worklist"]) for g in gaps_of_9th}
    assert {c["schedule_date"] for c in as_json["cells"]} == {"2026-03-09"}

    one_day = run(services, "coverage", "show", str(version_id), "--date", "2026-03-20")
    count, _, _, *rows = one_day.split("cells on 2026-03-20:")[1].splitlines()
    assert int(count) == len(rows) > 0
    assert all(row.endswith(" UNCOVERED") for row in rows), "nobody is on call on the 20th"


# Appended to a copy of the report: writes each square's hover text into the DOM that Chromium dumps.
TIP_PROBE = (
    "<script>for (const td of document.querySelectorAll('td[data-w]')) {"
    " td.dataset.probeTip = window.coverageTip(td); }</script>"
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120, check=True)


def test_report_renders_in_chromium_with_one_cell_per_date_and_worklist(services: Services, tmp_path: Path) -> None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (Debian package `chromium`): the report cannot be rendered")
    version_id, calculation_id = calculated_march(services)
    page = tmp_path / "coverage.html"
    run(services, "coverage", "report", str(version_id), "--out", str(page))

    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|https?://""", html), "the page must load nothing"

    dom = chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    rendered = {tuple(c.split("|", 1)) for c in re.findall(r'data-cell="([^"]+)"', dom)}
    assert len(re.findall(r"data-cell=", dom)) == len(rendered)
    with services.engine.connect() as conn:
        expected = {
            (d.isoformat(), w)
            for d, w in conn.execute(
                text("SELECT DISTINCT schedule_date, worklist FROM calculation_cells WHERE calculation_id = :c"),
                {"c": calculation_id},
            )
        }
    assert rendered == expected
    assert len(expected) == 31 * 23  # every sample worklist is read every date
    the_20th = re.findall(r'data-cell="2026-03-20\|[^"]+" data-status="(\w+)"', dom)
    focusable = re.findall(r'data-cell="[^"]+"[^>]*tabindex="0" aria-label="([^"]+)"', dom)  # each square
    assert len(focusable) == len(expected) and "2026-03-20 CPMC US: UNCOVERED" in focusable  # takes focus
    assert len(the_20th) == 23 and set(the_20th) == {"UNCOVERED"}
    assert re.search(r'<details class="month-block" data-month="2026-03" open(?:="")?><summary>March 2026', dom)
    (mid3_row,) = re.findall(r'<tr data-gap="2026-03-09\|Mid3\|18:00-01:00">(.*?)</tr>', dom)
    assert "uncovered: CPMC US, CPMC MR Neuro" in mid3_row and mid3_row.count("<li>") == 3

    # the hover text, as the page's script writes it for a square
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", TIP_PROBE + "</body>"), encoding="utf-8")
    probed_dom = chromium(binary, tmp_path / "profile", "--dump-dom", probed.as_uri()).stdout
    tips = {k: unescape(t) for k, t in re.findall(r'data-cell="([^"]+)"[^>]*data-probe-tip="([^"]*)"', probed_dom)}
    assert len(tips) == 31 * 23
    us_on_the_9th = tips["2026-03-09|CPMC US"].splitlines()
    assert us_on_the_9th[0] == "Mon 2026-03-09 · CPMC US"
    assert any(line.endswith("— Mid3: nobody — UNCOVERED") for line in us_on_the_9th[1:])
    assert all(line.endswith(": nobody — UNCOVERED") for line in tips["2026-03-20|CPMC US"].splitlines()[1:])

    screenshot = tmp_path / "coverage.png"
    chromium(binary, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1600,1200", page.as_uri())
    assert png_size(screenshot) == (1600, 1200)
    assert screenshot.stat().st_size > 30_000, "the screenshot is nearly blank"
