"""Coverage rules (domain.md section 4) on small hand-made templates and rosters, expected results by hand."""

import json
from datetime import date, time

import pytest

from services.coverage.calculation import CalculationOptions
from shared.kernel.coverage_rules import (
    Assignment,
    Cell,
    CellStatus,
    Gap,
    Person,
    Specialty,
    WorklistSpecialty,
    calculate,
    effective_roles,
    worklist_specialties,
    worklist_specialty,
)
from shared.kernel.findings import Severity
from shared.kernel.roles import MID_3, MID_BODY, MID_C, MID_L, MID_NEURO, ON1, ON2, ON_BODY, ON_NEURO
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Responsibility, Variant, Window
from shared.settings import Settings

C, U, M = CellStatus.COVERED, CellStatus.UNCOVERED, CellStatus.SPECIALTY_MISMATCH
ND = CellStatus.NO_DATA
ERROR = Severity.ERROR

MON = date(2024, 6, 3)
FRI = date(2024, 6, 7)
SAT = date(2024, 6, 8)
NEXT_MON = date(2024, 6, 10)
JULY_4 = date(2024, 7, 4)  # a Thursday, configured as a holiday below


def window(
    sheet: str,
    category: Category,
    day: DayType | None,
    variant: Variant | None,
    hours: tuple[time, time],
    *marks: tuple[str, str],
) -> Window:
    return Window(
        sheet=sheet,
        category=category,
        day_type=day,
        variant=variant,
        start=hours[0],
        end=hours[1],
        responsibilities=tuple(Responsibility(worklist, role) for worklist, role in marks),
    )


ON_HOURS = (time(1), time(8))
ON_WD_NEURO = window(
    "ON Weekday Neuro 1 am - 8 am", Category.ON, DayType.WEEKDAY, Variant.NEURO, ON_HOURS,
    ("CPMC CT Neuro", ON1), ("CPMC CT Body", ON2),
)  # fmt: skip
ON_WD_BODY = window(
    "ON Weekday Body 1 am - 8 am", Category.ON, DayType.WEEKDAY, Variant.BODY, ON_HOURS,
    ("CPMC CT Neuro", ON_NEURO), ("CPMC CT Body", ON_BODY),
)  # fmt: skip
ON_WE_NEURO = window(
    "ON Weekend Neuro 1 am - 8 am", Category.ON, DayType.WEEKEND, Variant.NEURO, ON_HOURS,
    ("NYPLH Neuro MR", ON1),
)  # fmt: skip
MID_12_1 = window(
    "Mid  12am-1am", Category.MID, None, None, (time(0), time(1)),
    ("CHONY Neuro", ON1), ("NYPLH US", MID_3),
)  # fmt: skip
MID_WD_NEURO = window(
    "Mid Weekday Neuro 6 pm - 12 am", Category.MID, DayType.WEEKDAY, Variant.NEURO, (time(18), time(0)),
    ("CPMC CT Neuro", MID_C), ("CPMC CT Chest", MID_L), ("Allen DX Bone", MID_3),
)  # fmt: skip
MID_WD_BODY = window(
    "Mid Weekday Body 6 pm - 12 am", Category.MID, DayType.WEEKDAY, Variant.BODY, (time(18), time(0)),
    ("CPMC CT Neuro", MID_NEURO), ("CPMC CT Chest", MID_BODY), ("Allen DX Bone", MID_3),
)  # fmt: skip
MID_WE_10 = window(
    "Mid Weekend 10pm-Midnight", Category.MID, DayType.WEEKEND, None, (time(22), time(0)),
    ("CPMC CT Neuro", MID_C),
)  # fmt: skip

# people: 1-2 BOTH, 3-4 BODY_ONLY, 5-6 NEURO_ONLY
ANA = Person(1, "Ana Both", Specialty.BOTH)
BEN = Person(2, "Ben Both", Specialty.BOTH)
BOB = Person(3, "Bob Body", Specialty.BODY_ONLY)
BEA = Person(4, "Bea Body", Specialty.BODY_ONLY)
NED = Person(5, "Ned Neuro", Specialty.NEURO_ONLY)
NIA = Person(6, "Nia Neuro", Specialty.NEURO_ONLY)
PEOPLE = {p.id: p for p in (ANA, BEN, BOB, BEA, NED, NIA)}


def on(day: date, **roles: Person) -> list[Assignment]:
    """on(MON, ON1=ANA, Mid3=BEN): roles given by keyword (`Mid3`, `MidC`, ... are valid names)."""
    return [Assignment(day, role, person.id) for role, person in roles.items()]


def cell(day: date, w: Window, worklist: str, role: str, people: tuple[int, ...], status: CellStatus) -> Cell:
    return Cell(day, w.sheet, worklist, worklist.split()[0], role, people, status)


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


# --- the variant rule --------------------------------------------------------------------------------


def test_normal_night_uses_neuro_sheets_and_roles_as_written() -> None:
    todays = on(MON, ON1=ANA, ON2=BEN, Mid3=NED)
    assert effective_roles(Category.ON, todays, PEOPLE) == (
        Variant.NEURO,
        {ON1: (1,), ON2: (2,), MID_3: (5,)},
    )
    result = calculate([ON_WD_NEURO, ON_WD_BODY], MON, MON, todays, PEOPLE)
    assert result.cells == (
        cell(MON, ON_WD_NEURO, "CPMC CT Neuro", ON1, (1,), C),
        cell(MON, ON_WD_NEURO, "CPMC CT Body", ON2, (2,), C),
    )
    assert result.findings == ()


def test_body_only_on_on1_selects_body_sheet_and_reads_as_on_body() -> None:
    todays = on(MON, ON1=BOB, ON2=NED)
    assert effective_roles(Category.ON, todays, PEOPLE) == (
        Variant.BODY,
        {ON_BODY: (3,), ON_NEURO: (5,)},
    )
    result = calculate([ON_WD_NEURO, ON_WD_BODY], MON, MON, todays, PEOPLE)
    assert result.cells == (
        cell(MON, ON_WD_BODY, "CPMC CT Neuro", ON_NEURO, (5,), C),
        cell(MON, ON_WD_BODY, "CPMC CT Body", ON_BODY, (3,), C),
    )


def test_body_only_on_on2_becomes_on_body() -> None:
    todays = on(MON, ON1=ANA, ON2=BOB)
    assert effective_roles(Category.ON, todays, PEOPLE) == (
        Variant.BODY,
        {ON_NEURO: (1,), ON_BODY: (3,)},
    )
    result = calculate([ON_WD_NEURO, ON_WD_BODY], MON, MON, todays, PEOPLE)
    assert result.cells == (
        cell(MON, ON_WD_BODY, "CPMC CT Neuro", ON_NEURO, (1,), C),
        cell(MON, ON_WD_BODY, "CPMC CT Body", ON_BODY, (3,), C),
    )


def test_two_body_only_people_on1_is_on_body_and_neuro_worklists_mismatch() -> None:
    todays = on(MON, ON1=BOB, ON2=BEA)
    assert effective_roles(Category.ON, todays, PEOPLE) == (
        Variant.BODY,
        {ON_BODY: (3,), ON_NEURO: (4,)},
    )
    result = calculate([ON_WD_NEURO, ON_WD_BODY], MON, MON, todays, PEOPLE)
    assert result.cells == (
        cell(MON, ON_WD_BODY, "CPMC CT Neuro", ON_NEURO, (4,), M),
        cell(MON, ON_WD_BODY, "CPMC CT Body", ON_BODY, (3,), C),
    )


def test_several_people_on_one_role_share_its_effective_role() -> None:
    # ON1: Ana and Bob (BODY_ONLY) -> both ON Body; ON2: Ned -> ON Neuro
    todays = [*on(MON, ON1=ANA), *on(MON, ON1=BOB), *on(MON, ON2=NED)]
    assert effective_roles(Category.ON, todays, PEOPLE) == (
        Variant.BODY,
        {ON_BODY: (1, 3), ON_NEURO: (5,)},
    )


def test_mid_rule_midc_midl_become_body_neuro_and_mid3_stays() -> None:
    todays = on(MON, MidC=BOB, MidL=ANA, Mid3=NED, ON1=BEN)
    assert effective_roles(Category.MID, todays, PEOPLE) == (
        Variant.BODY,
        {MID_BODY: (3,), MID_NEURO: (1,), MID_3: (5,), ON1: (2,)},
    )
    # BODY_ONLY on MidL only: MidL is Mid Body, MidC is Mid Neuro
    assert effective_roles(Category.MID, on(MON, MidC=ANA, MidL=BOB), PEOPLE) == (
        Variant.BODY,
        {MID_NEURO: (1,), MID_BODY: (3,)},
    )
    # the ON variant is decided by ON1/ON2 only: Mid's BODY_ONLY person does not change it
    assert effective_roles(Category.ON, todays, PEOPLE)[0] is Variant.NEURO

    result = calculate([MID_WD_NEURO, MID_WD_BODY], MON, MON, todays, PEOPLE)
    assert result.cells == (
        cell(MON, MID_WD_BODY, "CPMC CT Neuro", MID_NEURO, (1,), C),
        cell(MON, MID_WD_BODY, "CPMC CT Chest", MID_BODY, (3,), C),
        cell(MON, MID_WD_BODY, "Allen DX Bone", MID_3, (5,), C),
    )


def test_sheet_without_variant_always_applies() -> None:
    template = [MID_12_1, MID_WE_10]
    assignments = [
        *on(MON, ON1=BOB, Mid3=ANA),  # ON Body night: the variant-less sheet still reads ON1 as written
        *on(SAT, Mid3=BEN, MidC=ANA, MidL=BEA),  # Mid Body night on a weekend
    ]
    result = calculate(template, MON, SAT, assignments, PEOPLE)
    tue, wed, thu = date(2024, 6, 4), date(2024, 6, 5), date(2024, 6, 6)
    assert result.cells == (
        cell(MON, MID_12_1, "CHONY Neuro", ON1, (3,), M),
        cell(MON, MID_12_1, "NYPLH US", MID_3, (1,), C),
        *(
            c
            for d in (tue, wed, thu, FRI)
            for c in (
                cell(d, MID_12_1, "CHONY Neuro", ON1, (), U),
                cell(d, MID_12_1, "NYPLH US", MID_3, (), U),
            )
        ),
        cell(SAT, MID_12_1, "CHONY Neuro", ON1, (), U),
        cell(SAT, MID_12_1, "NYPLH US", MID_3, (2,), C),
        # MidC is Mid Neuro tonight, but this sheet is written for MidC: Ana reads it
        cell(SAT, MID_WE_10, "CPMC CT Neuro", MID_C, (1,), C),
    )


def test_weekend_and_holiday_select_weekend_windows() -> None:
    thu, fri, sat = JULY_4, date(2024, 7, 5), date(2024, 7, 6)
    assignments = [*on(thu, ON1=ANA, ON2=BEN), *on(fri, ON1=ANA, ON2=BEN), *on(sat, ON1=ANA, ON2=BEN)]
    result = calculate([ON_WD_NEURO, ON_WE_NEURO], thu, sat, assignments, PEOPLE, holidays={JULY_4})
    assert result.cells == (
        cell(thu, ON_WE_NEURO, "NYPLH Neuro MR", ON1, (1,), C),
        cell(fri, ON_WD_NEURO, "CPMC CT Neuro", ON1, (1,), C),
        cell(fri, ON_WD_NEURO, "CPMC CT Body", ON2, (2,), C),
        cell(sat, ON_WE_NEURO, "NYPLH Neuro MR", ON1, (1,), C),
    )


def test_empty_amion_month_everything_uncovered() -> None:
    template = [ON_WD_NEURO, ON_WD_BODY, ON_WE_NEURO, MID_12_1, MID_WD_NEURO, MID_WD_BODY, MID_WE_10]
    result = calculate(template, date(2024, 6, 1), date(2024, 6, 30), [], PEOPLE)
    # June 2024: 20 weekdays x (2 ON + 2 Mid 12-1 + 3 Mid) + 10 weekend days x (1 ON + 2 Mid 12-1 + 1 Mid)
    assert len(result.cells) == 20 * 7 + 10 * 4 == 180
    assert {c.status for c in result.cells} == {U}
    assert all(c.people == () and c.mandatory for c in result.cells)
    assert result.summary.total == 180
    assert result.summary.by_status == {C: 0, U: 180, M: 0, ND: 0}
    assert result.summary.coverage_ratio == 0.0
    assert len(result.summary.critical_gaps) == 180
    assert codes(result) == ["MISSING_MIDC"] * 20


def test_neuro_only_person_on_body_worklist_is_mismatch() -> None:
    result = calculate([ON_WD_NEURO, ON_WD_BODY], MON, MON, on(MON, ON1=ANA, ON2=NED), PEOPLE)
    assert result.cells == (
        cell(MON, ON_WD_NEURO, "CPMC CT Neuro", ON1, (1,), C),
        cell(MON, ON_WD_NEURO, "CPMC CT Body", ON2, (5,), M),
    )


def test_one_reader_is_enough_when_several_on_the_role() -> None:
    assignments = [*on(MON, ON1=ANA, ON2=NED), *on(MON, ON2=BEN)]
    result = calculate([ON_WD_NEURO], MON, MON, assignments, PEOPLE)
    assert result.cells[1] == cell(MON, ON_WD_NEURO, "CPMC CT Body", ON2, (5, 2), C)


# --- worklist specialty ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("CPMC CT Neuro", WorklistSpecialty.NEURO),
        ("NYPLH Neuro MR", WorklistSpecialty.NEURO),
        ("Allen DX Bone", WorklistSpecialty.NEURO),
        ("CHONY Neuro", WorklistSpecialty.NEURO),
        ("CHONY Neuro ", WorklistSpecialty.NEURO),
        ("cpmc ct NEURO", WorklistSpecialty.NEURO),
        ("CPMC CT Chest", WorklistSpecialty.BODY),
        ("Allen DX Chest/Abd", WorklistSpecialty.BODY),
        ("NYPLH US", WorklistSpecialty.BODY),
        ("CPMC CT Body", WorklistSpecialty.BODY),
        ("CPMC CT Neurovascular", WorklistSpecialty.BODY),  # a word match, not a prefix match
    ],
)
def test_worklist_specialty(label: str, expected: WorklistSpecialty) -> None:
    assert worklist_specialty(label) is expected


def test_worklist_specialty_override_wins() -> None:
    overrides = {"CPMC CT Neuro": WorklistSpecialty.BODY, "NYPLH US": WorklistSpecialty.NEURO}
    assert worklist_specialty("CPMC CT Neuro", overrides) is WorklistSpecialty.BODY
    assert worklist_specialty("NYPLH US", overrides) is WorklistSpecialty.NEURO
    assert worklist_specialty("Allen DX Bone", overrides) is WorklistSpecialty.NEURO
    # calculate passes the table on: Bob (BODY_ONLY, ON1) may now read CHONY Neuro
    result = calculate([MID_12_1], MON, MON, on(MON, ON1=BOB), PEOPLE)
    assert result.cells[0].status is M
    overrides = {"CHONY Neuro": WorklistSpecialty.BODY}
    result = calculate([MID_12_1], MON, MON, on(MON, ON1=BOB), PEOPLE, specialty_overrides=overrides)
    assert result.cells[0] == cell(MON, MID_12_1, "CHONY Neuro", ON1, (3,), C)


def test_worklist_specialty_is_taken_from_the_body_sheets() -> None:
    body_on = window(
        "ON Weekday Body 1 am - 8 am", Category.ON, DayType.WEEKDAY, Variant.BODY, ON_HOURS,
        ("Odd Neuro Study", ON_BODY), ("NYPLH DX Chest/Abd", ON_NEURO), ("Split One", ON_BODY),
    )  # fmt: skip
    body_mid = window(
        "Mid Weekday Body 6 pm - 12 am", Category.MID, DayType.WEEKDAY, Variant.BODY, (time(18), time(0)),
        ("NYPLH DX Chest/Abd", MID_NEURO), ("Split One", MID_NEURO), ("Allen DX Bone", MID_3),
    )  # fmt: skip
    body_we = window(
        "Mid Weekend Body 5 pm - 12 am", Category.MID, DayType.WEEKEND, Variant.BODY, (time(17), time(0)),
        ("NYPLH DX Chest/Abd", MID_BODY),
    )  # fmt: skip
    neuro_only_sheet = window(
        "ON Weekday Neuro 1 am - 8 am", Category.ON, DayType.WEEKDAY, Variant.NEURO, ON_HOURS,
        ("Only Here Bone", ON1), ("Odd Neuro Study", ON1),
    )  # fmt: skip
    template = [body_on, body_mid, body_we, neuro_only_sheet]

    specialties, findings = worklist_specialties(template)
    assert specialties == {
        "Odd Neuro Study": WorklistSpecialty.BODY,  # read by ON Body: the Body sheet beats the label
        "NYPLH DX Chest/Abd": WorklistSpecialty.NEURO,  # two neuro marks against one body mark
        "Split One": WorklistSpecialty.BODY,  # one each: the label decides
        "Allen DX Bone": WorklistSpecialty.NEURO,  # Mid3 marks say nothing: the label decides
        "Only Here Bone": WorklistSpecialty.NEURO,  # in no Body sheet: the label decides
    }
    assert [(f.code, f.severity, f.location) for f in findings] == [
        ("WORKLIST_SPECIALTY_CONFLICT", Severity.INFO, "NYPLH DX Chest/Abd"),
        ("WORKLIST_SPECIALTY_CONFLICT", Severity.INFO, "Split One"),
    ]
    assert findings[0].text == (
        "The Body sheets disagree on NYPLH DX Chest/Abd: a body reader in Mid Weekend Body 5 pm - 12 am, "
        "a neuro reader in ON Weekday Body 1 am - 8 am, Mid Weekday Body 6 pm - 12 am; it is treated as NEURO."
    )
    # the settings table beats the Body sheets
    overridden, _ = worklist_specialties(template, {"Odd Neuro Study": WorklistSpecialty.NEURO})
    assert overridden["Odd Neuro Study"] is WorklistSpecialty.NEURO

    # Bob (BODY_ONLY) on ON1 is ON Body and may read "Odd Neuro Study", a body worklist by the Body sheet
    result = calculate([neuro_only_sheet, body_on], MON, MON, on(MON, ON1=BOB, ON2=ANA), PEOPLE)
    assert result.cells == (
        cell(MON, body_on, "Odd Neuro Study", ON_BODY, (3,), C),
        cell(MON, body_on, "NYPLH DX Chest/Abd", ON_NEURO, (1,), C),
        cell(MON, body_on, "Split One", ON_BODY, (3,), C),
    )


@pytest.mark.parametrize(
    "saturday",
    [date(2024, 3, 9), date(2024, 11, 2)],
    ids=["spring-forward: 1 am - 8 am lasts 6 h", "fall-back: 1 am - 8 am lasts 8 h"],
)
def test_dst_night_gives_one_cell_per_worklist_of_each_window(saturday: date) -> None:
    sunday = date.fromordinal(saturday.toordinal() + 1)
    template = [MID_WE_10, MID_12_1, ON_WE_NEURO]
    result = calculate(template, saturday, sunday, on(saturday, ON1=ANA, MidC=BEN, Mid3=NED), PEOPLE)
    assert result.cells == (
        cell(saturday, MID_WE_10, "CPMC CT Neuro", MID_C, (2,), C),
        cell(saturday, MID_12_1, "CHONY Neuro", ON1, (1,), C),
        cell(saturday, MID_12_1, "NYPLH US", MID_3, (5,), M),
        cell(saturday, ON_WE_NEURO, "NYPLH Neuro MR", ON1, (1,), C),
        cell(sunday, MID_WE_10, "CPMC CT Neuro", MID_C, (), U),
        cell(sunday, MID_12_1, "CHONY Neuro", ON1, (), U),
        cell(sunday, MID_12_1, "NYPLH US", MID_3, (), U),
        cell(sunday, ON_WE_NEURO, "NYPLH Neuro MR", ON1, (), U),
    )
    assert result.findings == ()


# --- summary -----------------------------------------------------------------------------------------


def test_summary_numbers() -> None:
    tue = date(2024, 6, 4)
    assignments = [*on(MON, ON1=BOB, ON2=BEA), *on(tue, ON1=ANA, ON2=BEN, Mid3=NED)]
    result = calculate([ON_WD_NEURO, ON_WD_BODY, MID_12_1], MON, tue, assignments, PEOPLE)
    assert result.cells == (
        cell(MON, ON_WD_BODY, "CPMC CT Neuro", ON_NEURO, (4,), M),
        cell(MON, ON_WD_BODY, "CPMC CT Body", ON_BODY, (3,), C),
        cell(MON, MID_12_1, "CHONY Neuro", ON1, (3,), M),
        cell(MON, MID_12_1, "NYPLH US", MID_3, (), U),
        cell(tue, ON_WD_NEURO, "CPMC CT Neuro", ON1, (1,), C),
        cell(tue, ON_WD_NEURO, "CPMC CT Body", ON2, (2,), C),
        cell(tue, MID_12_1, "CHONY Neuro", ON1, (1,), C),
        cell(tue, MID_12_1, "NYPLH US", MID_3, (5,), M),
    )
    s = result.summary
    assert s.total == 8
    assert s.by_status == {C: 4, U: 1, M: 3, ND: 0}
    assert s.coverage_ratio == 0.5
    assert s.critical_gaps == (
        Gap(MON, "ON Weekday Body 1 am - 8 am", "CPMC CT Neuro", ON_NEURO, M, ERROR),
        Gap(MON, "Mid  12am-1am", "CHONY Neuro", ON1, M, ERROR),
        Gap(MON, "Mid  12am-1am", "NYPLH US", MID_3, U, ERROR),
        Gap(tue, "Mid  12am-1am", "NYPLH US", MID_3, M, ERROR),
    )
    expected = {
        "total": 8,
        "by_status": {"COVERED": 4, "UNCOVERED": 1, "SPECIALTY_MISMATCH": 3, "NO_DATA": 0},
        "coverage_ratio": 0.5,
        "known_cells": 8,
        "unknown_cells": 0,
        "unknown_months": [],
        "by_hospital": {
            "CPMC": {"COVERED": 3, "UNCOVERED": 0, "SPECIALTY_MISMATCH": 1, "NO_DATA": 0},
            "CHONY": {"COVERED": 1, "UNCOVERED": 0, "SPECIALTY_MISMATCH": 1, "NO_DATA": 0},
            "NYPLH": {"COVERED": 0, "UNCOVERED": 1, "SPECIALTY_MISMATCH": 1, "NO_DATA": 0},
        },
        "by_role": {
            "ON Neuro": {"COVERED": 0, "UNCOVERED": 0, "SPECIALTY_MISMATCH": 1, "NO_DATA": 0},
            "ON Body": {"COVERED": 1, "UNCOVERED": 0, "SPECIALTY_MISMATCH": 0, "NO_DATA": 0},
            "ON1": {"COVERED": 2, "UNCOVERED": 0, "SPECIALTY_MISMATCH": 1, "NO_DATA": 0},
            "Mid3": {"COVERED": 0, "UNCOVERED": 1, "SPECIALTY_MISMATCH": 1, "NO_DATA": 0},
            "ON2": {"COVERED": 1, "UNCOVERED": 0, "SPECIALTY_MISMATCH": 0, "NO_DATA": 0},
        },
        "critical_gaps_total": 4,
        "critical_gaps_by_date": {
            "2024-06-03": [
                {
                    "window": "ON Weekday Body 1 am - 8 am",
                    "worklist": "CPMC CT Neuro",
                    "role": "ON Neuro",
                    "status": "SPECIALTY_MISMATCH",
                    "severity": "ERROR",
                },
                {
                    "window": "Mid  12am-1am",
                    "worklist": "CHONY Neuro",
                    "role": "ON1",
                    "status": "SPECIALTY_MISMATCH",
                    "severity": "ERROR",
                },
                {
                    "window": "Mid  12am-1am",
                    "worklist": "NYPLH US",
                    "role": "Mid3",
                    "status": "UNCOVERED",
                    "severity": "ERROR",
                },
            ],
            "2024-06-04": [
                {
                    "window": "Mid  12am-1am",
                    "worklist": "NYPLH US",
                    "role": "Mid3",
                    "status": "SPECIALTY_MISMATCH",
                    "severity": "ERROR",
                },
            ],
        },
    }
    assert s.to_dict() == expected
    assert json.loads(json.dumps(s.to_dict())) == expected


def test_no_cells_means_ratio_one() -> None:
    result = calculate([], MON, MON, [], PEOPLE)
    assert result.cells == ()
    assert result.summary.total == 0
    assert result.summary.coverage_ratio == 1.0
    assert result.summary.critical_gaps == ()


# --- extra checks ------------------------------------------------------------------------------------


def test_duplicate_assignment() -> None:
    assignments = [*on(MON, ON1=ANA), *on(MON, ON1=ANA), *on(MON, ON2=BEN)]
    result = calculate([ON_WD_NEURO], MON, MON, assignments, PEOPLE)
    assert result.cells[0].people == (1,)  # counted once for coverage
    [finding] = result.findings
    assert (finding.code, finding.severity, finding.location) == (
        "DUPLICATE_ASSIGNMENT",
        Severity.WARNING,
        "2024-06-03",
    )
    assert "Ana Both" in finding.text and "ON1" in finding.text


def test_missing_midc_on_weekdays_only_and_only_with_mid_windows() -> None:
    # Fri has MidC; Sat/Sun are weekend; Mon 10th has nobody on MidC; Thu July 4 is a holiday
    assignments = [*on(FRI, MidC=ANA), *on(NEXT_MON, MidL=BEN)]
    result = calculate([MID_WD_NEURO], FRI, NEXT_MON, assignments, PEOPLE)
    [finding] = result.findings
    assert (finding.code, finding.severity, finding.location) == ("MISSING_MIDC", Severity.WARNING, "2024-06-10")

    assert calculate([MID_WD_NEURO], JULY_4, JULY_4, [], PEOPLE, holidays={JULY_4}).findings == ()
    assert calculate([ON_WD_NEURO], NEXT_MON, NEXT_MON, [], PEOPLE).findings == ()


def test_double_booked_when_role_hours_overlap() -> None:
    template = [ON_WD_NEURO, MID_12_1, MID_WD_NEURO]
    # Mid3 (6 pm - 1 am) and ON1 (12 am - 8 am) overlap from 12 am to 1 am
    result = calculate(template, MON, MON, on(MON, Mid3=ANA, ON1=ANA, ON2=BEN, MidC=NED), PEOPLE)
    [finding] = result.findings
    assert (finding.code, finding.severity, finding.location) == ("DOUBLE_BOOKED", Severity.WARNING, "2024-06-03")
    assert "Ana Both" in finding.text and "Mid3" in finding.text and "ON1" in finding.text

    # MidC (6 pm - 12 am) then ON1 (12 am - 8 am): back to back, not double booked
    result = calculate(template, MON, MON, on(MON, MidC=ANA, ON1=ANA, ON2=BEN), PEOPLE)
    assert result.findings == ()


def test_unknown_person_is_ignored_and_reported_once() -> None:
    assignments = [Assignment(MON, ON1, 99), Assignment(date(2024, 6, 4), ON1, 99)]
    result = calculate([ON_WD_NEURO], MON, MON, assignments, PEOPLE)
    assert result.cells[0].status is U
    assert codes(result) == ["UNKNOWN_PERSON"]


def test_settings_table_of_worklist_specialties_reaches_the_calculation() -> None:
    settings = Settings(worklist_specialties={"CHONY Neuro": "BODY"}, holidays=[JULY_4], time_zone="America/Chicago")
    options = CalculationOptions.from_settings(settings)
    assert options.specialty_overrides == {"CHONY Neuro": WorklistSpecialty.BODY}
    assert options.holidays == frozenset({JULY_4}) and str(options.tz) == "America/Chicago"
    result = calculate([MID_12_1], MON, MON, on(MON, ON1=BOB), PEOPLE, specialty_overrides=options.specialty_overrides)
    assert result.cells[0] == cell(MON, MID_12_1, "CHONY Neuro", ON1, (3,), C)
