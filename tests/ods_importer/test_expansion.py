from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.ods_importer.expansion import ShiftInstance, expand, validate_period
from services.ods_importer.workbook import parse_workbook
from shared.kernel.schedule_days import DayType
from shared.kernel.template_model import Category, Responsibility, Variant, Window
from tests.support.real_data import REAL_TEMPLATE

NEW_YORK = ZoneInfo("America/New_York")


def make_window(
    sheet: str, start: time, end: time, day_type: DayType | None = None, roles: tuple[str, ...] = ("ON1",)
) -> Window:
    return Window(
        sheet=sheet,
        category=Category.ON,
        day_type=day_type,
        variant=Variant.NEURO,
        start=start,
        end=end,
        responsibilities=tuple(Responsibility(worklist=f"CPMC {role}", role=role) for role in roles),
    )


ON_WEEKDAY = make_window("ON Weekday 1 am - 8 am", time(1), time(8), DayType.WEEKDAY, ("ON1", "ON2"))
ON_WEEKEND = make_window("ON Weekend 1 am - 8 am", time(1), time(8), DayType.WEEKEND, ("ON1", "ON2"))
EVERY_DAY = make_window("Mid 12am-1am", time(0), time(1), None, ("ON1", "ON2", "Mid3"))


def hours(instance: ShiftInstance) -> float:
    return (instance.ends_at.astimezone(UTC) - instance.starts_at.astimezone(UTC)) / timedelta(hours=1)


@pytest.fixture(scope="module")
def template_windows() -> tuple[Window, ...]:
    return parse_workbook(REAL_TEMPLATE.read_bytes()).windows


def test_a_week_of_the_real_template(template_windows: tuple[Window, ...]) -> None:
    # weekday: Mid 5-6 pm Body 2 + Neuro 2, Mid 6-12 Body 3 + Neuro 3, ON Neuro 2 + Body 2, 12am-1am 3 = 17
    # weekend: Mid 5-12 Body 3 + Neuro 3, Mid 10pm-Midnight 2, ON Neuro 2 + Body 2, 12am-1am 3 = 15
    instances = expand(template_windows, date(2026, 3, 2), date(2026, 3, 8), NEW_YORK)
    assert len(instances) == 5 * 17 + 2 * 15
    monday = [i for i in instances if i.schedule_date == date(2026, 3, 2)]
    assert {i.window for i in monday} == {w.sheet for w in template_windows if w.day_type is not DayType.WEEKEND}
    assert all(i.mandatory and i.desired_coverage == 1 for i in instances)


def test_both_variants_are_expanded(template_windows: tuple[Window, ...]) -> None:
    instances = expand(template_windows, date(2026, 3, 2), date(2026, 3, 2), NEW_YORK)
    on_roles = {(i.window, i.role) for i in instances if i.window.startswith("ON")}
    assert on_roles == {
        ("ON Weekday Neuro 1 am - 8 am", "ON1"),
        ("ON Weekday Neuro 1 am - 8 am", "ON2"),
        ("ON Weekday Body 1 am - 8 am", "ON Neuro"),
        ("ON Weekday Body 1 am - 8 am", "ON Body"),
    }


def test_dst_spring_forward_night_is_six_hours() -> None:
    (on1, _) = expand([ON_WEEKEND], date(2026, 3, 7), date(2026, 3, 7), NEW_YORK)
    assert on1.schedule_date == date(2026, 3, 7)
    assert on1.starts_at == datetime(2026, 3, 8, 1, tzinfo=NEW_YORK)
    assert on1.ends_at == datetime(2026, 3, 8, 8, tzinfo=NEW_YORK)
    assert hours(on1) == 6


def test_dst_fall_back_night_is_eight_hours() -> None:
    (on1, _) = expand([ON_WEEKEND], date(2026, 10, 31), date(2026, 10, 31), NEW_YORK)
    assert on1.starts_at.date() == date(2026, 11, 1)
    assert hours(on1) == 8


def test_ordinary_night_is_seven_hours() -> None:
    (on1, _) = expand([ON_WEEKDAY], date(2026, 3, 9), date(2026, 3, 9), NEW_YORK)
    assert hours(on1) == 7
    assert on1.starts_at.utcoffset() == timedelta(hours=-4)


def test_weekend_windows_on_saturday_and_sunday_and_weekday_on_friday() -> None:
    instances = expand([ON_WEEKDAY, ON_WEEKEND], date(2026, 3, 6), date(2026, 3, 9), NEW_YORK)
    by_date = {(i.schedule_date, i.window) for i in instances}
    assert by_date == {
        (date(2026, 3, 6), ON_WEEKDAY.sheet),  # Friday night runs into Saturday morning: still a weekday
        (date(2026, 3, 7), ON_WEEKEND.sheet),
        (date(2026, 3, 8), ON_WEEKEND.sheet),
        (date(2026, 3, 9), ON_WEEKDAY.sheet),
    }


def test_holiday_takes_the_weekend_windows() -> None:
    july_4 = date(2025, 7, 4)  # a Friday
    instances = expand([ON_WEEKDAY, ON_WEEKEND], july_4, july_4, NEW_YORK, holidays={july_4})
    assert {i.window for i in instances} == {ON_WEEKEND.sheet}


def test_12am_1am_window_applies_every_day_in_the_next_morning() -> None:
    instances = expand([EVERY_DAY], date(2026, 3, 2), date(2026, 3, 8), NEW_YORK)
    assert len(instances) == 7 * 3
    for instance in instances:
        assert instance.starts_at == datetime.combine(
            instance.schedule_date + timedelta(days=1), time(0), tzinfo=NEW_YORK
        )
        assert hours(instance) == 1


def test_window_ending_at_midnight_ends_next_day() -> None:
    evening = make_window("Mid 6 pm - 12 am", time(18), time(0))
    (instance,) = expand([evening], date(2026, 3, 2), date(2026, 3, 2), NEW_YORK)
    assert instance.starts_at == datetime(2026, 3, 2, 18, tzinfo=NEW_YORK)
    assert instance.ends_at == datetime(2026, 3, 3, 0, tzinfo=NEW_YORK)


def test_window_ending_before_it_starts_ends_next_day() -> None:
    late = make_window("Mid 10 pm - 2 am", time(22), time(2))
    (instance,) = expand([late], date(2026, 3, 2), date(2026, 3, 2), NEW_YORK)
    assert instance.ends_at == datetime(2026, 3, 3, 2, tzinfo=NEW_YORK)
    assert hours(instance) == 4


def test_empty_period_expands_to_nothing() -> None:
    assert expand([EVERY_DAY], date(2026, 3, 2), date(2026, 3, 1), NEW_YORK) == []


def test_validate_period() -> None:
    assert validate_period(date(2026, 1, 1), date(2026, 12, 31)) == []
    assert validate_period(date(2026, 1, 1), date(2026, 1, 1)) == []
    (backwards,) = validate_period(date(2026, 2, 1), date(2026, 1, 1))
    (too_long,) = validate_period(date(2026, 1, 1), date(2027, 2, 5))
    assert backwards.code == too_long.code == "INVALID_DATE_RANGE"
    assert validate_period(date(2026, 1, 1), date(2026, 1, 10), max_days=10) == []
    assert validate_period(date(2026, 1, 1), date(2026, 1, 11), max_days=10)[0].severity == "ERROR"
