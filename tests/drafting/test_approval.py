"""Approving a draft, the pure part: an edit is refused with the rule it would break, in a scheduler's words, an
approval or rejection moves the whole draft's open rows or only the rows picked, and drift names where Amion
differs from the approved draft."""

from datetime import date, timedelta

import pytest

from services.coverage.drift import drift_findings
from services.drafting.approval import ApprovalError, Row, chosen, edit_refusals
from services.drafting.model import Kept, Limits, Problem, Reader, TimeOff
from shared.kernel.states import DraftRowState, Specialty
from tests.drafting.builders import TZ, anybody, not_two_body_only, role_dates

START = date(2026, 11, 23)
A, B, C, D = (Reader(i, name, spec) for i, (name, spec) in enumerate(
    (("Adams", Specialty.BOTH), ("Baker", Specialty.BOTH), ("Cole", Specialty.BODY_ONLY), ("Diaz", Specialty.BOTH)),
    start=1,
))  # fmt: skip


def problem(**changes: object) -> Problem:
    fields: dict[str, object] = {
        "start": START, "end": START + timedelta(days=3), "role_dates": role_dates(START, 4, ("EVE", "ON1", "ON2")),
        "readers": (A, B, C, D), "night_ok": not_two_body_only, "tz": TZ,
    }  # fmt: skip
    return Problem(**{**fields, **changes})  # type: ignore[arg-type]


def day(n: int) -> date:
    return START + timedelta(days=n)


DRAFT = {(day(0), "ON1"): A.id, (day(0), "ON2"): B.id, (day(1), "ON1"): D.id, (day(1), "EVE"): B.id}


def test_an_edit_that_keeps_every_rule_is_allowed() -> None:
    assert edit_refusals(problem(), DRAFT, day(2), "ON1", C.id) == []


@pytest.mark.parametrize(
    ("edit", "changes", "words"),
    [
        ((day(2), "ON1", A.id), {"time_off": (TimeOff(A.id, frozenset({day(2)})),)}, "time off"),
        ((day(0), "EVE", A.id), {}, "ON1"),  # already holds ON1 that date
        ((day(1), "EVE", A.id), {}, "rest"),  # ON1 ends 08:00, EVE starts 17:00: 9 h of a 10 h rest
        (
            (day(0), "ON2", C.id),
            {},
            "may not hold it as BODY_ONLY",
        ),  # a BODY_ONLY reader may not hold ON2 under the night's rule
        ((day(2), "ON1", D.id), {"limits": Limits(consecutive=2), "kept": (Kept(day(0), "EVE", D.id),)}, "limit"),
    ],
)
def test_an_edit_that_breaks_a_hard_rule_is_refused_naming_the_rule(
    edit: tuple[date, str, int], changes: dict[str, object], words: str
) -> None:
    given = problem(**changes)
    current = {**DRAFT, **{(k.day, k.role): k.person_id for k in given.kept}}
    refusals = edit_refusals(given, current, *edit)
    assert refusals, edit
    assert any(words in text for text in refusals), refusals


def test_an_edit_outside_the_draft_or_of_an_unknown_person_is_refused() -> None:
    assert edit_refusals(problem(), DRAFT, day(9), "ON1", A.id) == [
        f"{day(9).isoformat()} ON1 is not a role this draft fills"
    ]
    assert "roster" in edit_refusals(problem(readers=(A, B)), DRAFT, day(2), "ON1", D.id)[0]
    assert edit_refusals(problem(night_ok=anybody), DRAFT, day(0), "ON2", C.id) == []


ROWS = [
    Row(day(0), "ON1", A.id, DraftRowState.PROPOSED),
    Row(day(0), "ON2", B.id, DraftRowState.EDITED),
    Row(day(1), "ON1", D.id, DraftRowState.APPROVED),
    Row(day(1), "EVE", B.id, DraftRowState.REJECTED),
]


def test_the_whole_draft_moves_its_proposed_and_edited_rows() -> None:
    assert chosen(ROWS, None) == ROWS[:2]


def test_picked_rows_move_alone_and_a_closed_or_unknown_row_is_refused() -> None:
    assert chosen(ROWS, [(day(0), "ON2")]) == [ROWS[1]]
    with pytest.raises(ApprovalError, match="is APPROVED"):
        chosen(ROWS, [(day(0), "ON1"), (day(1), "ON1")])
    with pytest.raises(ApprovalError, match="no row 2026-11-26 ON1"):
        chosen(ROWS, [(day(3), "ON1")])


def test_drift_names_each_role_date_where_amion_has_other_people_than_the_approved_draft() -> None:
    drafted = {(day(0), "ON1"): "Adams", (day(0), "ON2"): "Baker", (day(1), "ON1"): "Cole"}
    amion = {(day(0), "ON1"): ["Adams"], (day(0), "ON2"): ["Diaz", "Evans"]}
    assert [(f.severity, f.code, f.text) for f in drift_findings(drafted, amion)] == [
        ("INFO", "DRIFT", "2026-11-23 ON2: Amion has Diaz, Evans, the approved draft Baker")
    ]
