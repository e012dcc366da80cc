"""Phase 1 before the database: fetch, parse, validate and expand a request under the workers' settings."""

import base64
import uuid
from datetime import date, datetime, time

import pytest

from schedcu.testing.sample_template import sample_template
from schedcu.views.ods_writer import write_ods
from services.ods_importer.expansion import ShiftInstance
from services.ods_importer.handlers import prepare
from services.ods_importer.workbook import Layout
from shared.kernel.contracts import ImportTemplate, Period, TemplateSource
from shared.kernel.findings import Severity
from shared.settings import Settings

FRIDAY_JULY_3 = date(2026, 7, 3)


def command(template: bytes, start: date, end: date) -> ImportTemplate:
    return ImportTemplate(
        workflow_id=uuid.uuid4(),
        request_id="test",
        attempt=1,
        group="test",
        period=Period(start=start, end=end),
        template=TemplateSource(filename="t.ods", inline_base64=base64.b64encode(template).decode()),
        requested_by="test",
    )


def windows_on(result_shifts: list[ShiftInstance], day: date) -> set[str | None]:
    return {s.window for s in result_shifts if s.schedule_date == day}


def test_holidays_come_from_the_schedcu_holidays_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDCU_HOLIDAYS", '["2026-07-03"]')
    with_holiday = prepare(command(sample_template(), FRIDAY_JULY_3, FRIDAY_JULY_3), Settings())
    without = prepare(command(sample_template(), FRIDAY_JULY_3, FRIDAY_JULY_3), Settings(holidays=[]))
    assert with_holiday.layout is Layout.TEMPLATE
    assert "ON Weekend Neuro 1 am - 8 am" in windows_on(with_holiday.shifts, FRIDAY_JULY_3)
    assert "ON Weekday Neuro 1 am - 8 am" not in windows_on(with_holiday.shifts, FRIDAY_JULY_3)
    assert "ON Weekday Neuro 1 am - 8 am" in windows_on(without.shifts, FRIDAY_JULY_3)


def test_time_zone_comes_from_settings() -> None:
    result = prepare(
        command(sample_template(), date(2026, 3, 2), date(2026, 3, 2)), Settings(time_zone="America/Chicago")
    )
    on1 = next(s for s in result.shifts if s.window == "ON Weekday Neuro 1 am - 8 am" and s.role == "ON1")
    assert on1.starts_at.utcoffset() is not None and on1.starts_at.utcoffset().total_seconds() == -6 * 3600
    assert on1.starts_at.replace(tzinfo=None) == datetime(2026, 3, 3, 1)


def test_warnings_are_kept_with_a_result_that_can_be_stored() -> None:
    template = write_ods([("ON 1 am - 8 am", [["", "ON1"], ["CPMC US", "x"], ["Allen US"]])])
    result = prepare(command(template, date(2026, 3, 2), date(2026, 3, 3)), Settings())
    assert result.layout is Layout.TEMPLATE
    assert [(f.severity, f.code) for f in result.findings] == [(Severity.WARNING, "UNMARKED_WORKLIST")]
    assert len(result.shifts) == 2


def test_flat_workbook_is_prepared_as_flat_shifts() -> None:
    rows = [
        [
            "Date",
            "ShiftType",
            "Hospital",
            "StudyType",
            "SpecialtyConstraint",
            "DesiredCoverage",
            "Mandatory",
            "Start",
            "End",
        ],
        [date(2026, 3, 2), "ON1", "CPMC", "CT", "Neuro", 1, True, time(17), time(8)],
        [date(2026, 4, 2), "ON1", "CPMC", "CT", "Neuro", 1, True, time(17), time(8)],
    ]
    result = prepare(command(write_ods([("Shifts", rows)]), date(2026, 3, 1), date(2026, 3, 31)), Settings())
    assert result.layout is Layout.FLAT
    assert [(s.window, s.role, s.hospital) for s in result.shifts] == [(None, "ON1", "CPMC")]
    assert [f.code for f in result.findings] == ["OUTSIDE_PERIOD"]


def test_any_error_means_nothing_to_store() -> None:
    template = write_ods([("ON 1 am - 8 am", [["", "ON1", "Fellow"], ["CPMC US", "x"]])])
    result = prepare(command(template, date(2026, 3, 2), date(2026, 3, 3)), Settings())
    assert result.layout is None
    assert [f.code for f in result.findings] == ["UNKNOWN_ROLE"]


def test_file_over_the_size_limit_setting() -> None:
    result = prepare(command(sample_template(), date(2026, 3, 2), date(2026, 3, 3)), Settings(max_template_bytes=1_000))
    assert (result.layout, [f.code for f in result.findings]) == (None, ["FILE_TOO_LARGE"])


@pytest.mark.parametrize(
    "setting, code",
    [
        ({"max_template_sheets": 11}, "TOO_MANY_SHEETS"),
        ({"max_template_rows": 20}, "TOO_MANY_ROWS"),
        ({"max_template_columns": 3}, "TOO_MANY_COLUMNS"),
        ({"max_template_decompressed_bytes": 10_000}, "DECOMPRESSION_BOMB"),
    ],
)
def test_reader_limits_come_from_settings(setting: dict[str, int], code: str) -> None:
    result = prepare(command(sample_template(), date(2026, 3, 2), date(2026, 3, 3)), Settings(**setting))
    assert [f.code for f in result.findings] == [code]
