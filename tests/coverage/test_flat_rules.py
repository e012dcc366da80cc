"""Coverage of the flat layout on small hand-made shift lists and rosters, expected results by hand."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.coverage.flat_rules import FlatShift, calculate_flat
from shared.kernel.coverage_rules import Assignment, Cell, CellStatus, Gap, Person, Specialty, WorklistSpecialty
from shared.kernel.findings import Severity
from shared.kernel.roles import MID_C, ON1, ON2

NY = ZoneInfo("America/New_York")
FULL, PARTIAL, U, M = CellStatus.FULL, CellStatus.PARTIAL, CellStatus.UNCOVERED, CellStatus.SPECIALTY_MISMATCH
ND = CellStatus.NO_DATA
BODY, NEURO = WorklistSpecialty.BODY, WorklistSpecialty.NEURO
ERROR, WARNING = Severity.ERROR, Severity.WARNING

MON = date(2024, 6, 3)
TUE = date(2024, 6, 4)

ANA = Person(1, "Ana Both", Specialty.BOTH)
BEN = Person(2, "Ben Both", Specialty.BOTH)
BOB = Person(3, "Bob Body", Specialty.BODY_ONLY)
BEA = Person(4, "Bea Body", Specialty.BODY_ONLY)
NED = Person(5, "Ned Neuro", Specialty.NEURO_ONLY)
PEOPLE = {p.id: p for p in (ANA, BEN, BOB, BEA, NED)}


def shift(
    day: date,
    role: str,
    worklist: str,
    hours: tuple[int, int],
    desired: int = 1,
    mandatory: bool = True,
    constraint: WorklistSpecialty | None = None,
) -> FlatShift:
    """Local hours on `day`; an end at or before the start is on the next day."""
    hospital, study_type = worklist.split(" ", 1)
    starts_at = datetime.combine(day, time(hours[0]), NY)
    ends_day = day + timedelta(days=1) if hours[1] <= hours[0] else day
    return FlatShift(
        schedule_date=day,
        role=role,
        hospital=hospital,
        study_type=study_type,
        starts_at=starts_at,
        ends_at=datetime.combine(ends_day, time(hours[1]), NY),
        desired_coverage=desired,
        mandatory=mandatory,
        specialty_constraint=constraint,
    )


def on(day: date, role: str, *people: Person) -> list[Assignment]:
    return [Assignment(day, role, p.id) for p in people]


def cell(s: FlatShift, window: str, people: tuple[int, ...], status: CellStatus) -> Cell:
    return Cell(s.schedule_date, window, s.worklist, s.hospital, s.role, people, status, s.mandatory)


def test_full_partial_uncovered_by_distinct_people_against_desired_coverage() -> None:
    two_needed = shift(MON, ON1, "CPMC CT Body", (22, 8), desired=2)
    one_needed = shift(MON, ON2, "CPMC CT Neuro", (22, 8))
    nobody = shift(MON, MID_C, "Allen US", (17, 23))
    # Ana twice on ON1 is one person: two are wanted, so PARTIAL
    assignments = [*on(MON, ON1, ANA, ANA), *on(MON, ON2, BEN, NED)]
    result = calculate_flat([two_needed, one_needed, nobody], MON, MON, assignments, PEOPLE, NY)
    assert result.cells == (
        cell(two_needed, "ON1 22:00-08:00", (1,), PARTIAL),
        cell(one_needed, "ON2 22:00-08:00", (2, 5), FULL),
        cell(nobody, "MidC 17:00-23:00", (), U),
    )
    assert [(f.code, f.location) for f in result.findings] == [
        ("DUPLICATE_ASSIGNMENT", "2024-06-03"),
        ("MISSING_MIDC", "2024-06-03"),  # a MidC shift exists, nobody is on MidC
    ]
    s = result.summary
    assert (s.total, s.coverage_ratio) == (3, 1 / 3)
    assert s.by_status == {FULL: 1, PARTIAL: 1, U: 1, M: 0, ND: 0}
    assert s.by_hospital == {
        "CPMC": {FULL: 1, PARTIAL: 1, U: 0, M: 0, ND: 0},
        "Allen": {FULL: 0, PARTIAL: 0, U: 1, M: 0, ND: 0},
    }
    assert s.critical_gaps == (Gap(MON, "MidC 17:00-23:00", "Allen US", MID_C, U, ERROR),)
    assert s.to_dict()["by_status"] == {"FULL": 1, "PARTIAL": 1, "UNCOVERED": 1, "SPECIALTY_MISMATCH": 0, "NO_DATA": 0}


def test_specialty_constraint_is_checked_per_person() -> None:
    neuro_two = shift(MON, ON1, "CPMC CT Neuro", (22, 8), desired=2, constraint=NEURO)
    neuro_one = shift(MON, ON2, "NYPLH Neuro MR", (22, 8), constraint=NEURO)
    body_one = shift(MON, ON2, "NYPLH Body CT", (22, 8), constraint=BODY)
    # ON1: Bob (BODY_ONLY) does not count, Ana does -> 1 of 2; ON2: Bea (BODY_ONLY) alone
    assignments = [*on(MON, ON1, BOB, ANA), *on(MON, ON2, BEA)]
    result = calculate_flat([neuro_two, neuro_one, body_one], MON, MON, assignments, PEOPLE, NY)
    assert result.cells == (
        cell(neuro_two, "ON1 22:00-08:00", (3, 1), PARTIAL),
        cell(neuro_one, "ON2 22:00-08:00", (4,), M),
        cell(body_one, "ON2 22:00-08:00", (4,), FULL),
    )
    assert [(f.code, f.severity) for f in result.findings] == [("SPECIALTY_CONSTRAINT", WARNING)] * 2
    assert result.findings[0].text == (
        "Bob Body (BODY_ONLY) is on ON1 on 2024-06-03 but may not read CPMC CT Neuro (NEURO); not counted."
    )
    assert "Bea Body (BODY_ONLY) is on ON2" in result.findings[1].text
    assert result.summary.critical_gaps == (Gap(MON, "ON2 22:00-08:00", "NYPLH Neuro MR", ON2, M, ERROR),)


def test_mandatory_gaps_are_errors_optional_ones_are_not_critical() -> None:
    mandatory = shift(MON, ON1, "CPMC CT Body", (22, 8))
    optional = shift(MON, ON2, "CPMC US", (22, 8), mandatory=False)
    optional_neuro = shift(MON, MID_C, "Allen MR Neuro", (17, 23), mandatory=False, constraint=NEURO)
    result = calculate_flat([mandatory, optional, optional_neuro], MON, MON, on(MON, MID_C, BOB), PEOPLE, NY)
    assert [c.status for c in result.cells] == [U, U, M]
    assert result.summary.critical_gaps == (
        Gap(MON, "ON1 22:00-08:00", "CPMC CT Body", ON1, U, ERROR),
        Gap(MON, "MidC 17:00-23:00", "Allen MR Neuro", MID_C, M, WARNING),
    )
    assert result.summary.to_dict()["critical_gaps_by_date"] == {
        "2024-06-03": [
            {"window": "ON1 22:00-08:00", "worklist": "CPMC CT Body", "role": "ON1", "status": "UNCOVERED",
             "severity": "ERROR"},
            {"window": "MidC 17:00-23:00", "worklist": "Allen MR Neuro", "role": "MidC",
             "status": "SPECIALTY_MISMATCH", "severity": "WARNING"},
        ]
    }  # fmt: skip


def test_dst_nights_keep_one_cell_per_shift_and_local_hours() -> None:
    spring, fall = date(2024, 3, 9), date(2024, 11, 2)
    shifts = [shift(spring, ON1, "CPMC CT Body", (22, 8)), shift(fall, ON1, "CPMC CT Body", (22, 8))]
    assert [s.ends_at.astimezone(UTC) - s.starts_at.astimezone(UTC) for s in shifts] == [
        timedelta(hours=9),
        timedelta(hours=11),
    ]
    result = calculate_flat(shifts, spring, fall, on(spring, ON1, ANA), PEOPLE, NY)
    assert result.cells == (
        cell(shifts[0], "ON1 22:00-08:00", (1,), FULL),
        cell(shifts[1], "ON1 22:00-08:00", (), U),
    )


def test_double_booked_by_real_instants_and_missing_midc_on_weekdays() -> None:
    shifts = [
        shift(MON, MID_C, "CPMC CT Body", (17, 23)),
        shift(MON, ON1, "CPMC CT Neuro", (22, 8)),
        shift(MON, ON2, "CPMC US", (23, 8)),
        shift(TUE, ON1, "CPMC CT Neuro", (22, 8)),
    ]
    # Mon: Ana on MidC (17-23) and ON1 (22-08) overlap; Ben on MidC (17-23) and ON2 (23-08) only touch
    assignments = [*on(MON, MID_C, ANA, BEN), *on(MON, ON1, ANA), *on(MON, ON2, BEN), *on(TUE, ON1, BEN)]
    result = calculate_flat(shifts, MON, TUE, assignments, PEOPLE, NY)
    assert [(f.code, f.location) for f in result.findings] == [
        ("DOUBLE_BOOKED", "2024-06-03"),
        ("MISSING_MIDC", "2024-06-04"),
    ]
    assert result.findings[0].text == (
        "Ana Both has overlapping roles MidC 17:00-23:00 (template) and ON1 22:00-08:00 (template) on 2024-06-03."
    )


def test_empty_amion_month_flat_everything_uncovered() -> None:
    june = [date(2024, 6, d) for d in range(1, 31)]
    shifts = [s for d in june for s in (shift(d, ON1, "CPMC CT Body", (22, 8)), shift(d, ON2, "CPMC US", (22, 8)))]
    result = calculate_flat(shifts, june[0], june[-1], [], PEOPLE, NY)
    assert len(result.cells) == 60
    assert {c.status for c in result.cells} == {U}
    assert result.summary.by_status == {FULL: 0, PARTIAL: 0, U: 60, M: 0, ND: 0}
    assert result.summary.coverage_ratio == 0.0
    assert len(result.summary.critical_gaps) == 60
    assert result.findings == ()  # no Mid shift in this layout: no MISSING_MIDC


def test_shifts_and_assignments_outside_the_period_are_ignored() -> None:
    before, inside = shift(date(2024, 6, 2), ON1, "CPMC US", (22, 8)), shift(MON, ON1, "CPMC US", (22, 8))
    assignments = [*on(date(2024, 6, 2), ON1, ANA), *on(MON, ON1, BEN)]
    result = calculate_flat([before, inside], MON, MON, assignments, PEOPLE, NY)
    assert result.cells == (cell(inside, "ON1 22:00-08:00", (2,), FULL),)
