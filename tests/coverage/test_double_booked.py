"""DOUBLE_BOOKED from the hours Amion gives each assignment, the template window's hours where it gives none."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.kernel.coverage_rules import Assignment, Person, Specialty, calculate, window_interval
from shared.kernel.roles import MID_3, MID_C, ON1
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Responsibility, Variant, Window

NY = ZoneInfo("America/New_York")
MON, TUE = date(2024, 6, 3), date(2024, 6, 4)
ANA = Person(1, "Ana Both", Specialty.BOTH)
PEOPLE = {ANA.id: ANA}


def _window(sheet: str, category: Category, hours: tuple[time, time], *marks: tuple[str, str]) -> Window:
    return Window(
        sheet=sheet,
        category=category,
        day_type=None if category is Category.MID and hours[0] == time(0) else DayType.WEEKDAY,
        variant=None if hours[0] == time(0) else Variant.NEURO,
        start=hours[0],
        end=hours[1],
        responsibilities=tuple(Responsibility(worklist, role) for worklist, role in marks),
    )


# as in the sample template: MidC 6 pm - 12 am; ON1 12 am - 1 am and 1 am - 8 am; Mid3 6 pm - 1 am
MID_EVENING = _window("Mid Weekday Neuro 6 pm - 12 am", Category.MID, (time(18), time(0)),
                      ("CPMC CT Neuro", MID_C), ("Allen DX Bone", MID_3))  # fmt: skip
MID_12_1 = _window("Mid  12am-1am", Category.MID, (time(0), time(1)), ("CHONY Neuro", ON1), ("NYPLH US", MID_3))
ON_NIGHT = _window("ON Weekday Neuro 1 am - 8 am", Category.ON, (time(1), time(8)), ("CPMC CT Neuro", ON1))
TEMPLATE = [MID_EVENING, MID_12_1, ON_NIGHT]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


def amion(role: str, starts_at: datetime, ends_at: datetime, day: date = MON) -> Assignment:
    """An AMION assignment with the hours Amion gives it."""
    return Assignment(day, role, ANA.id, "AMION", starts_at, ends_at)


def double_booked(assignments: list[Assignment], tz: ZoneInfo = NY) -> list[str]:
    result = calculate(TEMPLATE, MON, MON, assignments, PEOPLE, tz=tz)
    return [f.text for f in result.findings if f.code == "DOUBLE_BOOKED"]


def test_amion_hours_that_overlap_are_double_booked_where_the_template_hours_only_touch() -> None:
    # Mid C (Amion 17:00-01:00) and ON1 (22:00-08:00) the same night
    assert double_booked([amion(MID_C, at(MON, 17), at(TUE, 1)), amion(ON1, at(MON, 22), at(TUE, 8))]) == [
        "Ana Both has overlapping roles MidC 17:00-01:00 (Amion) and ON1 22:00-08:00 (Amion) on 2024-06-03."
    ]
    # by the template's hours alone (MidC 18:00-00:00, ON1 00:00-08:00) they only touch
    assert double_booked([Assignment(MON, MID_C, ANA.id), Assignment(MON, ON1, ANA.id)]) == []


def test_amion_hours_that_only_touch_are_not_double_booked() -> None:
    assert double_booked([amion(MID_C, at(MON, 17), at(MON, 22)), amion(ON1, at(MON, 22), at(TUE, 8))]) == []


def test_a_manual_assignment_takes_the_template_windows_hours() -> None:
    manual = Assignment(MON, MID_3, ANA.id, "MANUAL")  # Mid3: 18:00-00:00 and 00:00-01:00, one span
    assert double_booked([manual, amion(ON1, at(MON, 22), at(TUE, 8))]) == [
        "Ana Both has overlapping roles Mid3 18:00-01:00 (template) and ON1 22:00-08:00 (Amion) on 2024-06-03."
    ]
    manual_midc = Assignment(MON, MID_C, ANA.id, "MANUAL")  # 18:00-00:00: touches ON1 from 00:00
    assert double_booked([manual_midc, amion(ON1, at(TUE, 0), at(TUE, 8))]) == []


def test_template_hours_are_wall_clock_in_the_groups_zone() -> None:
    # MidC 18:00-00:00 in Chicago is 19:00-01:00 in New York: it now overlaps ON1 from 00:00 New York time
    manual_midc = Assignment(MON, MID_C, ANA.id, "MANUAL")
    chicago = ZoneInfo("America/Chicago")
    assert double_booked([manual_midc, amion(ON1, at(TUE, 0), at(TUE, 8))], tz=chicago) == [
        "Ana Both has overlapping roles MidC 18:00-00:00 (template) and ON1 23:00-07:00 (Amion) on 2024-06-03."
    ]


def test_window_hours_on_dst_nights_are_instants_of_their_real_length() -> None:
    def length(day: date) -> timedelta:
        start, end = window_interval(ON_NIGHT, day, NY)
        return end.astimezone(UTC) - start.astimezone(UTC)

    # the 1 am - 8 am window belongs to the evening before: Saturday's schedule date
    assert window_interval(ON_NIGHT, date(2024, 3, 9), NY)[0] == datetime(2024, 3, 10, 1, tzinfo=NY)
    assert length(date(2024, 3, 9)) == timedelta(hours=6)  # clocks go forward at 2 am
    assert length(date(2024, 11, 2)) == timedelta(hours=8)  # 1 am happens twice: the first one starts it
    assert window_interval(MID_EVENING, MON, NY) == (
        datetime(2024, 6, 3, 18, tzinfo=NY),
        datetime(2024, 6, 4, tzinfo=NY),
    )
