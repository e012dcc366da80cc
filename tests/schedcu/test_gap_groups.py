"""Gaps grouped the way a scheduler fixes them: one line per date, role and span of hours."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from schedcu.gap_groups import critical_keys, group_gaps
from services.coverage.candidates import Candidate, GapCandidates, Slot
from services.coverage.rules import Person
from shared.states import CellStatus, Specialty

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


def test_windows_apart_roles_and_dates_are_separate_lines_in_order_of_date_and_hours() -> None:
    sunday = SAT + timedelta(days=1)
    gaps = [
        gap("ON 1 am - 8 am", (25, 32), "CPMC US", role="ON1"),
        gap("Mid 6 pm - 10 pm", (18, 22), "CPMC US"),
        gap("Mid 11 pm - 12 am", (23, 24), "CPMC US"),  # an hour after: not contiguous
        gap("Mid 6 pm - 10 pm", (18, 22), "CPMC US", day=sunday),
        gap("Mid 6 pm - 10 pm", (18, 22), "Allen US", role="MidC"),
    ]
    assert [g.text(NY) for g in group_gaps(gaps)] == [
        "2026-03-14 Mid3 18:00-22:00 uncovered: CPMC US",
        "2026-03-14 MidC 18:00-22:00 uncovered: Allen US",
        "2026-03-14 Mid3 23:00-00:00 uncovered: CPMC US",
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
        "Cy: fills all its gaps; 1 nights, 0 weekend nights, 0 holiday nights so far"
    )
    assert group.candidate_text(group.candidates[2]).startswith("Ben: fills 1 of its 2 gaps; ")
    assert group.to_dict(NY, top=1)["candidates"] == [
        {"person_id": 3, "name": "Cy", "fills": 2, "nights": 1, "weekends": 0, "holidays": 0}
    ]
