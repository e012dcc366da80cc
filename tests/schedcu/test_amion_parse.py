"""`schedcu amion parse FILE [--json]` as a user runs it: a subprocess on the saved samples."""

import json
import subprocess
from pathlib import Path

import pytest

from schedcu.runtime.processes import schedcu_command
from tests.amion_scraper.test_grid import _nonempty_day_cells
from tests.support.real_data import AMION_SAMPLES


def _sample(name: str) -> Path:
    path = AMION_SAMPLES / name
    return path


def _parse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(schedcu_command("amion", "parse", *args), capture_output=True, text=True, timeout=60)


def test_grid_sample_gives_a_row_per_non_empty_day_cell() -> None:
    path = _sample("call-grid-2010-04.html")
    done = _parse(str(path), "--json")
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["messages"] == []
    assert len(parsed["rows"]) == len(_nonempty_day_cells(path.read_bytes().decode("iso-8859-1")))
    assert parsed["rows"][0] == {
        "date": "2010-04-01", "label": "Hospitalist 1 7a-7p", "name": "Thomas", "start": "0700", "end": "1900",
        "note": None,
    }  # fmt: skip
    assert any(r["note"] == "Wilsons dist pt to team members" for r in parsed["rows"])


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("report-2015-07-medicine-619.txt",
         ["2015-07-01", "ACE 1 Resident 12a-11a Post Call", "Johnson, John", "0000", "1100"]),
        ("report-2015-07-medicine-625c.txt", ["2015-07-01", "MICU", "Johnson, John", "0700", "0700"]),
        ("report-2015-07-neuro-619.txt", ["2015-07-01", "Ward SAR", "Johnson", "1800", "0600"]),
        ("report-2015-07-neuro-625c.txt", ["2015-07-01", "NICU", "Johnson", "0700", "0700"]),
    ],
)  # fmt: skip
def test_report_samples(name: str, first: list[str]) -> None:
    done = _parse(str(_sample(name)), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert len(rows) == 2
    assert [rows[0][k] for k in ("date", "label", "name", "start", "end")] == first


def test_text_output_lists_rows_and_counts_them() -> None:
    done = _parse(str(_sample("report-2015-07-neuro-619.txt")))
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "2015-07-01  1800-0600  Ward SAR                         Johnson",
        "2015-07-01  1800-0600  Amb SAR                          Jones",
    ]
    assert "2 rows" in done.stderr


def test_an_unrecognised_page_exits_1_with_the_error(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>We have moved</p></body></html>", encoding="utf-8")
    done = _parse(str(page), "--json", "--month", "2026-03")
    assert done.returncode == 1
    (message,) = json.loads(done.stdout)["messages"]
    assert message["code"] == "LAYOUT_UNRECOGNIZED" and message["severity"] == "ERROR"
    assert "March 2026" in message["text"]

    text = _parse(str(page))
    assert text.returncode == 1
    assert "ERROR   LAYOUT_UNRECOGNIZED" in text.stderr
