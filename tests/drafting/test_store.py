"""The problem builder: a version's template, kept assignments, roster, drafting inputs and history (the group's
PRODUCTION versions of the year before) become the engine's `Problem`."""

import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from services.drafting import inputs
from services.drafting.facts import Facts
from services.drafting.model import Category, Kept
from services.drafting.store import DraftRefused, Options, load_problem
from shared.db.models import Assignment, AssignmentCorrection, VersionLifecycle
from shared.kernel.states import Specialty
from tests.conftest import Services
from tests.drafting.stored import NY, draft_version
from tests.schedcu.test_coverage_queries import flat_version, roster_ids

pytestmark = pytest.mark.integration

GROUP = "builder-tests"
ROLES = ["ON1", "ON2", "MidC", "MidL", "Mid3"]


def production_month(session: Session, start: date, end: date, people: list[int]) -> int:
    """A PRODUCTION version of the group with every role held (the first five people in turn); its nights."""
    version_id = draft_version(session, start, end, GROUP)
    session.add(VersionLifecycle(version_id=version_id, state="PRODUCTION"))
    rows = [
        {"version_id": version_id, "schedule_date": start + timedelta(days=d), "role": role,
         "person_id": people[(d + i) % 5], "source": "AMION"}
        for d in range((end - start).days + 1)
        for i, role in enumerate(ROLES)
    ]  # fmt: skip
    session.execute(insert(Assignment), rows)
    return len(rows)


def test_the_version_and_the_inputs_become_the_problem(services: Services) -> None:
    may1, may31 = date(2026, 5, 1), date(2026, 5, 31)
    with Session(services.engine) as session, session.begin():
        people = roster_ids(session)
        april_nights = production_month(session, date(2026, 4, 1), date(2026, 4, 30), people)
        version_id = draft_version(session, may1, may31, GROUP)
        kept_id = session.scalar(
            insert(Assignment)
            .values(version_id=version_id, schedule_date=may1, role="ON1", person_id=people[0], source="AMION",
                    starts_at=datetime(2026, 5, 1, 22, tzinfo=NY), ends_at=datetime(2026, 5, 2, 8, tzinfo=NY))
            .returning(Assignment.id)
        )  # fmt: skip
        session.execute(
            insert(Assignment).values(
                version_id=version_id, schedule_date=may1, role="ON2", person_id=people[1], source="AMION"
            )
        )
        hidden = {"version_id": version_id, "schedule_date": may1, "role": "ON2", "person_id": people[1]}
        session.execute(insert(AssignmentCorrection).values(**hidden, hides_assignment_id=kept_id + 1))
        session.execute(insert(AssignmentCorrection).values(**{**hidden, "person_id": people[2]}, source="MANUAL"))
        inputs.set_group_limits(session, GROUP, {"consecutive": 2}, "t")
        inputs.set_person(session, GROUP, "Gray, Gia", {"fte": 0.5, "active_to": date(2026, 5, 20), "nights": 4}, "t")
        inputs.set_hours(session, GROUP, "ON2", "10p-8a", "t")
        rotation = inputs.add_rotation(session, GROUP, "tue", "Mid3", "Hill, Hal", date(2026, 4, 1), may31, "t")
        inputs.set_exception(session, GROUP, date(2026, 5, 12), "Mid3", None, "t")
        inputs.add_time_off(session, "Jones, Jay", date(2026, 4, 28), date(2026, 5, 3), "t")
        inputs.add_request(session, GROUP, "King, Kim", False, 2, "t", weekday_text="sat", role_text="ON1")
    with Session(services.engine) as session:
        problem = load_problem(session, version_id, Options(tz=NY))
    by_email = dict(zip(("ada", "ben", "cleo"), people[:3], strict=True))
    gray, hill, jones, king = (people[i] for i in (6, 7, 9, 10))

    assert (problem.start, problem.end, len(problem.role_dates)) == (may1, may31, 31 * 5)
    on2 = next(rd for rd in problem.role_dates if rd.day == may1 and rd.role == "ON2")
    on1 = next(rd for rd in problem.role_dates if rd.day == may1 and rd.role == "ON1")
    assert on2.hours == ((datetime(2026, 5, 1, 22, tzinfo=NY), datetime(2026, 5, 2, 8, tzinfo=NY)),)
    assert on1.hours == ((datetime(2026, 5, 2, 0, tzinfo=NY), datetime(2026, 5, 2, 8, tzinfo=NY)),)  # the template's
    assert sorted(problem.kept, key=lambda k: k.role) == [
        Kept(
            may1, "ON1", by_email["ada"], ((datetime(2026, 5, 1, 22, tzinfo=NY), datetime(2026, 5, 2, 8, tzinfo=NY)),)
        ),
        Kept(may1, "ON2", by_email["cleo"]),
    ]
    assert problem.limits.consecutive == 2
    assert problem.person_limits[gray].nights == 4
    reader = {r.id: r for r in problem.readers}
    assert (reader[gray].fte, reader[gray].active_to, reader[people[0]].fte) == (0.5, date(2026, 5, 20), 1.0)
    assert [(r.weekday, r.role, r.person_id, r.start, r.end) for r in problem.rotations] == [
        (1, "Mid3", hill, may1, may31)
    ]
    assert [(e.day, e.role, e.person_id) for e in problem.exceptions] == [(date(2026, 5, 12), "Mid3", None)]
    off = [sorted(t.days) for t in problem.time_off if t.person_id == jones]  # time off holds in every group
    assert off == [[may1, date(2026, 5, 2), date(2026, 5, 3)]]
    assert [(r.person_id, r.on, r.weight, r.weekday, r.role) for r in problem.requests] == [(king, False, 2, 5, "ON1")]
    assert rotation > 0

    # the night's specialties come from the coverage rules: a BODY_ONLY reader never holds ON1 (neuro worklists)
    assert not problem.night_ok(may1, {"ON1": Specialty.BODY_ONLY, "ON2": Specialty.BOTH})
    assert problem.night_ok(may1, {"ON1": Specialty.BOTH, "ON2": Specialty.BOTH})

    # April's nights count as held, and April's role-dates earned shares that add up to them
    held = sum(h.held.get(Category.NIGHTS, 0) for h in problem.history.values())
    shares = sum(h.share.get(Category.NIGHTS, 0.0) for h in problem.history.values())
    assert held == april_nights
    assert shares == pytest.approx(april_nights, abs=0.01)
    assert problem.history[people[0]].held[Category.NIGHTS] == april_nights // 5
    assert Facts(problem).shares[gray][Category.NIGHTS] > 0


def test_a_flat_version_is_refused(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = flat_version(session, date(2026, 5, 4), date(2026, 5, 10))
    with Session(services.engine) as session, pytest.raises(DraftRefused, match="flat layout"):
        load_problem(session, version_id, Options(tz=NY))
    with Session(services.engine) as session, pytest.raises(DraftRefused, match="does not exist"):
        load_problem(session, uuid.uuid4(), Options(tz=NY))
