"""Repair runs in this process, on the test database: a sick call becomes a run whose rows are the chain's moves
and `RepairProposed` in the outbox; approving applies every move as an audited OVERRIDE and requests a
recalculation; approving after one of its role-dates changed in Amion (the only move, or the second of a chain) is
refused and applies nothing; rejecting or editing a move rejects those that follow from it."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Row, delete, insert, text, update
from sqlalchemy.orm import Session

from schedcu.operations import repairs as deciding
from services.drafting.handlers import options_from, repair_schedule
from services.drafting.repairs import RepairRefused, production_versions_holding
from shared.db.models import Assignment, VersionLifecycle
from shared.kernel.contracts import RepairProposed, RepairSchedule
from shared.kernel.ids import draft_run_id as run_id_for
from shared.kernel.states import VersionState
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services
from tests.drafting.test_handler import on_test_database, one  # noqa: F401 - the fixture
from tests.schedcu.test_coverage_queries import template_version

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_test_database")]

START = date.today() + timedelta(days=10)  # repairs never move what is past
SICK_DAY = START + timedelta(days=3)


def sick_call(services: Services) -> tuple[uuid.UUID, uuid.UUID, int]:
    """A published week (every role held) and a sick call for the person on ON1 on SICK_DAY: the version, the
    run and the person."""
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, START, START + timedelta(days=6))
    sick = one(services, "SELECT person_id FROM assignments WHERE version_id = :v AND schedule_date = :d AND "
               "role = 'ON1'", v=version_id, d=SICK_DAY)  # fmt: skip
    assert sick is not None
    delivery = Delivery(f"repair:{uuid.uuid4()}", None, RepairSchedule.routing_key, False)
    command = RepairSchedule(
        version_id=version_id, requested_by="tests", reason="sick call", person_id=sick[0], first=SICK_DAY,
        time_limit_s=10, workers=1,
    )  # fmt: skip
    repair_schedule(command, delivery, get_settings())
    return version_id, run_id_for(delivery.message_id), sick[0]


def proposed(services: Services, run_id: uuid.UUID) -> RepairProposed:
    with services.engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM outbox WHERE routing_key = 'event.repair.proposed'")).scalars()
        events = [RepairProposed.model_validate_json(body) for body in bodies]
    (event,) = [e for e in events if e.run_id == run_id]
    return event


def test_a_sick_call_is_repaired_and_approved_all_together(services: Services) -> None:
    version_id, run_id, sick = sick_call(services)

    assert one(services, "SELECT kind, state FROM draft_runs WHERE id = :r", r=run_id) == ("repair", "completed")
    event = proposed(services, run_id)
    assert [(g.date, g.role) for g in event.gaps] == [(SICK_DAY, "ON1")]
    first = event.moves[0]
    assert (first.date, first.role, first.displaced_id, first.rule, first.after) == (
        SICK_DAY, "ON1", sick, "unavailable", None,
    )  # fmt: skip
    assert first.person_id is not None and first.person_id != sick
    assert event.changes == len(event.moves) and event.unfilled == []
    assert event.proven and event.lower_bound == event.changes
    assert [f.category for f in event.fairness] == ["holiday nights", "weekend nights", "nights"]
    rows = one(services, "SELECT count(*), min(position) FROM draft_rows WHERE run_id = :r AND state = 'PROPOSED'",
               r=run_id)  # fmt: skip
    assert rows == (event.changes, 0)

    with Session(services.engine) as session, session.begin():
        approved = deciding.approve(session, run_id, "chief")
    assert approved.moves[0] == first.text
    assert one(services, "SELECT person_id, source FROM assignment_corrections WHERE version_id = :v AND "
               "schedule_date = :d AND role = 'ON1' AND source IS NOT NULL", v=version_id, d=SICK_DAY) == (
        first.person_id, "OVERRIDE",
    )  # fmt: skip
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r AND state = 'APPROVED'", r=run_id) == (
        event.changes,
    )  # fmt: skip
    assert one(services, "SELECT actor, action, to_state FROM audit_log WHERE entity = 'draft_run' AND "
               "entity_id = :r", r=str(run_id)) == ("chief", "approve", "APPROVED")  # fmt: skip
    assert one(services, "SELECT 1 FROM outbox WHERE message_id = :m", m=f"repair:{run_id}:recalculate")

    with Session(services.engine) as session, session.begin(), pytest.raises(RepairRefused, match="no open move"):
        deciding.approve(session, run_id, "chief")


def test_approving_after_a_row_changed_in_amion_is_refused_and_applies_nothing(services: Services) -> None:
    version_id, run_id, sick = sick_call(services)
    with Session(services.engine) as session, session.begin():  # Amion drops the sick person's row meanwhile
        session.execute(
            delete(Assignment).where(
                Assignment.version_id == version_id, Assignment.schedule_date == SICK_DAY,
                Assignment.role == "ON1",
            )
        )  # fmt: skip
    sick_name = one(services, "SELECT name FROM people WHERE id = :p", p=sick)
    assert sick_name is not None

    assert refused_approval(services, run_id) == (
        f"Refused, nothing applied: ON1 on {SICK_DAY.isoformat()} changed since the repair was proposed (it had "
        f"{sick_name[0]}, it now has nobody). Start a new repair."
    )
    assert one(services, "SELECT count(*) FROM assignment_corrections WHERE version_id = :v", v=version_id) == (0,)
    assert one(services, "SELECT count(*) FROM draft_rows WHERE run_id = :r AND state <> 'PROPOSED'", r=run_id) == (
        0,
    )  # fmt: skip


def refused_approval(services: Services, run_id: uuid.UUID) -> str:
    """Why approving the run is refused (a test fails when it is not)."""
    with Session(services.engine) as session, session.begin(), pytest.raises(RepairRefused) as refused:
        deciding.approve(session, run_id, "chief")
    return str(refused.value)


def holder(services: Services, version_id: uuid.UUID, role: str) -> int:
    found = one(services, "SELECT person_id FROM assignments WHERE version_id = :v AND schedule_date = :d AND "
                "role = :r", v=version_id, d=SICK_DAY, r=role)  # fmt: skip
    assert found is not None
    return int(found[0])


def chain_of_two(services: Services, version_id: uuid.UUID, run_id: uuid.UUID, sick: int) -> tuple[int, int]:
    """The run's moves replaced by a chain of two as the engine words it: A (who holds MidC) takes the sick
    person's ON1, and B (who holds MidL) takes A's MidC that night, following from the first move. Returns A, B."""
    a, b = holder(services, version_id, "MidC"), holder(services, version_id, "MidL")
    with services.engine.begin() as conn:
        conn.execute(text("DELETE FROM draft_rows WHERE run_id = :r"), {"r": run_id})
        conn.execute(
            text("INSERT INTO draft_rows (run_id, schedule_date, role, person_id, state, displaced_person_id, "
                 "position, after_position, rule, because) VALUES "
                 "(:r, :d, 'ON1', :a, 'PROPOSED', :sick, 0, NULL, 'unavailable', 'A takes ON1'), "
                 "(:r, :d, 'MidC', :b, 'PROPOSED', :a, 1, 0, 'same date', 'B takes MidC')"),
            {"r": run_id, "d": SICK_DAY, "a": a, "b": b, "sick": sick},
        )  # fmt: skip
    return a, b


def test_rejecting_a_move_rejects_the_moves_that_follow_from_it(services: Services) -> None:
    """Rejecting the first move of a chain of two leaves the second pointless: the re-check rejects it, saying
    why."""
    version_id, run_id, sick = sick_call(services)
    chain_of_two(services, version_id, run_id, sick)
    with Session(services.engine) as session, session.begin():
        why = deciding.reject(session, run_id, 0, "A is on leave", "chief", options_from(get_settings()))
    assert why == [f"move 1 (MidC on {SICK_DAY.isoformat()}) rejected: it follows from move 0, which was rejected"]
    assert one(services, "SELECT string_agg(state, ',' ORDER BY position) FROM draft_rows WHERE run_id = :r",
               r=run_id) == ("REJECTED,REJECTED",)  # fmt: skip
    assert one(services, "SELECT count(*) FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r AND "
               "action = 'reject'", r=str(run_id)) == (2,)  # fmt: skip
    with Session(services.engine) as session, session.begin(), pytest.raises(RepairRefused, match="no open move"):
        deciding.approve(session, run_id, "chief")


def free_that_night(services: Services, version_id: uuid.UUID, *besides: int) -> list[Row[Any]]:
    """People who read everything and hold no role on SICK_DAY, `besides` left out."""
    with services.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id, name, email FROM people p WHERE specialty = 'BOTH' AND NOT (id = ANY(:b)) AND NOT "
                     "EXISTS (SELECT 1 FROM assignments a WHERE a.version_id = :v AND a.person_id = p.id AND "
                     "a.schedule_date = :d) ORDER BY id"), {"v": version_id, "d": SICK_DAY, "b": list(besides)},
            )
        )  # fmt: skip


def test_editing_the_first_move_of_a_chain_rejects_the_move_that_follows_from_it(services: Services) -> None:
    """Another person on move 0 frees A's MidC no longer: move 1 (B taking A's MidC) is re-checked and rejected,
    saying it follows from the edited move; move 0 stands with its new person."""
    version_id, run_id, sick = sick_call(services)
    a, b = chain_of_two(services, version_id, run_id, sick)
    options = options_from(get_settings())
    with Session(services.engine) as session, session.begin():
        for free in free_that_night(services, version_id, a, b, sick):  # the first one whom no rest rule keeps off
            try:
                with session.begin_nested():
                    why = deciding.edit(session, run_id, 0, free.email, "chief", options)
                break
            except RepairRefused:
                continue
    assert why == [
        f"move 0 goes to {free.name}",
        f"move 1 (MidC on {SICK_DAY.isoformat()}) rejected: it follows from move 0, which was edited",
    ]
    assert one(services, "SELECT string_agg(state || ':' || person_id, ',' ORDER BY position) FROM draft_rows "
               "WHERE run_id = :r", r=run_id) == (f"EDITED:{free.id},REJECTED:{b}",)  # fmt: skip
    assert one(services, "SELECT reason FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r AND "
               "action = 'reject'", r=str(run_id)) == (
        "re-checked: it follows from move 0, which was edited",
    )  # fmt: skip


def test_approving_a_chain_whose_second_row_changed_in_amion_is_refused_and_applies_nothing(
    services: Services,
) -> None:
    """A chain of two whose first role-date is as the repair found it, but Amion gave A's MidC to someone else
    meanwhile: the approval names that row and what it has now, and neither move is applied."""
    version_id, run_id, sick = sick_call(services)
    a, _ = chain_of_two(services, version_id, run_id, sick)
    other = holder(services, version_id, "ON2")
    with Session(services.engine) as session, session.begin():  # Amion's MidC goes to the ON2 reader meanwhile
        session.execute(
            update(Assignment)
            .where(Assignment.version_id == version_id, Assignment.schedule_date == SICK_DAY, Assignment.role == "MidC")
            .values(person_id=other)
        )  # fmt: skip
    with services.engine.connect() as conn:
        names = {pid: name for pid, name in conn.execute(text("SELECT id, name FROM people"))}

    assert refused_approval(services, run_id) == (
        f"Refused, nothing applied: MidC on {SICK_DAY.isoformat()} changed since the repair was proposed (it had "
        f"{names[a]}, it now has {names[other]}). Start a new repair."
    )
    assert one(services, "SELECT count(*) FROM assignment_corrections WHERE version_id = :v", v=version_id) == (0,)
    assert one(services, "SELECT string_agg(state, ',' ORDER BY position) FROM draft_rows WHERE run_id = :r",
               r=run_id) == ("PROPOSED,PROPOSED",)  # fmt: skip
    assert one(services, "SELECT count(*) FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r",
               r=str(run_id)) == (0,)  # fmt: skip
    assert one(services, "SELECT count(*) FROM outbox WHERE message_id = :m", m=f"repair:{run_id}:recalculate") == (
        0,
    )  # fmt: skip


def test_editing_a_move_is_refused_with_the_rule_and_otherwise_re_checks_the_rest(services: Services) -> None:
    version_id, run_id, sick = sick_call(services)
    (first,) = one(services, "SELECT person_id FROM draft_rows WHERE run_id = :r AND position = 0", r=run_id) or ()
    (busy,) = one(services, "SELECT person_id FROM assignments WHERE version_id = :v AND schedule_date = :d AND "
                  "role = 'ON2'", v=version_id, d=SICK_DAY) or ()  # fmt: skip
    busy_name, busy_email = one(services, "SELECT name, email FROM people WHERE id = :p", p=busy) or ()
    (sick_email,) = one(services, "SELECT email FROM people WHERE id = :p", p=sick) or ()
    options = options_from(get_settings())
    with Session(services.engine) as session, session.begin(), pytest.raises(RepairRefused) as refused:
        deciding.edit(session, run_id, 0, busy_email, "chief", options)
    assert str(refused.value) == (
        f"{busy_name} cannot take ON1 on {SICK_DAY.isoformat()}: {busy_name} holds ON2 that night."
    )
    with (
        Session(services.engine) as session,
        session.begin(),
        pytest.raises(RepairRefused, match="is on time off"),
    ):
        deciding.edit(session, run_id, 0, sick_email, "chief", options)
    assert one(services, "SELECT person_id, state FROM draft_rows WHERE run_id = :r AND position = 0", r=run_id) == (
        first, "PROPOSED",
    )  # fmt: skip

    with Session(services.engine) as session, session.begin():
        for free in free_that_night(services, version_id, first, sick):  # the first one whom no rest rule keeps off it
            try:
                with session.begin_nested():
                    # the rest still stands
                    moved = deciding.edit(session, run_id, 0, free.email, "chief", options)
                    assert moved == [f"move 0 goes to {free.name}"]
                break
            except RepairRefused:
                continue
    assert one(services, "SELECT person_id, state FROM draft_rows WHERE run_id = :r AND position = 0", r=run_id) == (
        free.id, "EDITED",
    )  # fmt: skip
    with Session(services.engine) as session, session.begin():
        deciding.approve(session, run_id, "chief")
    assert one(services, "SELECT person_id FROM assignment_corrections WHERE version_id = :v AND schedule_date = :d "
               "AND role = 'ON1' AND source IS NOT NULL", v=version_id, d=SICK_DAY) == (free.id,)  # fmt: skip


def test_time_off_over_a_production_versions_dates_names_that_version(services: Services) -> None:
    """What `schedcu draft timeoff add` repairs: the production versions that assign the person on those dates."""
    with Session(services.engine) as session, session.begin():
        staging = template_version(session, START, START + timedelta(days=6))
        production = template_version(session, START, START + timedelta(days=6))
        session.execute(insert(VersionLifecycle).values(version_id=production, state=VersionState.PRODUCTION))
    (person,) = one(services, "SELECT person_id FROM assignments WHERE version_id = :v AND schedule_date = :d "
                    "AND role = 'ON1'", v=staging, d=SICK_DAY) or ()  # fmt: skip
    with Session(services.engine) as session:
        assert production_versions_holding(session, person, SICK_DAY, SICK_DAY) == [production]
        before = START - timedelta(days=3)
        assert production_versions_holding(session, person, before, before) == []


def test_time_off_over_a_production_versions_dates_puts_its_repair_in_the_outbox_of_the_same_transaction(
    services: Services,
) -> None:
    """`schedcu draft timeoff add` over published dates: the time off and its `RepairSchedule` commit together, so
    a crash after the commit cannot lose the repair (a relay publishes it), and an entry rolled back requests none.
    The command in the outbox starts the repair run it names."""
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, START, START + timedelta(days=6))
        session.execute(insert(VersionLifecycle).values(version_id=version_id, state=VersionState.PRODUCTION))
    (email,) = one(
        services, "SELECT p.email FROM assignments a JOIN people p ON p.id = a.person_id WHERE a.version_id = :v "
        "AND a.schedule_date = :d AND a.role = 'ON1'", v=version_id, d=SICK_DAY,
    ) or ()  # fmt: skip

    class Crash(Exception):
        pass

    with pytest.raises(Crash), Session(services.engine) as session, session.begin():
        deciding.add_time_off(session, email, SICK_DAY, SICK_DAY, "chief", "flu", None)
        raise Crash
    requested = (
        "SELECT message_id, body FROM outbox WHERE routing_key = 'command.drafting.repair' AND message_id LIKE :v"
    )
    with services.engine.connect() as conn:
        assert conn.execute(text(requested), {"v": f"repair:{version_id}:%"}).all() == []

    with Session(services.engine) as session, session.begin():
        added = deciding.add_time_off(session, email, SICK_DAY, SICK_DAY, "chief", "flu", None)
    run_id = dict(added.repairs)[version_id]  # earlier tests' production versions hold the same person too
    assert f"{added.person} holds roles in production version {version_id} then: repair requested, run {run_id}" in (
        added.lines()
    )
    with services.engine.connect() as conn:
        ((message_id, body),) = conn.execute(text(requested), {"v": f"repair:{version_id}:%"}).all()
    command = RepairSchedule.model_validate_json(body)
    assert (command.version_id, command.first, command.last, command.reason) == (version_id, SICK_DAY, SICK_DAY, "flu")
    assert one(services, "SELECT first_date, note FROM draft_time_off WHERE id = :i", i=added.row_id) == (
        SICK_DAY, "flu",
    )  # fmt: skip

    repair_schedule(command.model_copy(update={"time_limit_s": 10, "workers": 1}),
                    Delivery(message_id, message_id, RepairSchedule.routing_key, False), get_settings())  # fmt: skip
    assert one(services, "SELECT kind, state FROM draft_runs WHERE id = :r", r=run_id) == ("repair", "completed")
    assert proposed(services, run_id).changes >= 1
