"""`schedcu ods check FILE [--json]`, run as an operator runs it: a separate process."""

import json
import subprocess
import sys
from datetime import date, time
from pathlib import Path
from typing import Any

from schedcu.views.ods_writer import write_ods
from tests.support.real_data import REAL_TEMPLATE


def check(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedcu", "ods", "check", str(path), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_json(path: Path) -> tuple[int, dict[str, Any]]:
    done = check(path, "--json")
    return done.returncode, json.loads(done.stdout)


def test_real_template_json_lists_every_window_and_worklist_role() -> None:
    status, view = check_json(REAL_TEMPLATE)
    assert status == 0
    assert (view["layout"], view["ok"], view["counts"]) == ("TEMPLATE", True, {"ERROR": 0, "WARNING": 2, "INFO": 0})
    assert len(view["sheets"]) == 12
    night = next(s for s in view["sheets"] if s["sheet"] == "ON Weekday Body 1 am - 8 am")
    assert night["window"] == {
        "category": "ON",
        "day_type": "WEEKDAY",
        "variant": "Body",
        "start": "01:00",
        "end": "08:00",
        "crosses_midnight": False,
        "starts_next_day": True,
    }
    assert night["worklists"]["CPMC CT Neuro"] == "ON Neuro"
    assert night["worklists"]["NYPLH Body MR"] == "ON Body"
    assert len(night["worklists"]) == 22
    every_day = next(s for s in view["sheets"] if s["sheet"] == "Mid  12am-1am")
    assert (every_day["window"]["day_type"], every_day["window"]["variant"]) == (None, None)
    assert {(m["severity"], m["code"], m["location"]) for m in view["messages"]} == {
        ("WARNING", "UNMARKED_WORKLIST", "Mid Weekend Body 5 pm - 12 am!A10"),
        ("WARNING", "EXTRA_BLOCK", "Mid Weekend Neuro 5 pm - 12 am!U1:X24"),
    }


def test_real_template_text_shows_windows_roles_worklists_and_messages() -> None:
    done = check(REAL_TEMPLATE)
    assert done.returncode == 0
    out = done.stdout
    assert out.startswith("cuSchedNormalized.ods: template layout, 12 windows, 0 errors, 2 warnings")
    assert (
        "Mid Weekend 10pm-Midnight\n  window: Mid, weekends and holidays, no variant, 22:00-00:00 (crosses midnight)"
        in out
    )
    assert "  roles: ON Neuro, ON Body" in out
    assert "  CHONY Neuro" in out
    assert "WARNING EXTRA_BLOCK [Mid Weekend Neuro 5 pm - 12 am!U1:X24]" in out


def test_broken_template_exits_1_and_lists_every_error_with_its_cell(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ods"
    broken.write_bytes(
        write_ods(
            [
                ("ON Weekday Neuro 1 am - 8 am", [["", "ON1", "Fellow"], ["CPMC US", "x", "x"]]),
                ("Notes", [["hello"]]),
            ]
        )
    )
    status, view = check_json(broken)
    assert (status, view["ok"]) == (1, False)
    assert [(m["severity"], m["code"], m["location"]) for m in view["messages"]] == [
        ("ERROR", "UNKNOWN_ROLE", "ON Weekday Neuro 1 am - 8 am!C1"),
        ("ERROR", "MULTIPLE_ROLES_MARKED", "ON Weekday Neuro 1 am - 8 am!A2"),
        ("ERROR", "INVALID_SHEET_NAME", "Notes"),
    ]
    text = check(broken)
    assert text.returncode == 1
    assert (
        "ERROR   UNKNOWN_ROLE [ON Weekday Neuro 1 am - 8 am!C1]: Role header 'Fellow' is not a known role."
        in text.stdout
    )


def test_file_that_is_no_ods_exits_1(tmp_path: Path) -> None:
    fake = tmp_path / "book.ods"
    fake.write_bytes(b"PK\x03\x04 truncated")
    done = check(fake)
    assert done.returncode == 1
    assert "TRUNCATED_FILE" in done.stdout


def test_flat_layout_prints_its_shifts_summary(tmp_path: Path) -> None:
    book = tmp_path / "flat.ods"
    header = ["Date", "ShiftType", "Hospital", "StudyType", "SpecialtyConstraint", "RequiredStaffing", "Mandatory"]
    rows = [
        [*header, "Start", "End"],
        [date(2026, 3, 2), "ON1", "CPMC", "CT", "Neuro", 1, True, time(17), time(8)],
        [date(2026, 3, 3), "Mid 3", "Allen", "US", "Body", 2, False, time(17), time(23)],
    ]
    book.write_bytes(write_ods([("Shifts", rows)]))
    status, view = check_json(book)
    assert (status, view["layout"], view["sheets"]) == (0, "FLAT", [])
    assert view["shifts"] == {
        "count": 2,
        "first_date": "2026-03-02",
        "last_date": "2026-03-03",
        "by_role": {"Mid3": 1, "ON1": 1},
        "by_hospital": {"Allen": 1, "CPMC": 1},
        "mandatory": 1,
    }
    assert "flat layout, 2 shifts" in check(book).stdout
