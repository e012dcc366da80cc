"""REST_VIOLATION: a shift starting less than the rest period after the same person's shift ending in the
morning, on the hours DOUBLE_BOOKED uses (Amion's, else the template window's)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.coverage.flat_rules import FlatShift, calculate_flat
from shared.kernel.coverage_rules import Assignment, Person, Specialty, calculate
from shared.kernel.roles import MID_C, ON1
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Responsibility, Variant, Window

NY = ZoneInfo("America/New_York")
MON, TUE, WED = date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5)
ANA = Person(1, "Ana Both", Specialty.BOTH)
PEOPLE = {ANA.id: ANA}
ON_NIGHT = Window("ON Weekday Neuro 1 am - 8 am", Category.ON, DayType.WEEKDAY, Variant.NEURO, time(1), time(8),
                  (Responsibility("CPMC CT Neuro", ON1),))  # fmt: skip
MID_EVENING = Window("Mid Weekday Neuro 6 pm - 12 am", Category.MID, DayType.WEEKDAY, Variant.NEURO, time(18),
                     time(0), (Responsibility("CPMC CT Neuro", MID_C),))  # fmt: skip
TEMPLATE = [ON_NIGHT, MID_EVENING]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


def rest_texts(assignments: list[Assignment], rest: timedelta = timedelta(hours=10)) -> list[str]:
    result = calculate(TEMPLATE, MON, WED, assignments, PEOPLE, tz=NY, rest=rest)
    return [f.text for f in result.findings if f.code == "REST_VIOLATION"]


def test_a_night_ending_at_8_then_a_shift_at_17_the_same_day_gets_9_hours_of_rest() -> None:
    night = Assignment(MON, ON1, ANA.id, "AMION", at(MON, 22), at(TUE, 8))
    evening = Assignment(TUE, MID_C, ANA.id, "AMION", at(TUE, 17), at(WED, 1))
    assert rest_texts([night, evening]) == [
        "Ana Both ends ON1 on 2024-06-03 22:00-08:00 (Amion) at 08:00 and starts MidC on 2024-06-04 "
        "17:00-01:00 (Amion) 9 h later; the rest period is 10 h."
    ]
    assert rest_texts([night, evening], rest=timedelta(hours=9)) == []


def test_template_hours_stand_in_when_amion_gives_none() -> None:
    # ON1 by the template: 01:00-08:00 on TUE; MidC by the template: 18:00-00:00 on TUE: 10 h of rest
    assert rest_texts([Assignment(MON, ON1, ANA.id), Assignment(TUE, MID_C, ANA.id)]) == []
    assert rest_texts([Assignment(MON, ON1, ANA.id), Assignment(TUE, MID_C, ANA.id)], timedelta(hours=11)) == [
        "Ana Both ends ON1 on 2024-06-03 01:00-08:00 (template) at 08:00 and starts MidC on 2024-06-04 "
        "18:00-00:00 (template) 10 h later; the rest period is 11 h."
    ]


def test_a_shift_ending_outside_the_morning_needs_no_rest() -> None:
    evening = Assignment(MON, MID_C, ANA.id, "AMION", at(MON, 17), at(MON, 23))
    night = Assignment(TUE, ON1, ANA.id, "AMION", at(TUE, 1), at(TUE, 8))
    assert rest_texts([evening, night]) == []  # ends 23:00: not in the morning (05:00-12:00)


def test_overlapping_shifts_are_double_booked_not_short_of_rest() -> None:
    night = Assignment(MON, ON1, ANA.id, "AMION", at(MON, 22), at(TUE, 8))
    morning = Assignment(TUE, MID_C, ANA.id, "AMION", at(TUE, 7), at(TUE, 12))
    assert rest_texts([night, morning]) == []


def test_flat_layout_uses_the_shift_hours() -> None:
    shifts = [
        FlatShift(MON, ON1, "CPMC", "CT", at(MON, 22), at(TUE, 8)),
        FlatShift(TUE, MID_C, "CPMC", "MR", at(TUE, 16), at(TUE, 23)),
    ]
    result = calculate_flat(shifts, MON, TUE, [Assignment(MON, ON1, ANA.id), Assignment(TUE, MID_C, ANA.id)],
                            PEOPLE, NY)  # fmt: skip
    assert [f.text for f in result.findings if f.code == "REST_VIOLATION"] == [
        "Ana Both ends ON1 on 2024-06-03 22:00-08:00 (template) at 08:00 and starts MidC on 2024-06-04 "
        "16:00-23:00 (template) 8 h later; the rest period is 10 h."
    ]
