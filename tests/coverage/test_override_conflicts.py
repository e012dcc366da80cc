"""OVERRIDE_CONFLICTS_WITH_AMION: an approved override that Amion now contradicts, by role and date or by
the overridden person's hours elsewhere."""

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from services.coverage.override_conflicts import AmionBooking, Override, override_conflicts
from shared.kernel.coverage_rules import Assignment
from shared.kernel.findings import Severity
from shared.kernel.rest import Shift

NY = ZoneInfo("America/New_York")
MON, TUE = date(2026, 3, 2), date(2026, 3, 3)
ANA, BEN, CY, DEE = 1, 2, 3, 4
NAMES = {ANA: "Ana", BEN: "Ben", CY: "Cy", DEE: "Dee"}
PROPOSAL = uuid.UUID("00000000-0000-0000-0000-000000000001")


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


def shift(person: int, role: str, day: date, start: datetime, end: datetime) -> Shift:
    return Shift(person, role, day, ((start, end),), "template")


# Ana was approved on Mid3 on Monday, 17:00-01:00, when Amion had Dee there (a specialty mismatch)
OVERRIDE = Override(PROPOSAL, MON, "Mid3", ANA, frozenset({DEE}), shift(ANA, "Mid3", MON, at(MON, 17), at(TUE, 1)))


def booking(person: int, role: str, day: date, hours: tuple[datetime, datetime] | None = None) -> AmionBooking:
    start, end = hours or (at(day, 8), at(day, 9))
    return AmionBooking(Assignment(day, role, person, "AMION", start, end), shift(person, role, day, start, end))


def texts(*amion: AmionBooking) -> list[str]:
    return [f.text for f in override_conflicts([OVERRIDE], list(amion), NAMES, NY)]


def test_amion_assigning_someone_new_to_the_overridden_role_conflicts() -> None:
    (finding,) = override_conflicts([OVERRIDE], [booking(BEN, "Mid3", MON)], NAMES, NY)
    assert (finding.code, finding.severity, finding.location) == (
        "OVERRIDE_CONFLICTS_WITH_AMION", Severity.WARNING, "2026-03-02"
    )  # fmt: skip
    assert finding.text == (
        f"The approved override of proposal {PROPOSAL} (Ana on Mid3 on 2026-03-02 17:00-01:00) conflicts with "
        "Amion, which now assigns Ben to Mid3 on 2026-03-02."
    )


def test_the_people_amion_had_when_it_was_approved_and_the_person_themselves_are_no_conflict() -> None:
    assert texts(booking(DEE, "Mid3", MON), booking(ANA, "Mid3", MON)) == []


def test_the_overridden_person_booked_by_amion_at_overlapping_hours_conflicts() -> None:
    assert texts(booking(ANA, "ON1", MON, (at(MON, 22), at(TUE, 8)))) == [
        f"The approved override of proposal {PROPOSAL} (Ana on Mid3 on 2026-03-02 17:00-01:00) conflicts with "
        "Amion, which now assigns Ana to ON1 on 2026-03-02 22:00-08:00 at overlapping hours."
    ]


def test_hours_that_merely_touch_or_other_people_elsewhere_do_not_conflict() -> None:
    touching = booking(ANA, "ON1", TUE, (at(TUE, 1), at(TUE, 8)))
    assert texts(touching, booking(BEN, "ON1", MON, (at(MON, 22), at(TUE, 8))), booking(CY, "Mid3", TUE)) == []


def test_each_contradicting_assignment_is_a_finding_of_its_own() -> None:
    found = texts(booking(BEN, "Mid3", MON), booking(CY, "Mid3", MON))
    assert [t.rsplit("assigns ", 1)[1] for t in found] == ["Ben to Mid3 on 2026-03-02.", "Cy to Mid3 on 2026-03-02."]
