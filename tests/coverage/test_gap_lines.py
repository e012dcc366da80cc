"""Gaps grouped the way a scheduler fixes them: one line per date and role as written, and what a proposal
puts forward for a line."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.coverage.candidates import Candidate, GapCandidates, LeftOut, Slot
from services.coverage.gap_lines import OpenCell, critical_keys, group_gaps
from shared.kernel.coverage_rules import Person
from shared.kernel.states import CellStatus, Specialty

NY = ZoneInfo("America/New_York")
SAT = date(2026, 3, 14)
U, M = CellStatus.UNCOVERED, CellStatus.SPECIALTY_MISMATCH
ANA = Person(1, "Ana", Specialty.BOTH)
BEN = Person(2, "Ben", Specialty.BODY_ONLY)
CY = Person(3, "Cy", Specialty.BOTH)
MID3_WINDOWS = (("Mid 5 pm - 6 pm", 17, 18), ("Mid 6 pm - 12 am", 18, 24), ("Mid  12am-1am", 24, 25))
WORKLISTS = ("CPMC US", "CPMC MR Neuro", "Allen CT Neuro", "Allen CT Body", "Allen US", "Allen MR Body", "NYPLH US")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NY) + timedelta(hours=hour)


def gap(
    window: str,
    hours: tuple[int, int],
    worklist: str,
    role: str = "Mid3",
    status: CellStatus = U,
    day: date = SAT,
    candidates: tuple[Candidate, ...] = (),
) -> GapCandidates:
    slot = Slot(day, window, worklist, worklist.split()[0], role, status, ((at(day, hours[0]), at(day, hours[1])),),
                None)  # fmt: skip
    return GapCandidates(slot, role, candidates, ())


def candidate(person: Person, nights: int = 0, weekends: int = 0) -> Candidate:
    return Candidate(person, nights, weekends, 0, ("reason",))


def test_a_missing_mid3_person_is_one_line_not_a_row_per_window_and_worklist() -> None:
    gaps = [gap(name, (start, end), w) for name, start, end in MID3_WINDOWS for w in WORKLISTS]
    assert len(gaps) == 21

    (group,) = group_gaps(gaps)

    assert group.text(NY) == f"2026-03-14 Mid3 17:00-01:00 uncovered: {', '.join(WORKLISTS)}"
    assert (group.gaps, group.windows) == (21, tuple(name for name, _, _ in MID3_WINDOWS))


def test_roles_and_dates_are_separate_lines_and_windows_of_one_role_one_line_in_order_of_date_and_hours() -> None:
    sunday = SAT + timedelta(days=1)
    gaps = [
        gap("ON 1 am - 8 am", (25, 32), "CPMC US", role="ON1"),
        gap("Mid 6 pm - 10 pm", (18, 22), "CPMC US"),
        gap("Mid 11 pm - 12 am", (23, 24), "CPMC US"),  # an hour after, the same Mid3 person
        gap("Mid 6 pm - 10 pm", (18, 22), "CPMC US", day=sunday),
        gap("Mid 6 pm - 10 pm", (18, 22), "Allen US", role="MidC"),
    ]
    assert [g.text(NY) for g in group_gaps(gaps)] == [
        "2026-03-14 Mid3 18:00-00:00 uncovered: CPMC US",
        "2026-03-14 MidC 18:00-22:00 uncovered: Allen US",
        "2026-03-14 ON1 01:00-08:00 uncovered: CPMC US",
        "2026-03-15 Mid3 18:00-22:00 uncovered: CPMC US",
    ]


def test_mismatched_worklists_are_named_apart_from_uncovered_ones() -> None:
    gaps = [gap("Mid 6 pm - 12 am", (18, 24), "CPMC US"), gap("Mid 6 pm - 12 am", (18, 24), "CPMC MR Neuro", status=M)]
    (group,) = group_gaps(gaps)
    assert (group.uncovered, group.mismatched) == (("CPMC US",), ("CPMC MR Neuro",))
    assert group.worklists_text() == "uncovered: CPMC US; mismatched: CPMC MR Neuro"


def test_only_the_given_gaps_are_grouped() -> None:
    gaps = [gap("Mid 6 pm - 12 am", (18, 24), w) for w in ("CPMC US", "Allen US")]
    summary = {
        "critical_gaps_by_date": {
            "2026-03-14": [
                {
                    "window": "Mid 6 pm - 12 am",
                    "worklist": "Allen US",
                    "role": "Mid3",
                    "status": "UNCOVERED",
                    "severity": "ERROR",
                }
            ]
        }
    }
    (group,) = group_gaps(gaps, critical_keys(summary))  # fmt: skip
    assert group.uncovered == ("Allen US",)


def test_candidates_who_fill_more_of_the_line_come_first_then_the_fairest() -> None:
    body, neuro = "Mid 6 pm - 12 am", "Mid  12am-1am"
    gaps = [
        gap(body, (18, 24), "Allen CT Body", candidates=(candidate(ANA, nights=3), candidate(BEN), candidate(CY, 1))),
        gap(neuro, (24, 25), "Allen CT Neuro", candidates=(candidate(ANA, nights=3), candidate(CY, 1))),
    ]
    (group,) = group_gaps(gaps)
    assert [(c.person.name, c.fills) for c in group.candidates] == [("Cy", 2), ("Ana", 2), ("Ben", 1)]
    assert group.candidate_text(group.candidates[0]) == (
        "Cy: fills all its gaps; 1 nights, 0 weekend nights, 0 holiday nights in the period"
    )
    assert group.candidate_text(group.candidates[2]).startswith("Ben: fills 1 of its 2 gaps; ")
    assert group.to_dict(NY, top=1)["candidates"] == [
        {"person_id": 3, "name": "Cy", "fills": 2, "nights": 1, "weekends": 0, "holidays": 0}
    ]


def left_out(person: Person, reason: str) -> LeftOut:
    return LeftOut(person, (reason,))


def test_a_line_plan_puts_forward_its_best_candidate_and_names_what_they_leave_open() -> None:
    body, neuro = "Mid 6 pm - 12 am", "Mid  12am-1am"
    cannot = "specialty: BODY_ONLY may not read Allen CT Neuro (NEURO)"
    gaps = [
        gap(body, (18, 24), "Allen CT Body", candidates=(candidate(BEN), candidate(CY, 1))),
        replace(
            gap(neuro, (24, 25), "Allen CT Neuro", candidates=(candidate(CY, 1),)), left_out=(left_out(BEN, cannot),)
        ),
    ]
    (group,) = group_gaps(gaps)
    best = group.plan()
    assert best is not None and best.person == CY and best.stays_open == ()
    assert best.fills == ((body, "Allen CT Body", U), (neuro, "Allen CT Neuro", U))

    ben = group.plan(BEN.id)
    assert ben is not None and ben.fills == ((body, "Allen CT Body", U),)
    assert ben.stays_open == (
        OpenCell(
            neuro, "Allen CT Neuro", U, f"Ben: {cannot}; 1 other candidate could, none of whom fills all the line"
        ),
    )
    assert group.plan(99) is None


def test_without_anyone_for_the_whole_line_the_plan_takes_the_one_who_fills_most() -> None:
    body, neuro = "Mid 6 pm - 12 am", "Mid  12am-1am"
    gaps = [
        gap(body, (18, 24), "Allen CT Body", candidates=(candidate(BEN),)),
        gap(body, (18, 24), "CPMC US", candidates=(candidate(BEN),)),
        replace(gap(neuro, (24, 25), "Allen CT Neuro"), left_out=(left_out(BEN, "specialty"),)),
    ]
    plan = group_gaps(gaps)[0].plan()
    assert plan is not None and plan.person == BEN and len(plan.fills) == 2
    assert plan.stays_open == (OpenCell(neuro, "Allen CT Neuro", U, "Ben: specialty"),)
