"""When the watch checks a group and which months (services/versions/watch.py): pure parts."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from services.versions.watch import (
    Check,
    Target,
    budget_problems,
    months_to_check,
    near_span,
    next_check,
    schedule,
)
from shared.kernel.contracts import DateSpan
from shared.settings import AmionAccount, Settings

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


def test_the_near_term_span_is_the_local_dates_of_the_next_hours_within_the_period() -> None:
    settings = Settings(time_zone="America/New_York", watch_near_hours=48)
    evening = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 22:00 on the 29th in New York
    assert near_span(date(2026, 11, 1), date(2026, 12, 31), evening, settings) == DateSpan(
        start=date(2026, 11, 29), days=3
    )
    assert near_span(date(2026, 11, 1), date(2026, 11, 30), evening, settings) == DateSpan(
        start=date(2026, 11, 29), days=2
    )
    assert near_span(date(2026, 12, 5), date(2026, 12, 31), evening, settings) is None
    assert near_span(date(2026, 11, 1), date(2026, 12, 31), evening, Settings(watch_near_hours=0)) is None


def _check(group: str, account: str, requests: int, near: bool) -> Check:
    target = Target(group, uuid.uuid4(), date(2026, 12, 1), date(2026, 12, 31), uuid.uuid4(), account)
    span = DateSpan(start=date(2026, 12, 1), days=3) if near else None
    return Check(target, [] if near else [date(2026, 12, 1)] * requests, span, requests)


def test_checks_go_out_within_each_accounts_budget_near_term_ones_first() -> None:
    settings = Settings(amion_accounts={"a": AmionAccount(requests_per_s=1.0)}, watch_backlog_s=5.0)
    full = [(1, NOW - timedelta(minutes=10), [_check(f"full{n}", "a", 4, near=False)]) for n in range(3)]
    near = [(0, NOW, [_check(f"near{n}", "a", 1, near=True)]) for n in range(10)]
    busy_until: dict[str, datetime] = {}
    sent = schedule(full + near, busy_until, NOW, settings)
    groups = [checks[0].target.group for checks in sent]
    assert groups == [f"near{n}" for n in range(6)]  # 6 s of requests: the backlog is over 5 s after that
    assert busy_until["a"] == NOW + timedelta(seconds=6)
    later = schedule(full + near[6:], busy_until, NOW + timedelta(seconds=6), settings)
    assert [checks[0].target.group for checks in later] == ["near6", "near7", "near8", "near9", "full0"]


def test_one_busy_account_does_not_hold_back_another() -> None:
    settings = Settings(watch_backlog_s=5.0)
    busy_until = {"a": NOW + timedelta(seconds=60)}
    due = [(0, NOW, [_check("g1", "a", 1, near=True)]), (0, NOW, [_check("g2", "b", 1, near=True)])]
    assert [checks[0].target.group for checks in schedule(due, busy_until, NOW, settings)] == ["g2"]


def test_watch_status_names_an_account_whose_politeness_cannot_carry_its_groups() -> None:
    settings = Settings(amion_accounts={"busy": AmionAccount(), "quiet": AmionAccount()})
    period = (date(2026, 11, 1), date(2026, 12, 31))  # two months from today's: 2 requests per full check

    def targets(account: str, n: int) -> list[Target]:
        return [Target(f"{account}-{k}", uuid.uuid4(), *period, uuid.uuid4(), account) for k in range(n)]

    # per group 1/90 + 2/900 = 0.0133 requests/s: 1 request/s carries 75 groups
    problems = budget_problems(targets("busy", 80) + targets("quiet", 70), NOW, settings)
    assert list(problems) == ["busy"]
    assert "80 groups need 1.07 requests/s" in problems["busy"]
    assert "near-term checks come about every 96 s (target 90 s)" in problems["busy"]
