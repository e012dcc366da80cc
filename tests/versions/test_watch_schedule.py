"""When the watch checks a group and which months (services/versions/watch.py): pure parts."""

import random
from datetime import UTC, date, datetime, timedelta

from services.versions.watch import months_to_check, next_check

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_the_next_check_is_an_interval_away_moved_by_at_most_the_jitter() -> None:
    rng = random.Random(1)
    waits = [(next_check(NOW, 900, 60, rng) - NOW).total_seconds() for _ in range(500)]
    assert all(840 <= w <= 960 for w in waits)
    assert max(waits) - min(waits) > 60  # spread, so that groups do not all come due together
    assert next_check(NOW, 900, 0, rng) == NOW + timedelta(seconds=900)


def test_a_jitter_larger_than_the_interval_never_makes_a_check_come_at_once() -> None:
    rng = random.Random(2)
    assert all(next_check(NOW, 3, 10, rng) >= NOW + timedelta(seconds=0.3) for _ in range(200))


def test_only_the_months_from_todays_on_are_checked() -> None:
    assert months_to_check(date(2026, 10, 1), date(2027, 1, 15), date(2026, 11, 29)) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1),
    ]  # fmt: skip
    assert months_to_check(date(2027, 3, 5), date(2027, 4, 2), date(2026, 11, 29)) == [
        date(2027, 3, 1), date(2027, 4, 1),
    ]  # fmt: skip
    assert months_to_check(date(2026, 1, 1), date(2026, 11, 28), date(2026, 11, 29)) == []
