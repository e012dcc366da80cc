"""Repairing a published week after a sick call: the fewest changes, chains of moves, and no fix explained."""

from dataclasses import replace
from datetime import date, timedelta

from ortools.sat.python import cp_model

from services.drafting.facts import Facts, dates
from services.drafting.model import Kept, Limits, Problem, Reader, TimeOff
from services.drafting.repair import OPEN_GAP, UNAVAILABLE, repair
from shared.kernel.states import Specialty
from tests.drafting.builders import TZ, anybody, role_dates

MONDAY = date(2026, 11, 2)
DAYS = dates(MONDAY, MONDAY + timedelta(days=5))  # Monday .. Saturday
MON, TUE, WED, THU, FRI, SAT = DAYS
A, B, C, D, P = (Reader(i, name, Specialty.BOTH) for i, name in enumerate("ABCDP", start=1))


def week(roles: tuple[str, ...], kept: dict[tuple[date, str], Reader], **extra) -> Problem:
    return Problem(
        start=MON,
        end=SAT,
        role_dates=role_dates(MON, len(DAYS), roles),
        readers=extra.pop("readers", (A, B, C, D, P)),
        night_ok=anybody,
        tz=TZ,
        kept=tuple(Kept(day, role, person.id) for (day, role), person in kept.items()),
        limits=Limits(consecutive=3),
        **extra,
    )


def sick(person: Reader, *days: date) -> tuple[TimeOff]:
    return (TimeOff(person.id, frozenset(days)),)


def test_a_direct_replacement_is_one_change_proven_minimal() -> None:
    published = {(MON, "ON"): A, (TUE, "ON"): A, (WED, "ON"): B, (THU, "ON"): B, (FRI, "ON"): C, (SAT, "ON"): C}
    result = repair(week(("ON",), published, readers=(A, B, C, D)), sick(A, TUE))
    assert result.changes == 1
    assert result.lower_bound == 1 and result.proven
    (move,) = result.moves
    assert (move.day, move.role, move.displaced_id, move.rule, move.after) == (TUE, "ON", A.id, UNAVAILABLE, None)
    assert move.person_id in (C.id, D.id)  # B would work a third night in a row: allowed, but C or D are free too
    assert move.text.startswith(f"{'C' if move.person_id == C.id else 'D'} takes A's ON on {TUE.isoformat()}: A is")
    assert result.unfilled == ()
    # nobody else moved, and A holds nothing on the sick day
    assert {k: p for k, p in result.assignment.items() if k != (TUE, "ON")} == {
        k: p.id for k, p in published.items() if k != (TUE, "ON")
    }


def test_when_the_only_fix_is_a_chain_of_two_both_moves_and_their_link_are_named() -> None:
    """P is off all week; only A may take Wednesday (B is off Monday to Wednesday), which would give A a fourth
    night in a row, so B takes A's Thursday."""
    published = {(MON, "ON"): A, (TUE, "ON"): A, (WED, "ON"): P, (THU, "ON"): A, (FRI, "ON"): B, (SAT, "ON"): B}
    problem = week(("ON",), published, readers=(A, B, P), time_off=sick(B, MON, TUE, WED))
    result = repair(problem, sick(P, *DAYS))
    assert result.changes == 2 and result.lower_bound == 2 and result.proven
    first, second = result.moves
    assert (first.day, first.person_id, first.displaced_id, first.rule, first.after) == (
        WED, A.id, P.id, UNAVAILABLE, None,
    )  # fmt: skip
    assert (second.day, second.person_id, second.displaced_id, second.rule, second.after) == (
        THU, B.id, A.id, "limit", 0,
    )  # fmt: skip
    assert second.text == (f"B takes A's ON on {THU.isoformat()}: A would work a fourth night in a row (limit 3).")
    assert result.assignment[(WED, "ON")] == A.id and result.assignment[(THU, "ON")] == B.id


def test_an_open_gap_is_filled_with_one_change() -> None:
    published = {(MON, "ON"): A, (TUE, "ON"): B, (THU, "ON"): C, (FRI, "ON"): D, (SAT, "ON"): A}
    result = repair(week(("ON",), published, readers=(A, B, C, D)), (), gaps=[(WED, "ON")])
    assert result.changes == 1 and result.proven
    (move,) = result.moves
    assert (move.day, move.displaced_id, move.rule) == (WED, None, OPEN_GAP)
    assert move.text.endswith(f"takes the open ON on {WED.isoformat()}: nobody held it.")


def test_with_no_fix_the_run_completes_and_names_the_blocking_rule_for_each_person() -> None:
    published = {(WED, "ON1"): P, (WED, "ON2"): B}
    problem = week(("ON1", "ON2"), published, readers=(A, B, P), time_off=sick(A, WED))
    result = repair(problem, sick(P, WED))
    (move,) = result.moves
    assert (move.day, move.role, move.person_id, move.displaced_id) == (WED, "ON1", None, P.id)
    assert move.text == f"P's ON1 on {WED.isoformat()} stays open: P is unavailable (sick call)."
    assert result.assignment[(WED, "ON2")] == B.id  # moving B would only open ON2 instead
    (gap,) = result.unfilled
    rules = {e.name: e.reasons[0].rule for e in gap.people}
    assert rules == {"A": "time off", "B": "same date", "P": "time off"}
    assert gap.text == (
        f"{WED.isoformat()} ON1: of the three readers who could hold it, A and P are on time off and B holds ON2 "
        "that night."
    )


def test_a_solver_that_runs_out_of_time_says_so_instead_of_calling_the_gap_unfillable(monkeypatch) -> None:
    published = {(MON, "ON"): A, (TUE, "ON"): A, (WED, "ON"): B, (THU, "ON"): B, (FRI, "ON"): C, (SAT, "ON"): C}

    class OutOfTime(cp_model.CpSolver):
        def Solve(self, model: cp_model.CpModel, callback: object = None) -> int:
            return cp_model.UNKNOWN

    monkeypatch.setattr(cp_model, "CpSolver", OutOfTime)
    result = repair(week(("ON",), published, readers=(A, B, C, D)), sick(A, TUE), time_limit=2)
    (gap,) = result.unfilled
    assert gap.text.startswith(
        "no fill found within 2 s (the solver ran out of time; a longer time limit may find one); "
        f"{TUE.isoformat()} ON: "
    )
    assert result.lower_bound is None and not result.proven


def test_the_published_schedules_own_conflicts_stay_as_they_are_and_are_reported() -> None:
    """C already works four nights in a row (limit 3): that is not the sick call's to mend."""
    published = {(MON, "ON"): C, (TUE, "ON"): C, (WED, "ON"): C, (THU, "ON"): C, (FRI, "ON"): A, (SAT, "ON"): P}
    result = repair(week(("ON",), published, readers=(A, C, D, P)), sick(P, SAT))
    assert result.changes == 1 and result.proven
    (move,) = result.moves
    assert (move.day, move.person_id, move.displaced_id) == (SAT, D.id, P.id)
    (conflict,) = result.conflicts
    assert "C on ON" in conflict and "fourth night in a row (limit 3)" in conflict


def test_two_gaps_on_consecutive_nights_do_not_both_go_to_one_person_past_a_limit() -> None:
    """P is off Tuesday and Wednesday; C works Monday and D Thursday, each may work two nights in a row: one of
    them takes each night, never both nights to one of them."""
    published = {(MON, "ON"): C, (TUE, "ON"): P, (WED, "ON"): P, (THU, "ON"): D}
    problem = replace(week(("ON",), published, readers=(C, D, P)), limits=Limits(consecutive=2))
    result = repair(problem, sick(P, TUE, WED))
    assert result.changes == 2 and result.proven and result.unfilled == ()
    assert {result.assignment[(TUE, "ON")], result.assignment[(WED, "ON")]} == {C.id, D.id}
    others = tuple(k for k in problem.kept if k.person_id != P.id)
    assert Facts(replace(problem, kept=others, time_off=sick(P, TUE, WED))).violations(result.assignment) == []
