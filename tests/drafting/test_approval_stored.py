"""Approving a stored draft, on the test database: an edit that breaks a hard rule is refused naming it, an
edit that keeps them is stored EDITED, and one that fills a role the run left unfilled takes it off the run's
unfilled roles; approving some rows makes exactly those the version's assignments (source
DRAFT, audited) and asks for a recalculation; once Amion has someone else on an approved role-date, Amion counts
and the calculation reports DRIFT."""

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schedcu.operations.draft_approval import approve
from schedcu.operations.draft_new import draft_version as cli_draft_version
from schedcu.testing.demo_data import ROSTER
from services.coverage.calculation import CalculationOptions, calculate_and_store
from services.drafting import approval, inputs, runs
from services.drafting.handlers import draft_schedule, options_from
from shared.db.models import Assignment, Person
from shared.kernel.contracts import DraftSchedule
from shared.kernel.ids import draft_run_id
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services
from tests.drafting.stored import NY, draft_version

pytestmark = pytest.mark.integration

START, END = date(2026, 7, 6), date(2026, 7, 12)


@pytest.fixture
def on_test_database(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCHEDCU_DATABASE_URL", services.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def rows(services: Services, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with services.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def drafted(services: Services, group: str | None = None, nights: int | None = None) -> tuple[uuid.UUID, uuid.UUID]:
    """A draft of a version of a group of its own; `nights`: the group's limit of nights per period."""
    group = group or f"approval-{uuid.uuid4().hex[:8]}"
    with Session(services.engine) as session, session.begin():
        version_id = draft_version(session, START, END, group=group)
        inputs.set_group_limits(session, group, {"nights": nights}, "chief")
    delivery = Delivery(f"draft:{uuid.uuid4()}", None, DraftSchedule.routing_key, False)
    draft_schedule(
        DraftSchedule(version_id=version_id, requested_by="tests", time_limit_s=5, workers=1), delivery, get_settings()
    )
    return version_id, draft_run_id(delivery.message_id)


def test_edit_approve_per_row_and_drift(services: Services, on_test_database: None) -> None:
    version_id, run_id = drafted(services)
    night = rows(services, "SELECT schedule_date, role, person_id FROM draft_rows WHERE run_id = :r "
                 "ORDER BY schedule_date, role", r=run_id)  # fmt: skip
    (day, role, holder), (_, _, other) = [r for r in night if r[0] == START][:2]
    options = options_from(get_settings())

    with Session(services.engine) as session, session.begin():
        doubled = session.get_one(Person, other)
        with pytest.raises(approval.ApprovalError, match=f"{doubled.name} cannot hold {role} on {day}: .*holds"):
            approval.edit(session, run_id, day, role, doubled, options, "chief", "swap")
    assert rows(services, "SELECT person_id, state FROM draft_rows WHERE run_id = :r AND schedule_date = :d AND "
                "role = :o", r=run_id, d=day, o=role) == [(holder, "PROPOSED")]  # fmt: skip

    with Session(services.engine) as session, session.begin():
        moved, calculation = approve(session, run_id, [(day, role)], "chief", None)
    assert [(m.day, m.role) for m in moved] == [(day, role)] and calculation is not None
    assert rows(services, "SELECT state, count(*) FROM draft_rows WHERE run_id = :r GROUP BY state ORDER BY state",
                r=run_id) == [("APPROVED", 1), ("PROPOSED", len(night) - 1)]  # fmt: skip
    assert rows(services, "SELECT schedule_date, role, person_id, source FROM assignment_corrections "
                "WHERE version_id = :v", v=version_id) == [(day, role, holder, "DRAFT")]  # fmt: skip
    audited = rows(services, "SELECT entity, action, from_state, to_state, actor FROM audit_log WHERE "
                   "(entity = 'draft_row' AND entity_id LIKE :r) OR (entity = 'assignment' AND entity_id LIKE :v) "
                   "ORDER BY id", r=f"{run_id}:%", v=f"{version_id}:%")  # fmt: skip
    assert audited == [("draft_row", "approved", "PROPOSED", "APPROVED", "chief"),
                       ("assignment", "add", None, "DRAFT", "chief")]  # fmt: skip
    assert rows(
        services, "SELECT routing_key FROM outbox WHERE message_id LIKE :m", m=f"draft:{run_id}:approved:%"
    ) == [("command.coverage.calculate",)]
    with Session(services.engine) as session, session.begin(), pytest.raises(approval.ApprovalError, match="APPROVED"):
        approve(session, run_id, [(day, role)], "chief", None)

    names = dict(rows(services, "SELECT id, name FROM people"))
    amion_person = next(pid for pid in names if pid not in (holder, other))
    with Session(services.engine) as session, session.begin():  # a scrape after the approval: Amion has another
        session.add(Assignment(version_id=version_id, schedule_date=day, role=role, person_id=amion_person,
                                  source="AMION"))  # fmt: skip
    with Session(services.engine) as session, session.begin():
        calculated = calculate_and_store(session, version_id, uuid.uuid4(), CalculationOptions(tz=NY))
    assert calculated is not None
    drift = [(f.severity, f.text) for f in calculated.result.findings if f.code == "DRIFT"]
    assert drift == [("INFO", f"{day} {role}: Amion has {names[amion_person]}, the approved draft {names[holder]}")]
    held = [c.people for c in calculated.result.cells if c.schedule_date == day and c.role == role]
    assert held and all(names[holder] not in people for people in held)


def test_an_edit_that_fills_an_unfilled_role_takes_it_off_the_runs_unfilled_roles(
    services: Services, on_test_database: None
) -> None:
    group = f"approval-{uuid.uuid4().hex[:8]}"
    _, run_id = drafted(services, group, nights=0)  # nobody may work a night: every role is left unfilled
    with Session(services.engine) as session:
        view = runs.run_view(session, run_id)
    assert view is not None and view["filled"] == 0 and view["unfilled"] == view["to_fill"] > 0
    open_roles = [(u["date"], u["role"]) for u in view["explanations"]["unfilled"]]
    assert len(open_roles) == view["to_fill"]
    day, role = date.fromisoformat(open_roles[0][0]), open_roles[0][1]

    with Session(services.engine) as session, session.begin():
        inputs.set_group_limits(session, group, {"nights": None}, "chief", "limit lifted")
        email = next(p["email"] for p in ROSTER if p["specialty"] == "BOTH")
        person = session.scalars(select(Person).where(Person.email == email)).one()
        approval.edit(session, run_id, day, role, person, options_from(get_settings()), "chief", "covering")

    with Session(services.engine) as session:
        after = runs.run_view(session, run_id)
    assert after is not None
    assert (after["filled"], after["unfilled"]) == (1, view["to_fill"] - 1)
    assert [(u["date"], u["role"]) for u in after["explanations"]["unfilled"]] == open_roles[1:]
    assert [(r["date"], r["role"], r["state"]) for r in after["rows"]] == [(day.isoformat(), role, "EDITED")]


def test_a_draft_of_a_period_fills_the_groups_newest_version_of_exactly_that_period(services: Services) -> None:
    group = f"period-{uuid.uuid4().hex[:8]}"
    with Session(services.engine) as session, session.begin():  # each import in a transaction of its own
        draft_version(session, START, END, group=group)
    with Session(services.engine) as session, session.begin():
        newest = draft_version(session, START, END, group=group)
    with Session(services.engine) as session:
        assert cli_draft_version(session, group, START, END) == newest
        refused = cli_draft_version(session, group, START, date(2026, 7, 31))
    assert refused == (
        f"group {group} has no version for {START} .. 2026-07-31 to draft: import the period's template first "
        "(`schedcu submit`), then draft it"
    )
