import hashlib
import json
from datetime import time

import pytest

from schedcu.testing.sample_template import sample_template
from schedcu.views.ods_writer import write_ods
from services.ods_importer.ods_reader import OdsLimits, Sheet, iter_sheets
from services.ods_importer.template import parse_window_name
from services.ods_importer.workbook import Layout, ParsedWorkbook, parse_sheets, parse_workbook
from shared.kernel.findings import Finding, Severity, has_errors
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Variant, Window
from tests.support.real_data import REAL_TEMPLATE

MID, ON = Category.MID, Category.ON
WEEKDAY, WEEKEND = DayType.WEEKDAY, DayType.WEEKEND
BODY, NEURO = Variant.BODY, Variant.NEURO

# sheet: (category, day type, variant, start, end, crosses_midnight, starts_next_day, worklist count)
REAL_WINDOWS = {
    "Mid Weekday Body 5 - 6 pm": (MID, WEEKDAY, BODY, time(17), time(18), False, False, 22),
    "Mid Weekday Neuro 5 pm - 6 pm": (MID, WEEKDAY, NEURO, time(17), time(18), False, False, 22),
    "Mid Weekday Neuro 6 pm - 12 am": (MID, WEEKDAY, NEURO, time(18), time(0), True, False, 23),
    "Mid Weekday Body 6 pm - 12 am": (MID, WEEKDAY, BODY, time(18), time(0), True, False, 23),
    "Mid Weekend Body 5 pm - 12 am": (MID, WEEKEND, BODY, time(17), time(0), True, False, 22),
    "Mid Weekend Neuro 5 pm - 12 am": (MID, WEEKEND, NEURO, time(17), time(0), True, False, 23),
    "Mid Weekend 10pm-Midnight": (MID, WEEKEND, None, time(22), time(0), True, False, 22),
    "Mid  12am-1am": (MID, None, None, time(0), time(1), False, True, 23),
    "ON Weekday Neuro 1 am - 8 am": (ON, WEEKDAY, NEURO, time(1), time(8), False, True, 22),
    "ON Weekday Body 1 am - 8 am": (ON, WEEKDAY, BODY, time(1), time(8), False, True, 22),
    "ON Weekend Neuro 1 am - 8 am": (ON, WEEKEND, NEURO, time(1), time(8), False, True, 22),
    "ON Weekend Body 1 am - 8 am": (ON, WEEKEND, BODY, time(1), time(8), False, True, 22),
}

# every worklist of four sheets, and the role that reads it
REAL_RESPONSIBILITIES = {
    "Mid  12am-1am": {
        "CPMC CT Neuro": "ON1",
        "CPMC CT Chest": "ON1",
        "CPMC CT Body": "ON1",
        "CPMC US": "Mid3",
        "CPMC MR Neuro": "Mid3",
        "CPMC MR Body": "ON1",
        "CPMC DX Chest/Abd": "ON2",
        "CPMC DX Bone": "ON2",
        "CHONY Neuro": "ON1",
        "Allen CT Neuro": "Mid3",
        "Allen CT Body": "Mid3",
        "Allen US": "Mid3",
        "Allen MR Neuro": "Mid3",
        "Allen MR Body": "Mid3",
        "Allen DX Chest/Abd": "Mid3",
        "Allen DX Bone": "Mid3",
        "NYPLH Neuro CT": "ON2",
        "NYPLH Body CT": "ON2",
        "NYPLH US": "ON2",
        "NYPLH Neuro MR": "ON2",
        "NYPLH Body MR": "ON2",
        "NYPLH DX Chest/Abd": "ON2",
        "NYPLH DX Bone": "ON2",
    },
    "Mid Weekend Neuro 5 pm - 12 am": {
        "CPMC CT Neuro": "MidC",
        "CPMC CT Chest": "MidC",
        "CPMC CT Body": "MidC",
        "CPMC US": "MidC",
        "CPMC MR Neuro": "MidC",
        "CPMC MR Body": "MidC",
        "CPMC DX Chest/Abd": "Mid3",
        "CPMC DX Bone": "Mid3",
        "CHONY Neuro": "MidC",
        "Allen CT Neuro": "Mid3",
        "Allen CT Body": "Mid3",
        "Allen US": "Mid3",
        "Allen MR Neuro": "Mid3",
        "Allen MR Body": "Mid3",
        "Allen DX Chest/Abd": "Mid3",
        "Allen DX Bone": "Mid3",
        "NYPLH Neuro CT": "MidL",
        "NYPLH Body CT": "MidL",
        "NYPLH US": "MidL",
        "NYPLH Neuro MR": "MidL",
        "NYPLH Body MR": "MidL",
        "NYPLH DX Chest/Abd": "MidL",
        "NYPLH DX Bone": "MidL",
    },
    "ON Weekday Body 1 am - 8 am": {
        "CPMC CT Neuro": "ON Neuro",
        "CPMC CT Body": "ON Body",
        "CPMC US": "ON Body",
        "CPMC MR Neuro": "ON Neuro",
        "CPMC MR Body": "ON Body",
        "CPMC DX Chest/Abd": "ON Body",
        "CPMC DX Bone": "ON Neuro",
        "CHONY Neuro": "ON Neuro",
        "Allen CT Neuro": "ON Neuro",
        "Allen CT Body": "ON Body",
        "Allen US": "ON Body",
        "Allen MR Neuro": "ON Neuro",
        "Allen MR Body": "ON Body",
        "Allen DX Chest/Abd": "ON Body",
        "Allen DX Bone": "ON Neuro",
        "NYPLH Neuro CT": "ON Neuro",
        "NYPLH Body CT": "ON Body",
        "NYPLH US": "ON Body",
        "NYPLH Neuro MR": "ON Neuro",
        "NYPLH Body MR": "ON Body",
        "NYPLH DX Chest/Abd": "ON Body",
        "NYPLH DX Bone": "ON Neuro",
    },
    "Mid Weekday Body 6 pm - 12 am": {
        "CPMC CT Neuro": "Mid3",
        "CPMC CT Chest": "Mid Body",
        "CPMC CT Body": "Mid Body",
        "CPMC US": "Mid Body",
        "CPMC MR Neuro": "Mid3",
        "CPMC MR Body": "Mid Body",
        "CPMC DX Chest/Abd": "Mid3",
        "CPMC DX Bone": "Mid Neuro",
        "CHONY Neuro": "Mid Neuro",
        "Allen CT Neuro": "Mid3",
        "Allen CT Body": "Mid Body",
        "Allen US": "Mid Body",
        "Allen MR Neuro": "Mid3",
        "Allen MR Body": "Mid Body",
        "Allen DX Chest/Abd": "Mid3",
        "Allen DX Bone": "Mid3",
        "NYPLH Neuro CT": "Mid Neuro",
        "NYPLH Body CT": "Mid Body",
        "NYPLH US": "Mid Body",
        "NYPLH Neuro MR": "Mid Neuro",
        "NYPLH Body MR": "Mid Body",
        "NYPLH DX Chest/Abd": "Mid Neuro",
        "NYPLH DX Bone": "Mid Neuro",
    },
}

# a few worklists of the other sheets
REAL_SPOT_CHECKS = {
    "Mid Weekday Body 5 - 6 pm": {"CPMC CT Neuro": "Mid Neuro", "CPMC US": "Mid Body", "NYPLH DX Bone": "Mid Neuro"},
    "Mid Weekday Neuro 5 pm - 6 pm": {"CPMC CT Neuro": "MidC", "Allen CT Body": "MidL", "NYPLH US": "MidL"},
    "Mid Weekday Neuro 6 pm - 12 am": {"CPMC CT Chest": "MidC", "CPMC US": "Mid3", "CPMC DX Bone": "MidL"},
    "Mid Weekend Body 5 pm - 12 am": {"CPMC CT Neuro": "Mid3", "CPMC CT Chest": "Mid Body", "NYPLH US": "Mid Body"},
    "Mid Weekend 10pm-Midnight": {"CPMC CT Neuro": "Mid3", "CHONY Neuro": "Mid3", "Allen CT Neuro": "MidL"},
    "ON Weekday Neuro 1 am - 8 am": {"CPMC CT Body": "ON1", "CHONY Neuro": "ON1", "Allen US": "ON2"},
    "ON Weekend Neuro 1 am - 8 am": {"CPMC MR Body": "ON1", "NYPLH Neuro MR": "ON2", "Allen DX Bone": "ON2"},
    "ON Weekend Body 1 am - 8 am": {"CPMC US": "ON Body", "CPMC DX Bone": "ON Neuro", "NYPLH Body MR": "ON Body"},
}


@pytest.fixture(scope="module")
def real() -> ParsedWorkbook:
    return parse_workbook(REAL_TEMPLATE.read_bytes())


def window(parsed: ParsedWorkbook, sheet: str) -> Window:
    return next(w for w in parsed.windows if w.sheet == sheet)


def mapping(w: Window) -> dict[str, str]:
    return {r.worklist: r.role for r in w.responsibilities}


def codes(parsed: ParsedWorkbook) -> list[str]:
    return [f.code for f in parsed.findings]


def only(parsed: ParsedWorkbook, code: str) -> Finding:
    found = [f for f in parsed.findings if f.code == code]
    assert len(found) == 1, parsed.findings
    return found[0]


def parse_rows(rows: list[list[str]], name: str = "ON Weekday Neuro 1 am - 8 am") -> ParsedWorkbook:
    return parse_sheets([Sheet(name, rows)])


# --- the real template -----------------------------------------------------------------------------------


def test_real_template_has_twelve_windows_and_no_error(real: ParsedWorkbook) -> None:
    assert not has_errors(real.findings), real.findings
    assert [w.sheet for w in real.windows] == list(REAL_WINDOWS)


@pytest.mark.parametrize("sheet", list(REAL_WINDOWS))
def test_real_template_window(real: ParsedWorkbook, sheet: str) -> None:
    w = window(real, sheet)
    category, kind, variant, start, end, crosses, next_day, count = REAL_WINDOWS[sheet]
    assert (w.category, w.day_type, w.variant, w.start, w.end) == (category, kind, variant, start, end)
    assert (w.crosses_midnight, w.starts_next_day) == (crosses, next_day)
    assert len(w.responsibilities) == count


@pytest.mark.parametrize("sheet", list(REAL_RESPONSIBILITIES))
def test_real_template_every_worklist_role(real: ParsedWorkbook, sheet: str) -> None:
    assert mapping(window(real, sheet)) == REAL_RESPONSIBILITIES[sheet]
    assert [r.worklist for r in window(real, sheet).responsibilities] == list(REAL_RESPONSIBILITIES[sheet])


@pytest.mark.parametrize("sheet", list(REAL_SPOT_CHECKS))
def test_real_template_spot_checked_roles(real: ParsedWorkbook, sheet: str) -> None:
    assert REAL_SPOT_CHECKS[sheet].items() <= mapping(window(real, sheet)).items()


def test_real_template_findings_are_the_two_known_warnings(real: ParsedWorkbook) -> None:
    assert sorted(codes(real)) == ["EXTRA_BLOCK", "UNMARKED_WORKLIST"]


def test_sample_template_matches_the_real_one(real: ParsedWorkbook) -> None:
    sample = parse_workbook(sample_template())
    assert not has_errors(sample.findings)
    assert sample.windows == real.windows


# sha256 of the sample template as the reader saw it when the hand-written writer made it (commit f360ad1):
# its sheets' cells (JSON of [name, rows] per sheet) and the parsed model (repr of the ParsedWorkbook)
SAMPLE_SHEETS_SHA256 = "2d8552d46c37d6dab1b406f3765a2a6588073666e03abdfeadd4a189aa827fa2"
SAMPLE_MODEL_SHA256 = "ea0ee05cb0a4f5cb55bf114955abbd3c7c8d8e7fc11cabf35fb5bcd53e365ed8"


def test_sample_template_written_with_ezodf_parses_exactly_as_the_hand_written_one_did() -> None:
    data = sample_template()
    sheets = [[sheet.name, sheet.rows] for sheet in iter_sheets(data)]
    assert hashlib.sha256(json.dumps(sheets).encode()).hexdigest() == SAMPLE_SHEETS_SHA256
    assert hashlib.sha256(repr(parse_workbook(data)).encode()).hexdigest() == SAMPLE_MODEL_SHA256


def test_sample_template_parses_without_error() -> None:
    sample = parse_workbook(sample_template())
    assert not has_errors(sample.findings)
    assert len(sample.windows) == 12


# --- quirks, one test each -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Mid Weekday Body 5 - 6 pm", (MID, WEEKDAY, BODY, time(17), time(18))),
        ("Mid Weekday Neuro 5 pm - 6 pm", (MID, WEEKDAY, NEURO, time(17), time(18))),
        ("Mid Weekday Neuro 6 pm - 12 am", (MID, WEEKDAY, NEURO, time(18), time(0))),
        ("Mid Weekend 10pm-Midnight", (MID, WEEKEND, None, time(22), time(0))),
        ("Mid  12am-1am", (MID, None, None, time(0), time(1))),
        ("ON Weekday Neuro 1 am - 8 am", (ON, WEEKDAY, NEURO, time(1), time(8))),
        ("  on   WEEKEND  body 1AM-8AM ", (ON, WEEKEND, BODY, time(1), time(8))),
        ("Mid Weekday 10 - 12 am", (MID, WEEKDAY, None, time(22), time(0))),
        ("Mid Weekday 5:30 pm - 6:15 pm", (MID, WEEKDAY, None, time(17, 30), time(18, 15))),
    ],
)
def test_sheet_names_breaking_the_pattern_still_name_windows(name: str, expected: tuple[object, ...]) -> None:
    parsed = parse_window_name(name)
    assert parsed is not None
    assert (parsed.category, parsed.day_type, parsed.variant, parsed.start, parsed.end) == expected


@pytest.mark.parametrize(
    "name", ["Sheet1", "Mid Weekday Body", "Day Weekday 8 am - 5 pm", "Mid 13 pm - 2 am", "Mid 5 pm - 5 pm"]
)
def test_unparseable_sheet_name_is_an_error_and_the_sheet_is_skipped(name: str) -> None:
    parsed = parse_sheets([Sheet(name, [["", "ON1"], ["CPMC US", "x"]]), Sheet("ON 1 am - 8 am", [["", "ON1"]])])
    finding = only(parsed, "INVALID_SHEET_NAME")
    assert (finding.severity, finding.location) == (Severity.ERROR, name)
    assert [w.sheet for w in parsed.windows] == ["ON 1 am - 8 am"]


def test_role_headers_mid3_and_mid_3_are_the_same_role() -> None:
    parsed = parse_rows([["", "Mid3", "mid 3"], ["CPMC US", "x"], ["Allen US", "", "x"]], "Mid 12am-1am")
    assert mapping(parsed.windows[0]) == {"CPMC US": "Mid3", "Allen US": "Mid3"}
    assert parsed.findings == ()


def test_role_header_mid_3_in_the_real_template(real: ParsedWorkbook) -> None:
    assert "Mid3" in window(real, "Mid Weekday Body 6 pm - 12 am").roles  # header written `Mid 3`


def test_marks_x_and_capital_x_both_count() -> None:
    parsed = parse_rows([["", "ON1", "ON2"], ["CPMC US", "x"], ["Allen US", "", "X"], ["NYPLH US", " x "]])
    assert mapping(parsed.windows[0]) == {"CPMC US": "ON1", "Allen US": "ON2", "NYPLH US": "ON1"}
    assert parsed.findings == ()


def test_worklist_with_trailing_space_is_trimmed() -> None:
    parsed = parse_workbook(write_ods([("ON 1 am - 8 am", [["", "ON1"], ["CHONY Neuro ", "x"]])]))
    assert mapping(parsed.windows[0]) == {"CHONY Neuro": "ON1"}


def test_worklist_with_trailing_space_in_the_real_template(real: ParsedWorkbook) -> None:
    assert all("CHONY Neuro" in mapping(w) for w in real.windows if w.sheet != "Mid Weekend Body 5 pm - 12 am")


def test_repeated_empty_cells_do_not_shift_columns() -> None:
    rows = [["", "MidC", "MidL", "Mid3"], ["CPMC US", "", "", "x"], ["Allen US", "", "x"]]
    data = write_ods([("Mid Weekday Neuro 6 pm - 12 am", rows)])
    assert mapping(parse_workbook(data).windows[0]) == {"CPMC US": "Mid3", "Allen US": "MidL"}


def test_unmarked_worklist_warns_that_nobody_reads_it(real: ParsedWorkbook) -> None:
    finding = only(real, "UNMARKED_WORKLIST")
    assert finding.severity is Severity.WARNING
    assert finding.location == "Mid Weekend Body 5 pm - 12 am!A10"
    assert "CHONY Neuro" in finding.text
    assert "CHONY Neuro" not in mapping(window(real, "Mid Weekend Body 5 pm - 12 am"))


def test_extra_block_right_of_the_roles_is_a_warning_at_column_u(real: ParsedWorkbook) -> None:
    finding = only(real, "EXTRA_BLOCK")
    assert finding.severity is Severity.WARNING
    assert finding.location == "Mid Weekend Neuro 5 pm - 12 am!U1:X24"
    assert window(real, "Mid Weekend Neuro 5 pm - 12 am").roles == ("MidC", "Mid3", "MidL")  # not merged


def test_extra_block_beyond_column_z_is_located_with_two_letters() -> None:
    rows = [["", "ON1"] + [""] * 25 + ["ON2"], ["CPMC US", "x"] + [""] * 26 + ["x"]]
    finding = only(parse_rows(rows), "EXTRA_BLOCK")
    assert finding.location == "ON Weekday Neuro 1 am - 8 am!AB1:AC2"


def test_worklist_in_some_sheets_only_is_normal(real: ParsedWorkbook) -> None:
    having = [w.sheet for w in real.windows if "CPMC CT Chest" in mapping(w)]
    assert having == [
        "Mid Weekday Neuro 6 pm - 12 am",
        "Mid Weekday Body 6 pm - 12 am",
        "Mid Weekend Body 5 pm - 12 am",
        "Mid Weekend Neuro 5 pm - 12 am",
        "Mid  12am-1am",
    ]
    assert not any("CPMC CT Chest" in f.text for f in real.findings)


# --- other findings --------------------------------------------------------------------------------------


def test_unknown_role_header() -> None:
    finding = only(parse_rows([["", "ON1", "Fellow"], ["CPMC US", "x"]]), "UNKNOWN_ROLE")
    assert (finding.severity, finding.location) == (Severity.ERROR, "ON Weekday Neuro 1 am - 8 am!C1")


def test_no_role_in_row_one() -> None:
    parsed = parse_rows([[""], ["CPMC US", "x"]])
    assert only(parsed, "NO_HEADER_ROW").severity is Severity.ERROR
    assert "NO_VALID_SHEETS" in codes(parsed)


def test_no_role_in_row_one_names_no_cell_that_holds_text() -> None:
    data = write_ods([("ON 1 am - 8 am", [["Worklists", "", "", ""], ["CPMC US", "", "", "x"]])])
    finding = only(parse_workbook(data), "NO_HEADER_ROW")
    assert finding.text == (
        "Row 1 names no role: every cell right of A1 is empty. Row 1 names the roles above their marks."
    )
    assert finding.location == "ON 1 am - 8 am!A1"


# --- role columns after inserted empty columns -----------------------------------------------------------


def test_empty_column_inserted_before_the_roles_is_skipped() -> None:
    rows = [["", "", "ON1", "ON2"], ["CPMC US", "", "x"], ["Allen US", "", "", "X"], ["NYPLH US", "", "x"]]
    parsed = parse_workbook(write_ods([("ON Weekday Neuro 1 am - 8 am", rows)]))
    assert mapping(parsed.windows[0]) == {"CPMC US": "ON1", "Allen US": "ON2", "NYPLH US": "ON1"}
    assert parsed.windows[0].roles == ("ON1", "ON2")
    assert parsed.findings == ()


def test_role_columns_after_two_empty_columns_locate_their_messages_at_the_right_cells() -> None:
    rows = [
        ["", "", "", "MidC", "Fellow", "MidL", "", "MidC"],
        ["CPMC US", "", "", "x"],
        ["Allen US", "", "", "", "", "X", "", "x"],
        ["NYPLH US", "", "", "x", "", "maybe"],
    ]
    parsed = parse_workbook(write_ods([("Mid Weekend 10pm-Midnight", rows)]))
    assert [(f.code, f.location) for f in parsed.findings] == [
        ("UNKNOWN_ROLE", "Mid Weekend 10pm-Midnight!E1"),
        ("UNEXPECTED_CELL", "Mid Weekend 10pm-Midnight!F4"),
        ("EXTRA_BLOCK", "Mid Weekend 10pm-Midnight!H1:H3"),
    ]
    assert "'Fellow'" in parsed.findings[0].text
    assert mapping(parsed.windows[0]) == {"CPMC US": "MidC", "Allen US": "MidL", "NYPLH US": "MidC"}


def test_mark_under_an_inserted_empty_column_is_ignored_with_a_warning_at_its_cell() -> None:
    rows = [["", "", "ON1", "ON2"], ["CPMC US", "x", "", "x"], ["Allen US", "x"]]
    parsed = parse_workbook(write_ods([("ON Weekday Neuro 1 am - 8 am", rows)]))
    assert [(f.severity, f.code, f.location) for f in parsed.findings] == [
        (Severity.WARNING, "UNEXPECTED_CELL", "ON Weekday Neuro 1 am - 8 am!B2"),
        (Severity.WARNING, "UNEXPECTED_CELL", "ON Weekday Neuro 1 am - 8 am!B3"),
        (Severity.WARNING, "UNMARKED_WORKLIST", "ON Weekday Neuro 1 am - 8 am!A3"),
    ]
    assert parsed.findings[0].text == "'x' is in a column without a role in row 1; it is ignored."
    assert mapping(parsed.windows[0]) == {"CPMC US": "ON2"}


def test_real_template_with_an_inserted_empty_column_reads_the_same(real: ParsedWorkbook) -> None:
    sheets = iter_sheets(REAL_TEMPLATE.read_bytes())
    shifted = [(sheet.name, [[*row[:1], "", *row[1:]] for row in sheet.rows]) for sheet in sheets]
    parsed = parse_workbook(write_ods(shifted))
    assert parsed.windows == real.windows
    assert [(f.code, f.location) for f in parsed.findings] == [
        ("UNMARKED_WORKLIST", "Mid Weekend Body 5 pm - 12 am!A10"),
        ("EXTRA_BLOCK", "Mid Weekend Neuro 5 pm - 12 am!V1:Y24"),
    ]


def test_two_marks_in_a_row() -> None:
    finding = only(parse_rows([["", "ON1", "ON2"], ["CPMC US", "x", "X"]]), "MULTIPLE_ROLES_MARKED")
    assert (finding.severity, finding.location) == (Severity.ERROR, "ON Weekday Neuro 1 am - 8 am!A2")


def test_cell_that_is_not_a_mark() -> None:
    parsed = parse_rows([["", "ON1", "ON2"], ["CPMC US", "x", "maybe"]])
    finding = only(parsed, "UNEXPECTED_CELL")
    assert (finding.severity, finding.location) == (Severity.WARNING, "ON Weekday Neuro 1 am - 8 am!C2")
    assert mapping(parsed.windows[0]) == {"CPMC US": "ON1"}


def test_duplicate_worklist_in_one_sheet() -> None:
    parsed = parse_rows([["", "ON1", "ON2"], ["CPMC US", "x"], ["CPMC US ", "", "x"]])
    assert only(parsed, "DUPLICATE_WORKLIST").location == "ON Weekday Neuro 1 am - 8 am!A3"


def test_workbook_in_neither_layout_is_one_error_saying_what_was_expected() -> None:
    parsed = parse_sheets([Sheet("Notes", [["hello"]]), Sheet("Sheet2")])
    assert (parsed.layout, parsed.windows, parsed.shifts) == (None, (), ())
    (finding,) = parsed.findings
    assert (finding.severity, finding.code) == (Severity.ERROR, "UNKNOWN_LAYOUT")
    assert "'Notes', 'Sheet2'" in finding.text
    assert "'Mid Weekday Body 5 pm - 6 pm'" in finding.text  # the template layout, by example
    assert "Date, ShiftType, Hospital, StudyType, SpecialtyConstraint, DesiredCoverage" in finding.text  # flat


def test_workbook_without_sheets_is_in_no_layout() -> None:
    assert codes(parse_sheets([])) == ["UNKNOWN_LAYOUT"]


def test_template_whose_window_sheets_all_fail_has_no_valid_sheets() -> None:
    parsed = parse_rows([["just a title"]])
    assert parsed.layout is Layout.TEMPLATE
    assert codes(parsed) == ["NO_HEADER_ROW", "NO_VALID_SHEETS"]


def test_overlong_sheet_name_is_an_invalid_sheet_name() -> None:
    name = "Mid " + " " * 300 + "12am-1am"
    parsed = parse_sheets([Sheet(name, [["", "ON1"], ["CPMC US", "x"]]), Sheet("ON 1 am - 8 am", [["", "ON1"]])])
    assert only(parsed, "INVALID_SHEET_NAME").location == name[:200]


def test_overlong_worklist_is_an_error_at_its_cell() -> None:
    parsed = parse_rows([["", "ON1"], ["CPMC US", "x"], ["CPMC " + "x" * 300, "x"], ["X" * 120 + " US", "x"]])
    assert [(f.code, f.location) for f in parsed.findings] == [
        ("VALUE_TOO_LONG", "ON Weekday Neuro 1 am - 8 am!A3"),
        ("VALUE_TOO_LONG", "ON Weekday Neuro 1 am - 8 am!A4"),
    ]
    assert mapping(parsed.windows[0]) == {"CPMC US": "ON1"}


def test_every_problem_is_collected_not_only_the_first() -> None:
    parsed = parse_sheets(
        [
            Sheet("ON Weekday Neuro 1 am - 8 am", [["", "ON1", "Fellow"], ["CPMC US", "x", "x"], ["Allen US", "x"]]),
            Sheet("Bad name", [["", "ON1"]]),
            Sheet("ON Weekend Neuro 1 am - 8 am", [["", "ON1", "ON2"], ["CPMC US"], ["CPMC US", "x"]]),
        ]
    )
    assert [(f.severity, f.code, f.location) for f in parsed.findings] == [
        (Severity.ERROR, "UNKNOWN_ROLE", "ON Weekday Neuro 1 am - 8 am!C1"),
        (Severity.ERROR, "MULTIPLE_ROLES_MARKED", "ON Weekday Neuro 1 am - 8 am!A2"),
        (Severity.ERROR, "INVALID_SHEET_NAME", "Bad name"),
        (Severity.WARNING, "UNMARKED_WORKLIST", "ON Weekend Neuro 1 am - 8 am!A2"),
        (Severity.ERROR, "DUPLICATE_WORKLIST", "ON Weekend Neuro 1 am - 8 am!A3"),
    ]
    assert all(f.text for f in parsed.findings)


def test_unreadable_file_becomes_one_error_finding() -> None:
    parsed = parse_workbook(b"not an ods")
    assert parsed.windows == ()
    assert [(f.severity, f.code) for f in parsed.findings] == [(Severity.ERROR, "NOT_AN_ODS")]


def test_limits_are_passed_to_the_reader() -> None:
    parsed = parse_workbook(sample_template(), OdsLimits(max_sheets=3))
    assert codes(parsed) == ["TOO_MANY_SHEETS"]
