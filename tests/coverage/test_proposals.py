"""Proposals to fill gaps on the real PostgreSQL, through the command line (`schedcu proposals`), with the
coverage calculation run in this process: idempotent creation, edit within the candidates, approval as an
audited OVERRIDE with its recalculation and event in the outbox, rejection, refusals (exit 1, one line),
OBSOLETE once the gap closes and OVERRIDE_CONFLICTS_WITH_AMION once Amion contradicts an override."""

import json
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from services.coverage import proposals
from services.coverage.calculation import CalculationOptions, calculate_and_store
from shared.db.models import AssignmentRow, PersonRow
from tests.conftest import Services
from tests.coverage.test_corrections import MON, TUE, rows, schedcu, services_env, week
from tests.schedcu.test_coverage_queries import NY, flat_version, template_version

pytestmark = pytest.mark.integration


def recalculate(services: Services, version_id: uuid.UUID) -> uuid.UUID:
    calculation_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        assert calculate_and_store(session, version_id, calculation_id, CalculationOptions(tz=NY)) is not None
    return calculation_id


def set_amion(services: Services, version_id: uuid.UUID, day: date, role: str, email: str | None) -> None:
    """Amion's assignment of `role` on `day` becomes `email` (None: nobody), as a new scrape would store it."""
    with Session(services.engine) as session, session.begin():
        session.execute(
            delete(AssignmentRow).where(
                AssignmentRow.version_id == version_id, AssignmentRow.schedule_date == day, AssignmentRow.role == role
            )
        )
        if email is not None:
            person_id = session.scalar(select(PersonRow.id).where(PersonRow.email == email))
            session.execute(
                insert(AssignmentRow).values(
                    version_id=version_id, schedule_date=day, role=role, person_id=person_id, source="AMION"
                )
            )


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = schedcu(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def refused(env: dict[str, str], *args: str) -> str:
    done = schedcu(env, *args)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr.strip()


def mid3_proposals(env: dict[str, str], version_id: uuid.UUID) -> list[dict[str, Any]]:
    """The version's proposals for Monday's Mid3 gaps."""
    listed = cli_json(env, "proposals", "list", str(version_id))
    return [p for p in listed if (p["date"], p["role"]) == ("2026-03-02", "Mid3")]


@pytest.fixture
def mid3_gap(services: Services) -> tuple[uuid.UUID, dict[str, str]]:
    """A week whose Monday has nobody on Mid3 in Amion, its coverage calculated."""
    version_id = week(services)
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    return version_id, services_env(services)


def test_create_proposes_the_top_candidate_once_per_gap(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = mid3_gap
    gaps = cli_json(env, "gaps", str(version_id))["gaps"]
    assert ("2026-03-02", "Mid3") in {(g["date"], g["role"]) for g in gaps}

    created = schedcu(env, "proposals", "create", str(version_id), "--actor", "scheduler-1")
    assert created.returncode == 0, created.stderr
    assert f"{len(gaps)} proposals created; 0 gaps already proposed" in created.stderr
    listed = cli_json(env, "proposals", "list", str(version_id))
    assert [(p["date"], p["window"], p["worklist"], p["state"], p["person"]["person_id"]) for p in listed] == sorted(
        (g["date"], g["window"], g["worklist"], "PROPOSED", g["candidates"][0]["person_id"]) for g in gaps
    )
    again = schedcu(env, "proposals", "create", str(version_id), "--date", "2026-03-02")
    monday = sum(g["date"] == "2026-03-02" for g in gaps)
    assert again.returncode == 0 and f"0 proposals created; {monday} gaps already proposed" in again.stderr
    assert len(cli_json(env, "proposals", "list", str(version_id))) == len(gaps)


def test_edit_approve_and_reject_with_history_audit_and_events(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = mid3_gap
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    first, second, *_ = mid3_proposals(env, version_id)
    (gap,) = [g for g in cli_json(env, "gaps", str(version_id))["gaps"]
              if (g["window"], g["worklist"]) == (first["window"], first["worklist"])]  # fmt: skip
    other = gap["candidates"][1]
    booked = next(o for o in gap["left_out"] if any(r.startswith("booked") for r in o["reasons"]))

    assert refused(env, "proposals", "edit", first["proposal_id"], "--candidate", booked["name"]).startswith(
        f"{booked['name']} is not a candidate for this gap: booked at overlapping hours"
    )
    edited = schedcu(env, "proposals", "edit", first["proposal_id"], "--candidate", other["name"], "--actor", "sam")
    assert edited.returncode == 0, edited.stderr
    assert (
        edited.stdout.startswith(f"proposal {first['proposal_id']}: {other['name']} for ")
        and ": EDITED" in edited.stdout
    )

    # before the approval: the recalculation it requests makes the night's other Mid3 proposals obsolete
    rejected = schedcu(env, "proposals", "reject", second["proposal_id"], "--reason", "locum booked", "--actor", "sam")
    assert rejected.returncode == 0 and ": REJECTED" in rejected.stdout, rejected.stderr
    approved = schedcu(env, "proposals", "approve", first["proposal_id"], "--actor", "sam")
    assert approved.returncode == 0, approved.stderr
    assert "assigned as OVERRIDE; recalculation requested: calculation" in approved.stdout
    assert rows(
        services,
        "SELECT c.role, p.name, c.source, c.note FROM assignment_corrections c JOIN people p ON p.id = c.person_id "
        "WHERE c.version_id = :v",
        v=version_id,
    ) == [("Mid3", other["name"], "OVERRIDE", f"proposal {first['proposal_id']} approved")]
    assert rows(
        services,
        "SELECT actor, action, to_state, details->>'person' FROM audit_log WHERE details->>'version_id' = :v",
        v=str(version_id),
    ) == [("sam", "add", "OVERRIDE", other["name"])]
    assert refused(env, "proposals", "approve", first["proposal_id"]) == (
        f"Proposal {first['proposal_id']}: The proposal is APPROVED: it cannot be approved any more."
    )
    assert refused(env, "proposals", "reject", first["proposal_id"], "--reason", "late") == (
        f"Proposal {first['proposal_id']}: The proposal is APPROVED: it cannot be rejected any more."
    )
    shown = cli_json(env, "proposals", "show", first["proposal_id"])
    assert [(h["actor"], h["action"], h["from_state"], h["from_person"], h["to_state"], h["to_person"])
            for h in shown["history"]] == [
        (shown["history"][0]["actor"], "create", None, None, "PROPOSED", first["person"]["name"]),
        ("sam", "edit", "PROPOSED", first["person"]["name"], "EDITED", other["name"]),
        ("sam", "approve", "EDITED", other["name"], "APPROVED", other["name"]),
    ]  # fmt: skip
    text = schedcu(env, "proposals", "show", first["proposal_id"]).stdout
    assert f"sam  edit  PROPOSED ({first['person']['name']}) -> EDITED ({other['name']})" in text

    recalculate(services, version_id)
    [(status, people)] = rows(
        services,
        "SELECT status, people FROM calculation_cells WHERE calculation_id = (SELECT id FROM coverage_calculations "
        "WHERE version_id = :v ORDER BY created_at DESC LIMIT 1) AND schedule_date = :d AND \"window\" = :w "
        "AND worklist = :l",
        v=version_id, d=MON, w=first["window"], l=first["worklist"],
    )  # fmt: skip
    assert (status, people) == ("COVERED", [other["name"]])


def test_each_step_puts_its_event_in_the_outbox_of_its_transaction(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    """Read inside the step's transaction, before any relay can publish and delete the rows."""
    version_id, _ = mid3_gap
    options = CalculationOptions(tz=NY)

    def staged(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
        found = session.execute(text("SELECT routing_key, message_id, correlation_id, body FROM outbox ORDER BY id"))
        return [(key, message_id, json.loads(body)) for key, message_id, correlation, body in found
                if correlation == str(version_id)]  # fmt: skip

    with Session(services.engine) as session, session.begin():
        created = proposals.create(session, version_id, options, "ops", MON)
        events = staged(session)
        assert [(k, m) for k, m, _ in events] == [
            ("event.proposal.created", f"proposal:{p}:created") for p in created.proposals
        ]
        first, second = created.proposals[:2]
        assert {e["proposal_id"] for _, _, e in events} == {str(p) for p in created.proposals}
        _, recalculation_id = proposals.approve(session, first, options, "ops")
        proposals.reject(session, second, "not needed", "ops")
        later = staged(session)[len(events) :]
        assert [(k, m) for k, m, _ in later] == [
            ("command.coverage.calculate", f"proposal:{first}:recalculate"),
            ("event.proposal.approved", f"proposal:{first}:approved"),
            ("event.proposal.rejected", f"proposal:{second}:rejected"),
        ]
        assert later[0][2]["version_id"] == str(version_id) and later[0][2]["workflow_id"] is None
        assert later[1][2]["recalculation_id"] == str(recalculation_id)
        assert (later[2][2]["reason"], later[2][2]["by"]) == ("not needed", "ops")
        session.rollback()


def test_an_open_proposal_whose_gap_closed_becomes_obsolete(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = mid3_gap
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    mid3 = mid3_proposals(env, version_id)
    others = len(cli_json(env, "proposals", "list", str(version_id))) - len(mid3)
    set_amion(services, version_id, MON, "Mid3", "lu.lopez@example.org")  # Amion fills the gap itself
    calculation_id = recalculate(services, version_id)

    after = mid3_proposals(env, version_id)
    assert {p["state"] for p in after} == {"OBSOLETE"} and len(after) == len(mid3)
    assert len(cli_json(env, "proposals", "list", str(version_id), "--state", "PROPOSED")) == others
    last = cli_json(env, "proposals", "show", after[0]["proposal_id"])["history"][-1]
    assert (last["actor"], last["action"], last["from_state"], last["to_state"]) == (
        "coverage", "obsolete", "PROPOSED", "OBSOLETE"
    )  # fmt: skip
    assert last["reason"] == f"coverage changed: calculation {calculation_id} finds the cell COVERED"
    assert refused(env, "proposals", "approve", after[0]["proposal_id"]).endswith(
        "The proposal is OBSOLETE: it cannot be approved any more."
    )
    # a later gap gets a proposal again: none of the obsolete ones is open
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    assert len(cli_json(env, "proposals", "list", str(version_id), "--state", "PROPOSED")) == others + len(mid3)


def test_amion_contradicting_an_approved_override_is_reported_and_the_override_stays(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = mid3_gap
    assert schedcu(env, "proposals", "create", str(version_id), "--date", "2026-03-02").returncode == 0
    first = mid3_proposals(env, version_id)[0]
    assert schedcu(env, "proposals", "approve", first["proposal_id"]).returncode == 0
    calculation_id = recalculate(services, version_id)
    [(findings,)] = rows(services, "SELECT findings FROM coverage_calculations WHERE id = :c", c=calculation_id)
    assert not [f for f in findings if f["code"] == "OVERRIDE_CONFLICTS_WITH_AMION"]

    set_amion(services, version_id, MON, "Mid3", "lu.lopez@example.org")
    calculation_id = recalculate(services, version_id)
    [(findings,)] = rows(services, "SELECT findings FROM coverage_calculations WHERE id = :c", c=calculation_id)
    (conflict,) = [f for f in findings if f["code"] == "OVERRIDE_CONFLICTS_WITH_AMION"]
    name = first["person"]["name"]
    assert conflict["severity"] == "WARNING" and conflict["location"] == "2026-03-02"
    assert conflict["text"].startswith(f"The approved override of proposal {first['proposal_id']} ({name} on Mid3 ")
    assert conflict["text"].endswith("conflicts with Amion, which now assigns Lopez, Lu to Mid3 on 2026-03-02.")
    assert rows(services, "SELECT source FROM assignment_corrections WHERE version_id = :v", v=version_id) == [
        ("OVERRIDE",)
    ]
    assert "OVERRIDE_CONFLICTS_WITH_AMION 1" in schedcu(env, "coverage", "show", str(version_id)).stdout
    assert cli_json(env, "proposals", "show", first["proposal_id"])["state"] == "APPROVED"


def test_fairness_counts_every_person_of_the_period(services: Services) -> None:
    version_id = week(services)
    report = cli_json(services_env(services), "fairness", str(version_id))
    assert (report["start"], report["end"]) == ("2026-03-02", "2026-03-08")
    people = report["people"]
    # five roles a night, seven nights; a person holds at most one role a night in this week
    assert sum(p["nights"] for p in people) == 35 and all(p["nights"] <= 7 for p in people)
    assert sum(p["weekends"] for p in people) == 10 and all(p["holidays"] == 0 for p in people)
    assert [p["nights"] for p in people] == sorted((p["nights"] for p in people), reverse=True)
    assert all(p["hours"] > 0 for p in people if p["nights"])
    text = schedcu(services_env(services), "fairness", str(version_id), "--from", str(TUE), "--to", str(TUE)).stdout
    assert "fairness of version" in text and "2026-03-03 .. 2026-03-03" in text


def test_flat_layout_override_conflict_at_the_shifts_hours(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = flat_version(session, MON, date(2026, 3, 8))
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    env = services_env(services)
    assert schedcu(env, "proposals", "create", str(version_id), "--date", "2026-03-02").returncode == 0
    (proposal,) = mid3_proposals(env, version_id)
    assert proposal["window"] == "Mid3 17:00-01:00" and proposal["gap_status"] == "UNCOVERED"
    assert schedcu(env, "proposals", "approve", proposal["proposal_id"]).returncode == 0

    # Amion books the overridden person on ON1 the same night (22:00-08:00 overlaps 17:00-01:00)
    with Session(services.engine) as session, session.begin():
        session.execute(
            insert(AssignmentRow).values(
                version_id=version_id, schedule_date=MON, role="ON1", person_id=proposal["person"]["person_id"],
                source="AMION",
            )
        )  # fmt: skip
    calculation_id = recalculate(services, version_id)
    [(findings,)] = rows(services, "SELECT findings FROM coverage_calculations WHERE id = :c", c=calculation_id)
    (conflict,) = [f["text"] for f in findings if f["code"] == "OVERRIDE_CONFLICTS_WITH_AMION"]
    name = proposal["person"]["name"]
    assert conflict == (
        f"The approved override of proposal {proposal['proposal_id']} ({name} on Mid3 on 2026-03-02 17:00-01:00) "
        f"conflicts with Amion, which now assigns {name} to ON1 on 2026-03-02 22:00-08:00 at overlapping hours."
    )


def test_a_year_of_gaps_becomes_proposals_in_one_step(services: Services) -> None:
    """About 10,000 gaps: more rows than one INSERT may carry parameters for."""
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, date(2026, 1, 1), date(2026, 12, 31))
        session.execute(
            delete(AssignmentRow).where(AssignmentRow.version_id == version_id, AssignmentRow.role == "Mid3")
        )
    recalculate(services, version_id)
    with Session(services.engine) as session, session.begin():
        created = proposals.create(session, version_id, CalculationOptions(tz=NY), "ops")
        assert len(created.proposals) > 65535 // 12 and created.already_proposed == created.without_candidate == 0
        assert session.scalar(text("SELECT count(*) FROM proposals WHERE version_id = :v"), {"v": version_id}) == len(
            created.proposals
        )
        session.rollback()
