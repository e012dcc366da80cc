"""Who can fill a gap: specialty (and the night's variant), a role that already has its person, overlapping
hours and rest judged on the whole role's hours, and the fairness order over the period with its ties."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.coverage.candidates import GapCandidates, rank_candidates, template_slots
from shared.kernel.coverage_rules import (
    Assignment,
    Person,
    Specialty,
    booked_shifts,
    calculate,
    template_role_hours,
    worklist_specialties,
)
from shared.kernel.roles import MID_C, ON1, ON2, ON_NEURO
from shared.kernel.states import CellStatus
from shared.kernel.template_model import Category, Responsibility, Variant, Window

NY = ZoneInfo("America/New_York")
THU, FRI, SAT, SUN, MON, TUE = (date(2024, 6, d) for d in (6, 7, 8, 9, 10, 11))
REST = timedelta(hours=10)

ANA = Person(1, "Ana Both", Specialty.BOTH)
BEN = Person(2, "Ben Body", Specialty.BODY_ONLY)
NED = Person(3, "Ned Neuro", Specialty.NEURO_ONLY)
ZOE = Person(4, "Zoe Both", Specialty.BOTH)
AMY = Person(5, "amy Both", Specialty.BOTH)


def _window(
    sheet: str, category: Category, variant: Variant | None, hours: tuple[time, time], *marks: tuple[str, str]
) -> Window:
    return Window(sheet, category, None, variant, hours[0], hours[1],
                  tuple(Responsibility(worklist, role) for worklist, role in marks))  # fmt: skip


ON_NEURO_NIGHT = _window("ON Neuro 10 pm - 8 am", Category.ON, Variant.NEURO, (time(22), time(8)),
                         ("CPMC CT Neuro", ON1), ("NYPLH US", ON2))  # fmt: skip
ON_BODY_NIGHT = _window("ON Body 10 pm - 8 am", Category.ON, Variant.BODY, (time(22), time(8)),
                        ("CPMC CT Neuro", ON_NEURO), ("NYPLH US", "ON Body"))  # fmt: skip
MID_EVENING = _window("Mid 5 pm - 10 pm", Category.MID, None, (time(17), time(22)), ("Allen CT Body", MID_C))
TEMPLATE = [ON_NEURO_NIGHT, ON_BODY_NIGHT, MID_EVENING]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


def ranked(
    assignments: list[Assignment],
    people: list[Person],
    start: date = MON,
    end: date = MON,
    no_data: dict[date, str] | None = None,
    holidays: frozenset[date] = frozenset(),
    template: list[Window] = TEMPLATE,
) -> list[GapCandidates]:
    roster = {p.id: p for p in people}
    result = calculate(template, start, end, assignments, roster, holidays, tz=NY, no_data=no_data or {})
    specialties, _ = worklist_specialties(template)
    slots = template_slots(result.cells, template, specialties, NY)
    shifts = booked_shifts(template, assignments, holidays, NY)
    hours = template_role_hours(template, holidays, NY)
    return rank_candidates(slots, assignments, shifts, roster, roster, hours, holidays, REST, NY)


def gap(found: list[GapCandidates], worklist: str, day: date = MON) -> GapCandidates:
    return next(g for g in found if g.slot.worklist == worklist and g.slot.schedule_date == day)


def names(g: GapCandidates) -> list[str]:
    return [c.person.name for c in g.candidates]


def why_not(g: GapCandidates) -> dict[str, tuple[str, ...]]:
    return {o.person.name: o.reasons for o in g.left_out}


def test_only_people_who_may_read_the_worklist_are_candidates() -> None:
    # MON: ON1 and ON2 are nobody's; the CPMC CT Neuro gap (ON1) is neuro
    found = gap(ranked([], [ANA, NED, ZOE, BEN]), "CPMC CT Neuro")
    assert found.slot.status is CellStatus.UNCOVERED and found.assign_role == ON1
    assert names(found) == ["Ana Both", "Ned Neuro", "Zoe Both"]
    assert why_not(found)["Ben Body"][0] == "specialty: BODY_ONLY may not read CPMC CT Neuro (NEURO)"
    assert found.candidates[0].reasons == (
        "BOTH may read CPMC CT Neuro (NEURO)",
        "free 22:00-08:00 (ON1) with 10 h of rest before and after",
        "0 nights, 0 weekend nights, 0 holiday nights in the period",
    )


def test_a_body_only_person_who_would_switch_the_night_to_the_body_sheets_is_left_out() -> None:
    # MON: Ana on ON1, ON2 empty: NYPLH US (ON2) is uncovered; Ben on ON2 would bring in the Body sheets
    found = gap(ranked([Assignment(MON, ON1, ANA.id)], [ANA, BEN, ZOE]), "NYPLH US")
    assert names(found) == ["Zoe Both"]
    assert why_not(found)["Ben Body"] == ("specialty: as BODY_ONLY on ON2 they would switch the night's sheets",)


def test_on_a_body_night_the_effective_role_is_filled_through_its_written_role() -> None:
    # Ben (BODY_ONLY) on ON1 makes it a Body night: ON1 is ON Body, the empty ON2 is ON Neuro
    found = gap(ranked([Assignment(MON, ON1, BEN.id)], [BEN, NED, ZOE]), "CPMC CT Neuro")
    assert found.slot.role == ON_NEURO and found.assign_role == ON2
    assert names(found) == ["Ned Neuro", "Zoe Both"]


def test_a_person_booked_at_overlapping_hours_is_left_out_with_that_booking() -> None:
    amion_night = Assignment(MON, MID_C, ZOE.id, "AMION", at(MON, 17), at(MON, 23))
    found = gap(ranked([amion_night], [ANA, ZOE]), "CPMC CT Neuro")
    assert names(found) == ["Ana Both"]
    assert why_not(found)["Zoe Both"] == ("booked at overlapping hours: MidC on 2024-06-10 17:00-23:00 (Amion)",)


def test_touching_hours_do_not_overlap() -> None:
    found = gap(ranked([Assignment(MON, MID_C, ZOE.id)], [ZOE]), "CPMC CT Neuro")  # MidC 17:00-22:00
    assert names(found) == ["Zoe Both"]


def test_a_rest_of_exactly_the_period_is_enough_and_a_shift_ending_after_noon_needs_none() -> None:
    # the gap: ON1 on MON from 22:00; Ana ends 12:00 (morning, included): 10 h; Zoe ends 12:30: not morning
    ana = Assignment(MON, "DAY", ANA.id, "AMION", at(MON, 2), at(MON, 12))
    zoe = Assignment(MON, "DAY", ZOE.id, "AMION", at(MON, 5), at(MON, 12) + timedelta(minutes=30))
    found = gap(ranked([ana, zoe], [ANA, ZOE]), "CPMC CT Neuro")
    assert names(found) == ["Ana Both", "Zoe Both"]


def test_a_shift_ending_in_the_morning_within_the_rest_period_before_the_gap_leaves_the_person_out() -> None:
    # the gap: MidC on MON 17:00-22:00; Zoe's night of SUN ends 08:00 MON, 9 h before: too little rest
    night = Assignment(SUN, ON1, ZOE.id, "AMION", at(SUN, 23), at(MON, 8))
    found = gap(ranked([night, Assignment(MON, ON1, ANA.id), Assignment(MON, ON2, ANA.id)], [ANA, ZOE]),
                "Allen CT Body")  # fmt: skip
    assert why_not(found)["Zoe Both"] == (
        "rest: ON1 on 2024-06-09 23:00-08:00 (Amion) ends at 08:00, 9 h before MidC starts",
    )


def test_a_gap_ending_in_the_morning_needs_rest_before_the_persons_next_shift() -> None:
    # the gap: ON1 on MON 22:00-08:00 TUE; Zoe starts a shift at 15:00 TUE, 7 h after the gap ends
    later = Assignment(TUE, MID_C, ZOE.id, "AMION", at(TUE, 15), at(TUE, 20))
    found = gap(ranked([later], [ANA, ZOE]), "CPMC CT Neuro")
    assert names(found) == ["Ana Both"]
    assert why_not(found)["Zoe Both"] == (
        "rest: ON1 ends at 08:00 and MidC on 2024-06-11 15:00-20:00 (Amion) starts 7 h later",
    )


def test_fewest_nights_then_weekends_then_holidays_then_name_over_the_whole_period() -> None:
    # THU..TUE, the gap on MON: Ana 2 nights (SAT, SUN), Ned 1 (SAT), Zoe 1 (THU), Amy 1 (FRI, a holiday), and
    # Ben 2, one of them after the gap (TUE): the whole period counts, not only the nights before the gap
    nights = [
        Assignment(SAT, MID_C, ANA.id),
        Assignment(SUN, MID_C, ANA.id),
        Assignment(SAT, MID_C, NED.id),
        Assignment(THU, MID_C, ZOE.id),
        Assignment(FRI, ON1, AMY.id),
        Assignment(MON, "DAY", NED.id),  # a day shift is no night
        Assignment(THU, MID_C, BEN.id),
        Assignment(TUE, MID_C, BEN.id),
    ]
    found = ranked(nights, [ANA, NED, ZOE, AMY, BEN], THU, TUE, holidays=frozenset({FRI}))
    body = gap(found, "Allen CT Body")  # MidC: Ned (NEURO_ONLY) may not read it
    assert names(body) == ["Zoe Both", "amy Both", "Ben Body", "Ana Both"]
    assert [(c.nights, c.weekends, c.holidays) for c in body.candidates] == [
        (1, 0, 0),
        (1, 0, 1),
        (2, 0, 0),
        (2, 2, 0),
    ]


def test_ties_are_broken_by_name_ignoring_case() -> None:
    found = gap(ranked([], [ZOE, AMY, ANA]), "CPMC CT Neuro")
    assert names(found) == ["amy Both", "Ana Both", "Zoe Both"]


def test_a_date_without_amion_data_has_no_gaps_and_no_candidates() -> None:
    found = ranked([], [ANA, ZOE], no_data={MON: "the Amion scrape failed"})
    assert found == []


def test_nobody_is_a_candidate_for_a_mismatch_on_a_role_that_already_has_its_person() -> None:
    # Ben (BODY_ONLY) alone on MidC: Allen CT Neuro of MidC is a mismatch; a second person on MidC is no fix
    neuro_evening = _window("Mid 5 pm - 10 pm", Category.MID, None, (time(17), time(22)),
                            ("Allen CT Body", MID_C), ("Allen CT Neuro", MID_C))  # fmt: skip
    found = gap(ranked([Assignment(MON, MID_C, BEN.id)], [ANA, BEN, ZOE], template=[neuro_evening]), "Allen CT Neuro")
    assert found.slot.status is CellStatus.SPECIALTY_MISMATCH and names(found) == []
    assert set(why_not(found)) == {"Ana Both", "Ben Body", "Zoe Both"}
    assert why_not(found)["Zoe Both"] == (
        "MidC on 2024-06-10 is held by Ben Body: a proposal never adds a person to a role that has the people it "
        "needs (replacing them is a repair)",
    )


def test_a_candidate_is_judged_on_the_whole_role_not_only_the_gaps_window() -> None:
    # MidC reads Allen CT Body 17:00-22:00 and Allen US 22:00-23:00. Zoe is booked 22:30-23:30: free during
    # the Allen CT Body gap's window, not during the role, which approving would give her whole (17:00-23:00)
    early = _window("Mid 5 pm - 10 pm", Category.MID, None, (time(17), time(22)), ("Allen CT Body", MID_C))
    late = _window("Mid 10 pm - 11 pm", Category.MID, None, (time(22), time(23)), ("Allen US", MID_C))
    elsewhere = Assignment(
        MON, "MidL", ZOE.id, "AMION", at(MON, 22) + timedelta(minutes=30), at(MON, 23) + timedelta(minutes=30)
    )
    found = gap(ranked([elsewhere], [ANA, ZOE], template=[early, late]), "Allen CT Body")
    assert found.slot.hours == ((at(MON, 17), at(MON, 22)),)
    assert names(found) == ["Ana Both"]
    assert why_not(found)["Zoe Both"] == ("booked at overlapping hours: MidL on 2024-06-10 22:30-23:30 (Amion)",)
    assert found.candidates[0].reasons[1] == "free 17:00-23:00 (MidC) with 10 h of rest before and after"
