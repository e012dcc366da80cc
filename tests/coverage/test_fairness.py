"""The fairness report: per person nights, weekend nights, holiday nights and hours in a period."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from services.coverage.fairness import PersonLoad, fairness
from shared.kernel.coverage_rules import Assignment
from shared.kernel.rest import Shift

NY = ZoneInfo("America/New_York")
FRI, SAT, SUN, MON = date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)
ANA, BEN, CY, OLD = 1, 2, 3, 4
NAMES = {ANA: ("Ana", True), BEN: ("Ben", True), CY: ("Cy", True), OLD: ("Old", False)}


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


def night(person: int, role: str, day: date) -> tuple[Assignment, Shift]:
    start, end = at(day, 22), datetime.combine(date.fromordinal(day.toordinal() + 1), time(8), NY)
    return Assignment(day, role, person), Shift(person, role, day, ((start, end),), "template")


def report(*worked: tuple[Assignment, Shift], holidays: frozenset[date] = frozenset()) -> list[PersonLoad]:
    shifts: dict[int, list[Shift]] = {}
    for _, s in worked:
        shifts.setdefault(s.person_id, []).append(s)
    return fairness([a for a, _ in worked], shifts, NAMES, FRI, MON, holidays)


def test_nights_weekends_holidays_and_real_hours_per_person() -> None:
    # Saturday to Sunday 2026-03-08 is the spring DST night: 22:00-08:00 is 9 h
    loads = report(night(ANA, "ON1", FRI), night(ANA, "ON1", SAT), night(BEN, "ON2", SUN), holidays=frozenset({SUN}))
    assert loads == [
        PersonLoad(ANA, "Ana", True, 2, 1, 0, 19.0),
        PersonLoad(BEN, "Ben", True, 1, 1, 1, 10.0),
        PersonLoad(CY, "Cy", True, 0, 0, 0, 0.0),
    ]


def test_two_roles_the_same_night_are_one_night_and_their_hours_count_once() -> None:
    ((ana,),) = [[p for p in report(night(ANA, "ON1", MON), night(ANA, "MidC", MON)) if p.person_id == ANA]]
    assert (ana.nights, ana.hours) == (1, 10.0)


def test_day_shifts_count_hours_not_nights_and_an_inactive_person_who_works_is_listed() -> None:
    day_shift = (Assignment(MON, "DAY", OLD), Shift(OLD, "DAY", MON, ((at(MON, 8), at(MON, 17)),), "template"))
    (old,) = [p for p in report(day_shift) if p.person_id == OLD]
    assert old == PersonLoad(OLD, "Old", False, 0, 0, 0, 9.0)
    assert OLD not in {p.person_id for p in report()}


def test_assignments_outside_the_period_do_not_count() -> None:
    before = night(ANA, "ON1", date(2026, 3, 5))
    (ana,) = [p for p in report(before) if p.person_id == ANA]
    assert ana.nights == 0
