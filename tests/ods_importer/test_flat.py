"""The flat layout: one row per dated shift, detected without being told."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schedcu.views.ods_writer import Cell, write_ods
from services.ods_importer.expansion import ShiftInstance, expand_flat
from services.ods_importer.flat import FlatRow
from services.ods_importer.ods_reader import Sheet
from services.ods_importer.workbook import Layout, ParsedWorkbook, parse_sheets, parse_workbook
from shared.kernel.findings import Severity

NEW_YORK = ZoneInfo("America/New_York")
HEADER: list[Cell] = [
    "Date",
    "ShiftType",
    "Hospital",
    "StudyType",
    "SpecialtyConstraint",
    "DesiredCoverage",
    "Mandatory",
    "Start",
    "End",
]


def flat(*rows: list[Cell], header: list[Cell] = HEADER, name: str = "Shifts") -> ParsedWorkbook:
    return parse_workbook(write_ods([(name, [header, *rows])]))


def only_shift(parsed: ParsedWorkbook) -> FlatRow:
    assert not [f for f in parsed.findings if f.severity is Severity.ERROR], parsed.findings
    (shift,) = parsed.shifts
    return shift


def codes_at(parsed: ParsedWorkbook) -> list[tuple[str, str | None]]:
    return [(f.code, f.location) for f in parsed.findings]


def test_flat_rows_with_ods_dates_times_and_numbers() -> None:
    parsed = flat([date(2026, 3, 2), "ON1", "CPMC", "CT Neuro", "Neuro", 2, True, time(1), time(8)])
    assert parsed.layout is Layout.FLAT
    assert parsed.windows == ()
    assert only_shift(parsed) == FlatRow(
        schedule_date=date(2026, 3, 2),
        role="ON1",
        hospital="CPMC",
        study_type="CT Neuro",
        specialty_constraint="NEURO",
        desired_coverage=2,
        mandatory=True,
        start=time(1),
        end=time(8),
        location="Shifts!A2",
    )


def test_flat_rows_with_text_dates_and_times() -> None:
    shift = only_shift(flat(["2026-03-02", "Mid Body", "Allen", "US", "body", "1", "no", "5 pm", "24:00"]))
    assert (shift.schedule_date, shift.start, shift.end) == (date(2026, 3, 2), time(17), time(0))
    assert (shift.specialty_constraint, shift.mandatory) == ("BODY", False)


def test_header_names_are_matched_loosely_and_required_staffing_is_desired_coverage() -> None:
    header: list[Cell] = [
        "date",
        "Shift Type",
        "HOSPITAL",
        "study_type",
        "Specialty",
        "Required Staffing",
        "Start Time",
        "end",
    ]
    shift = only_shift(flat(["2026-03-02", "ON2", "NYPLH", "MR", "", 3, "17:00", "08:00"], header=header))
    assert (shift.role, shift.hospital, shift.study_type, shift.desired_coverage) == ("ON2", "NYPLH", "MR", 3)
    assert (shift.specialty_constraint, shift.mandatory) == (None, True)  # empty and absent: the defaults


def test_header_below_title_rows_and_columns_in_any_order() -> None:
    parsed = parse_workbook(
        write_ods(
            [
                (
                    "Rota",
                    [
                        ["March rota"],
                        [],
                        ["End", "Start", "ShiftType", "Date"],
                        ["08:00", "01:00", "ON1", "2026-03-02"],
                    ],
                )
            ]
        )
    )
    shift = only_shift(parsed)
    assert (shift.start, shift.end, shift.location) == (time(1), time(8), "Rota!A4")


def test_shift_type_naming_a_role_is_normalised_else_kept_as_written() -> None:
    parsed = flat(
        ["2026-03-02", "Mid 3", "", "", "", "", "", "17:00", "23:00"],
        ["2026-03-02", "  Body   Fellow ", "", "", "", "", "", "17:00", "23:00"],
    )
    assert [s.role for s in parsed.shifts] == ["Mid3", "Body Fellow"]


def test_invalid_date_is_an_error_at_its_cell_and_the_row_yields_nothing() -> None:
    parsed = flat(
        ["03/02/2026", "ON1", "", "", "", "", "", "01:00", "08:00"],
        ["2026-02-30", "ON1", "", "", "", "", "", "01:00", "08:00"],
        ["2026-03-02", "ON1", "", "", "", "", "", "01:00", "08:00"],
    )
    assert codes_at(parsed) == [("INVALID_DATE", "Shifts!A2"), ("INVALID_DATE", "Shifts!A3")]
    assert parsed.findings[0].severity is Severity.ERROR
    assert "'03/02/2026'" in parsed.findings[0].text and "YYYY-MM-DD" in parsed.findings[0].text
    assert [s.location for s in parsed.shifts] == ["Shifts!A4"]


def test_every_bad_cell_of_a_row_is_reported_at_its_cell() -> None:
    parsed = flat(["2026-03-02", "", "", "", "Cardiac", 0, "maybe", "25:00", "8 am"])
    assert codes_at(parsed) == [
        ("MISSING_VALUE", "Shifts!B2"),
        ("INVALID_VALUE", "Shifts!E2"),
        ("INVALID_NUMBER", "Shifts!F2"),
        ("INVALID_VALUE", "Shifts!G2"),
        ("INVALID_TIME", "Shifts!H2"),
        ("NO_SHIFTS", None),
    ]
    assert all(f.severity is Severity.ERROR for f in parsed.findings)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("17:00", time(17)),
        ("5:30 pm", time(17, 30)),
        ("12 am", time(0)),
        ("12pm", time(12)),
        ("07:15:30", time(7, 15, 30)),
    ],
)
def test_times_in_text(text: str, expected: time) -> None:
    assert only_shift(flat(["2026-03-02", "ON1", "", "", "", "", "", text, "08:00"])).start == expected


def test_missing_required_column_is_an_error_naming_the_expected_header() -> None:
    parsed = flat(["2026-03-02", "ON1", "CPMC"], header=["Date", "ShiftType", "Hospital"])
    finding = next(f for f in parsed.findings if f.code == "MISSING_COLUMN")
    assert (finding.severity, finding.location) == (Severity.ERROR, "Shifts!A1")
    assert "Start, End" in finding.text
    assert parsed.shifts == ()


def test_rows_with_text_only_outside_the_flat_columns_are_no_shifts() -> None:
    header: list[Cell] = ["Date", "ShiftType", "Start", "End", "Notes"]
    parsed = flat(["2026-03-02", "ON1", "01:00", "08:00"], ["", "", "", "", "call Dr A"], header=header)
    assert [f.code for f in parsed.findings] == ["UNKNOWN_COLUMN"]
    assert len(parsed.shifts) == 1


def test_duplicate_and_unknown_columns() -> None:
    parsed = flat(
        ["2026-03-02", "ON1", "01:00", "08:00", 2, "x"], header=["Date", "Role", "Start", "End", "Coverage", "Notes"]
    )
    assert codes_at(parsed) == [("UNKNOWN_COLUMN", "Shifts!F1")]
    assert parsed.findings[0].severity is Severity.INFO
    parsed = flat(["2026-03-02", "ON1", "01:00", "08:00", "ON2"], header=["Date", "ShiftType", "Start", "End", "Shift"])
    assert ("DUPLICATE_COLUMN", "Shifts!E1") in codes_at(parsed)
    assert parsed.shifts == ()


def test_other_sheets_of_a_flat_workbook() -> None:
    parsed = parse_sheets(
        [
            Sheet("Notes", [["read me"]]),
            Sheet("Empty"),
            Sheet("Shifts", [["Date", "ShiftType", "Start", "End"], ["2026-03-02", "ON1", "01:00", "08:00"]]),
            Sheet("More", [["Date", "ShiftType", "Start", "End"], ["2026-03-03", "ON1", "01:00", "08:00"]]),
        ]
    )
    assert parsed.layout is Layout.FLAT
    assert codes_at(parsed) == [("IGNORED_SHEET", "Notes")]
    assert parsed.findings[0].severity is Severity.WARNING
    assert [s.schedule_date.day for s in parsed.shifts] == [2, 3]


def test_overlong_values_are_refused() -> None:
    parsed = flat(["2026-03-02", "R" * 31, "H" * 101, "", "", "", "", "01:00", "08:00"])
    assert codes_at(parsed)[:2] == [("INVALID_VALUE", "Shifts!B2"), ("INVALID_VALUE", "Shifts!C2")]


# --- expansion of flat rows ------------------------------------------------------------------------------


BASE_SHIFT = FlatRow(
    schedule_date=date(2026, 3, 2),
    role="ON1",
    hospital="CPMC",
    study_type="CT",
    specialty_constraint=None,
    desired_coverage=1,
    mandatory=True,
    start=time(1),
    end=time(8),
    location="Shifts!A2",
)


def shift_on(day: date, start: time, end: time, **changes: Any) -> FlatRow:
    return replace(BASE_SHIFT, schedule_date=day, start=start, end=end, **changes)


def hours(instance: ShiftInstance) -> float:
    return (instance.ends_at.astimezone(UTC) - instance.starts_at.astimezone(UTC)) / timedelta(hours=1)


def test_flat_expansion_keeps_every_column_and_has_no_window() -> None:
    row = shift_on(
        date(2026, 3, 2), time(17), time(23), specialty_constraint="BODY", desired_coverage=2, mandatory=False
    )
    (instance,), findings = expand_flat([row], date(2026, 3, 1), date(2026, 3, 31), NEW_YORK)
    assert findings == []
    assert instance.window is None
    assert (instance.role, instance.hospital, instance.study_type) == ("ON1", "CPMC", "CT")
    assert (instance.specialty_constraint, instance.desired_coverage, instance.mandatory) == ("BODY", 2, False)
    assert instance.starts_at == datetime(2026, 3, 2, 17, tzinfo=NEW_YORK)
    assert instance.ends_at == datetime(2026, 3, 2, 23, tzinfo=NEW_YORK)


def test_flat_end_at_or_before_start_is_the_next_day() -> None:
    rows = [shift_on(date(2026, 3, 2), time(17), time(8)), shift_on(date(2026, 3, 2), time(8), time(8))]
    (overnight, whole_day), _ = expand_flat(rows, date(2026, 3, 1), date(2026, 3, 31), NEW_YORK)
    assert overnight.ends_at == datetime(2026, 3, 3, 8, tzinfo=NEW_YORK)
    assert hours(whole_day) == 24


def test_flat_overnight_shift_on_the_dst_nights() -> None:
    spring, fall = date(2026, 3, 7), date(2026, 10, 31)
    rows = [shift_on(spring, time(22), time(8)), shift_on(fall, time(22), time(8))]
    instances, _ = expand_flat(rows, date(2026, 1, 1), date(2026, 12, 31), NEW_YORK)
    assert [hours(i) for i in instances] == [9, 11]


def test_flat_rows_outside_the_period_are_ignored_with_one_warning_counting_them() -> None:
    rows = [shift_on(date(2026, 2, 28), time(1), time(8)), shift_on(date(2026, 3, 1), time(1), time(8))]
    rows += [shift_on(date(2026, 4, 1), time(1), time(8))] * 3
    instances, findings = expand_flat(rows, date(2026, 3, 1), date(2026, 3, 31), NEW_YORK)
    assert [i.schedule_date for i in instances] == [date(2026, 3, 1)]
    (finding,) = findings
    assert (finding.severity, finding.code) == (Severity.WARNING, "OUTSIDE_PERIOD")
    assert finding.text.startswith("4 shift row(s)")


def test_flat_rows_all_outside_the_period_are_an_error() -> None:
    _, findings = expand_flat(
        [shift_on(date(2026, 4, 1), time(1), time(8))], date(2026, 3, 1), date(2026, 3, 31), NEW_YORK
    )
    assert [(f.severity, f.code) for f in findings] == [
        (Severity.WARNING, "OUTSIDE_PERIOD"),
        (Severity.ERROR, "NO_SHIFTS_IN_PERIOD"),
    ]
