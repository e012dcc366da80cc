"""The night's specialty rule as the coverage rules give it on the real template, and a night nobody who may
read neuro can work."""

from datetime import date, timedelta

import pytest

from bench.draft_bench import TZ, Instance, coverage_findings, night_ok_from_rules, real_windows, role_dates
from services.drafting.engine import draft
from services.drafting.facts import Facts
from services.drafting.model import Level, Problem, Reader, TimeOff
from shared.kernel.states import Specialty

START = date(2026, 11, 2)  # a Monday
B, N, X = Specialty.BODY_ONLY, Specialty.NEURO_ONLY, Specialty.BOTH


@pytest.fixture(scope="module")
def windows():
    return real_windows()


def test_the_coverage_rules_allow_only_both_readers_on_the_roles_of_mid_12am_1am(windows) -> None:
    """`Mid  12am-1am` gives ON1, ON2 and Mid3 body and neuro worklists. On MidC/MidL a BODY_ONLY reader may
    sit beside a BOTH reader (or alone on a weekday), never beside another BODY_ONLY; a NEURO_ONLY reader may
    hold no role of the real template (its Mid Neuro sheets name body worklists too)."""
    ok = night_ok_from_rules(windows, ())
    empty = dict.fromkeys(("ON1", "ON2", "MidC", "MidL", "Mid3"))
    assert ok(START, empty)
    assert ok(START, empty | {"ON1": X, "ON2": X, "Mid3": X})
    for role in ("ON1", "ON2", "Mid3"):
        assert not ok(START, empty | {role: B})
        assert not ok(START, empty | {role: N})
    options = (None, B, N, X)
    weekday = {(c, m) for c in options for m in options if ok(START, empty | {"MidC": c, "MidL": m})}
    assert weekday == {(None, None), (None, B), (None, X), (B, None), (B, X), (X, None), (X, B), (X, X)}
    saturday = START + timedelta(days=5)
    weekend = {(c, m) for c in options for m in options if ok(saturday, empty | {"MidC": c, "MidL": m})}
    assert weekend == {(None, None), (None, X), (B, None), (B, X), (X, None), (X, X)}


def test_a_night_without_neuro_readers_stays_open_with_each_reason_and_the_others_are_filled(windows) -> None:
    """Every neuro-capable reader is off on the second date: its roles that need one stay unfilled, each
    listing every reader and why; the two other nights are filled, and coverage finds nothing wrong."""
    days = 3
    end = START + timedelta(days=days - 1)
    night = START + timedelta(days=1)
    specialties = [X] * 6 + [B, B, N]
    readers = tuple(Reader(i, f"R{i}", s) for i, s in enumerate(specialties, start=1))
    problem = Problem(
        start=START,
        end=end,
        role_dates=role_dates(windows, START, end, ()),
        readers=readers,
        night_ok=night_ok_from_rules(windows, ()),
        tz=TZ,
        time_off=tuple(TimeOff(r.id, frozenset({night})) for r in readers if r.specialty is not B),
    )
    result = draft(problem, time_limit=20)
    assert next(r for r in result.levels if r.level is Level.UNFILLED).proven
    # a BODY_ONLY reader takes MidC or MidL alone; two of them may not share the night
    open_roles = {(u.day, u.role) for u in result.unfilled}
    held_mid = [role for role in ("MidC", "MidL") if (night, role) in result.assignment]
    assert len(held_mid) == 1 and result.assignment[(night, held_mid[0])] in (7, 8)
    assert open_roles == {(night, role) for role in ("ON1", "ON2", "Mid3", "MidC", "MidL") if role not in held_mid}
    assert len(result.assignment) == 5 + 1 + 5
    for gap in result.unfilled:
        assert [e.name for e in gap.people] == [r.name for r in readers]
        for e in gap.people:
            if readers[e.person_id - 1].specialty is B:  # cannot read it, or not beside the MidC reader, or is it
                assert e.reasons[0].rule in ("specialty", "variant", "same date"), (gap.role, e)
            else:
                assert e.reasons[0].rule == "time off", (gap.role, e)
        assert "are on time off" in gap.text
    assert Facts(problem).violations(result.assignment) == []
    assert coverage_findings(Instance("three nights", problem, windows), result.assignment) == []
