"""`oncall --at` without an offset is a wall time in SCHEDCU_TIME_ZONE: one the clocks skip or pass twice is
refused, saying which, and a wall time with its offset is the instant it names
(schedcu.operations.exports.local_instant)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from schedcu.errors import UsageMistake
from schedcu.operations.exports import local_instant

NY = ZoneInfo("America/New_York")


def test_a_wall_time_the_clocks_skip_is_refused() -> None:
    with pytest.raises(UsageMistake) as refused:
        local_instant(datetime(2026, 3, 8, 2, 30), NY)

    assert str(refused.value) == (
        "2026-03-08T02:30 does not exist in America/New_York: the clocks skip it when they go forward; give a time "
        "outside the gap, or with its offset (e.g. 2026-03-08T03:30-04:00)"
    )


def test_a_wall_time_the_clocks_pass_twice_is_refused_with_both_instants() -> None:
    with pytest.raises(UsageMistake) as refused:
        local_instant(datetime(2026, 11, 1, 1, 30), NY)

    assert str(refused.value) == (
        "2026-11-01T01:30 happens twice in America/New_York, when the clocks go back: give which one, "
        "2026-11-01T01:30-04:00 (EDT) or 2026-11-01T01:30-05:00 (EST)"
    )


@pytest.mark.parametrize(
    ("given", "instant"),
    [
        ("2026-11-01T01:30-04:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        ("2026-11-01T01:30-05:00", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
        ("2026-11-01T00:30", datetime(2026, 11, 1, 4, 30, tzinfo=UTC)),
        ("2026-11-01T02:30", datetime(2026, 11, 1, 7, 30, tzinfo=UTC)),
        ("2026-03-08T01:59", datetime(2026, 3, 8, 6, 59, tzinfo=UTC)),
        ("2026-03-08T03:00", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    ],
)
def test_an_offset_or_an_unambiguous_wall_time_is_one_instant(given: str, instant: datetime) -> None:
    assert local_instant(datetime.fromisoformat(given), NY) == instant
