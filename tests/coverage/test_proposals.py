"""Proposals to fill gap lines on the real PostgreSQL, through the command line (`schedcu proposals`), with the
coverage calculation run in this process: one proposal per role and date with the candidate who fills all its
gaps, what stays open and why when nobody does, never a second person on a role, idempotent creation, edit
within the line's candidates, approval as an audited OVERRIDE with its recalculation and event in the outbox,
rejection, refusals (exit 1, one line), OBSOLETE once a gap closes and OVERRIDE_CONFLICTS_WITH_AMION once Amion
contradicts an override."""

import json
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from services.coverage import proposals
from services.coverage.calculation import CalculationOptions, calculate_and_store
from shared.db.models import Assignment, Person
from tests.conftest import Services
from tests.coverage.test_corrections import MON, TUE, assigned, rows, schedcu, services_env, week
from tests.schedcu.test_coverage_queries import NY, flat_version, imported_version, template_version
from tests.support.real_data import REAL_TEMPLATE

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
            delete(Assignment).where(
                Assignment.version_id == version_id, Assignment.schedule_date == day, Assignment.role == role
            )
        )
        if email is not None:
            person_id = session.scalar(select(Person.id).where(Person.email == email))
            session.execute(
                insert(Assignment).values(
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


def of_role(env: dict[str, str], version_id: uuid.UUID, day: date = MON, role: str = "Mid3") -> list[dict[str, Any]]:
    """The version's proposals for `role` on `day`."""
    listed = cli_json(env, "proposals", "list", str(version_id))
    return [p for p in listed if (p["date"], p["assign_role"]) == (day.isoformat(), role)]


def gap_cells(env: dict[str, str], version_id: uuid.UUID, day: date = MON, role: str = "Mid3") -> list[dict[str, Any]]:
    """The gaps of `role` on `day`, with their candidates, as `schedcu gaps` lists them."""
    gaps = cli_json(env, "gaps", str(version_id), "--date", day.isoformat())["gaps"]
    return [g for g in gaps if g["assign_role"] == role]


def cell_statuses(services: Services, version_id: uuid.UUID, day: date, role: str) -> dict[tuple[str, str], str]:
    """(window, worklist) -> status of the cells of `role` on `day` in the latest calculation."""
    found = rows(
        services,
        "SELECT \"window\", worklist, status FROM calculation_cells WHERE calculation_id = (SELECT id FROM "
        "coverage_calculations WHERE version_id = :v ORDER BY created_at DESC LIMIT 1) AND schedule_date = :d "
        "AND role = :r",
        v=version_id, d=day, r=role,
    )  # fmt: skip
    return {(window, worklist): status for window, worklist, status in found}


def specialty(services: Services, person_id: int) -> str:
    [(found,)] = rows(services, "SELECT specialty FROM people WHERE id = :p", p=person_id)
    return str(found)


@pytest.fixture
def mid3_gap(services: Services) -> tuple[uuid.UUID, dict[str, str]]:
    """A week of the sample template whose Monday has nobody on Mid3 in Amion, its coverage calculated."""
    version_id = week(services)
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    return version_id, services_env(services)


@pytest.fixture
def real_mid3_gap(services: Services) -> tuple[uuid.UUID, dict[str, str]]:
    """A week of the real template whose Monday has nobody on Mid3: its Mid3 gaps are body and neuro worklists
    in two windows (18:00-00:00 and 00:00-01:00); free that night are BOTH, BODY_ONLY (Fox) and NEURO_ONLY (Ito)
    people."""
    with Session(services.engine) as session, session.begin():
        version_id = imported_version(session, MON, date(2026, 3, 8), REAL_TEMPLATE.read_bytes())
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    return version_id, services_env(services)


def test_one_proposal_per_gap_line_with_the_candidate_who_fills_all_its_gaps(
    services: Services, real_mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = real_mid3_gap
    gaps = gap_cells(env, version_id)
    assert len(gaps) == 19 and {g["window"] for g in gaps} == {"Mid Weekday Neuro 6 pm - 12 am", "Mid  12am-1am"}
    specialties = {c["specialty"] for g in gaps for c in g["candidates"]}
    assert {"BODY_ONLY", "NEURO_ONLY", "BOTH"} <= specialties  # per cell, Fox and Ito are candidates too

    created = schedcu(env, "proposals", "create", str(version_id), "--actor", "scheduler-1")
    assert created.returncode == 0, created.stderr
    assert "1 proposals created (0 leave gaps of their line open); 0 gap lines already proposed" in created.stderr
    (mid3,) = of_role(env, version_id)
    assert (mid3["role"], mid3["start"][11:16], mid3["end"][11:16], mid3["state"]) == (
        "Mid3",
        "18:00",
        "01:00",
        "PROPOSED",
    )
    assert specialty(services, mid3["person"]["person_id"]) == "BOTH"
    assert sorted((c["window"], c["worklist"]) for c in mid3["fills"]) == sorted(
        (g["window"], g["worklist"]) for g in gaps
    )
    assert mid3["stays_open"] == []

    again = schedcu(env, "proposals", "create", str(version_id), "--date", MON.isoformat())
    assert (
        again.returncode == 0
        and "0 proposals created (0 leave gaps of their line open); 1 gap lines already proposed" in again.stderr
    )
    assert len(cli_json(env, "proposals", "list", str(version_id))) == 1


def test_approving_puts_one_person_on_the_role_and_covers_every_gap_of_the_line(
    services: Services, real_mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = real_mid3_gap
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    (mid3,) = of_role(env, version_id)
    approved = schedcu(env, "proposals", "approve", mid3["proposal_id"], "--actor", "sam")
    assert approved.returncode == 0, approved.stderr
    recalculate(services, version_id)

    assert assigned(services, version_id, MON, "Mid3") == [
        ("Mid3", mid3["person"]["name"], "OVERRIDE", f"proposal {mid3['proposal_id']} approved")
    ]
    assert set(cell_statuses(services, version_id, MON, "Mid3").values()) == {"COVERED"}
    assert gap_cells(env, version_id) == []
    after = schedcu(env, "proposals", "create", str(version_id))
    assert "0 proposals created" in after.stderr and of_role(env, version_id)[0]["state"] == "APPROVED"


def test_without_anyone_for_the_whole_line_the_proposal_names_what_stays_open_and_never_adds_a_second_person(
    services: Services, real_mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    """Only Fox (BODY_ONLY) and Ito (NEURO_ONLY) may be proposed: neither fills the whole Mid3 line."""
    version_id, env = real_mid3_gap
    with Session(services.engine) as session, session.begin():
        session.execute(update(Person).where(Person.specialty == "BOTH").values(active=False))
    try:
        only_single_specialty_candidates(services, version_id, env)
    finally:
        with Session(services.engine) as session, session.begin():
            session.execute(update(Person).where(Person.specialty == "BOTH").values(active=True))


def only_single_specialty_candidates(services: Services, version_id: uuid.UUID, env: dict[str, str]) -> None:
    assert schedcu(env, "proposals", "create", str(version_id), "--date", MON.isoformat()).returncode == 0
    (mid3,) = of_role(env, version_id)
    person = mid3["person"]["name"]
    assert person in ("Fox, Finn", "Ito, Iris")
    assert len(mid3["fills"]) + len(mid3["stays_open"]) == 19 and mid3["fills"] and mid3["stays_open"]
    cannot = "BODY_ONLY may not read" if person == "Fox, Finn" else "NEURO_ONLY may not read"
    for cell in mid3["stays_open"]:
        assert cell["reason"].startswith(f"{person}: specialty: {cannot} {cell['worklist']}")
        assert cell["reason"].endswith("1 other candidate could, none of whom fills all the line")
    shown = schedcu(env, "proposals", "show", mid3["proposal_id"]).stdout
    assert "stays open:" in shown and f"leaves {len(mid3['stays_open'])} open" in shown

    assert schedcu(env, "proposals", "approve", mid3["proposal_id"]).returncode == 0
    recalculate(services, version_id)
    statuses = cell_statuses(services, version_id, MON, "Mid3")
    assert sorted(k for k, v in statuses.items() if v == "SPECIALTY_MISMATCH") == sorted(
        (c["window"], c["worklist"]) for c in mid3["stays_open"]
    )
    again = schedcu(env, "proposals", "create", str(version_id), "--date", MON.isoformat())
    assert again.returncode == 0 and "0 proposals created" in again.stderr, again.stderr
    assert "no candidate: 2026-03-02 Mid3 18:00-01:00 mismatched: " in again.stderr
    assert f"Mid3 on 2026-03-02 is held by {person}: a proposal never adds a person" in again.stderr
    assert len(assigned(services, version_id, MON, "Mid3")) == 1


def test_edit_approve_and_reject_with_history_audit_and_events(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = mid3_gap
    set_amion(services, version_id, TUE, "Mid3", None)
    recalculate(services, version_id)
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    (first,) = of_role(env, version_id)
    (second,) = of_role(env, version_id, TUE)
    gap = gap_cells(env, version_id)[0]
    other = next(c for c in gap["candidates"] if c["person_id"] != first["person"]["person_id"])
    booked = next(o for o in gap["left_out"] if any(r.startswith("booked") for r in o["reasons"]))

    assert refused(env, "proposals", "edit", first["proposal_id"], "--candidate", booked["name"]).startswith(
        f"{booked['name']} is not a candidate for Mid3 on 2026-03-02: booked at overlapping hours"
    )
    edited = schedcu(env, "proposals", "edit", first["proposal_id"], "--candidate", other["name"], "--actor", "sam")
    assert edited.returncode == 0, edited.stderr
    assert (
        edited.stdout.startswith(f"proposal {first['proposal_id']}: {other['name']} on Mid3 ")
        and ": EDITED" in edited.stdout
    )

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
    text_view = schedcu(env, "proposals", "show", first["proposal_id"]).stdout
    assert f"sam  edit  PROPOSED ({first['person']['name']}) -> EDITED ({other['name']})" in text_view

    recalculate(services, version_id)
    assert set(cell_statuses(services, version_id, MON, "Mid3").values()) == {"COVERED"}
    assert assigned(services, version_id, MON, "Mid3")[0][1] == other["name"]


def test_each_step_puts_its_event_in_the_outbox_of_its_transaction(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    """Read inside the step's transaction, before any relay can publish and delete the rows."""
    version_id, _ = mid3_gap
    set_amion(services, version_id, TUE, "Mid3", None)
    recalculate(services, version_id)
    options = CalculationOptions(tz=NY)

    def staged(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
        found = session.execute(text("SELECT routing_key, message_id, correlation_id, body FROM outbox ORDER BY id"))
        return [(key, message_id, json.loads(body)) for key, message_id, correlation, body in found
                if correlation == str(version_id)]  # fmt: skip

    with Session(services.engine) as session, session.begin():
        created = proposals.create(session, version_id, options, "ops")
        events = staged(session)
        assert len(created.proposals) == 2
        assert sorted((k, m) for k, m, _ in events) == sorted(
            ("event.proposal.created", f"proposal:{p}:created") for p in created.proposals
        )
        body = events[0][2]
        assert (body["date"], body["role"], body["assign_role"]) == ("2026-03-02", "Mid3", "Mid3")
        assert body["fills"] and all(set(c) == {"window", "worklist", "status"} for c in body["fills"])
        assert body["stays_open"] == []
        first, second = (uuid.UUID(e["proposal_id"]) for _, _, e in events)
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
    (mid3,) = of_role(env, version_id)
    set_amion(services, version_id, MON, "Mid3", "lu.lopez@example.org")  # Amion fills the gap itself
    calculation_id = recalculate(services, version_id)

    (after,) = of_role(env, version_id)
    assert after["state"] == "OBSOLETE"
    last = cli_json(env, "proposals", "show", after["proposal_id"])["history"][-1]
    assert (last["actor"], last["action"], last["from_state"], last["to_state"]) == (
        "coverage", "obsolete", "PROPOSED", "OBSOLETE"
    )  # fmt: skip
    first = mid3["fills"][0]
    assert last["reason"] == (
        f"coverage changed: calculation {calculation_id} finds {first['worklist']} in {first['window']} COVERED"
    )
    assert refused(env, "proposals", "approve", after["proposal_id"]).endswith(
        "The proposal is OBSOLETE: it cannot be approved any more."
    )
    # a later gap gets a proposal again: the obsolete one is not open
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    assert [p["state"] for p in of_role(env, version_id)] == ["OBSOLETE", "PROPOSED"]


def test_approval_is_refused_once_the_person_no_longer_fills_the_line(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    """Amion books the proposed person elsewhere that night before the approval: nothing is assigned."""
    version_id, env = mid3_gap
    assert schedcu(env, "proposals", "create", str(version_id)).returncode == 0
    (mid3,) = of_role(env, version_id)
    set_amion(services, version_id, MON, "ON1", mid3["person"]["email"])
    recalculate(services, version_id)
    message = refused(env, "proposals", "approve", mid3["proposal_id"])
    assert message.startswith(f"{mid3['person']['name']} is not a candidate for Mid3 on 2026-03-02: booked at ")
    assert assigned(services, version_id, MON, "Mid3") == []


def test_amion_contradicting_an_approved_override_is_reported_and_the_override_stays(
    services: Services, mid3_gap: tuple[uuid.UUID, dict[str, str]]
) -> None:
    version_id, env = mid3_gap
    assert schedcu(env, "proposals", "create", str(version_id), "--date", "2026-03-02").returncode == 0
    (first,) = of_role(env, version_id)
    assert schedcu(env, "proposals", "approve", first["proposal_id"]).returncode == 0
    calculation_id = recalculate(services, version_id)
    [(findings,)] = rows(services, "SELECT findings FROM coverage_calculations WHERE id = :c", c=calculation_id)
    assert not [f for f in findings if f["code"] == "OVERRIDE_CONFLICTS_WITH_AMION"]

    name = first["person"]["name"]
    amion_email, amion_name = (
        ("lu.lopez@example.org", "Lopez, Lu") if name != "Lopez, Lu" else ("kim.king@example.org", "King, Kim")
    )
    set_amion(services, version_id, MON, "Mid3", amion_email)
    calculation_id = recalculate(services, version_id)
    [(findings,)] = rows(services, "SELECT findings FROM coverage_calculations WHERE id = :c", c=calculation_id)
    (conflict,) = [f for f in findings if f["code"] == "OVERRIDE_CONFLICTS_WITH_AMION"]
    assert conflict["severity"] == "WARNING" and conflict["location"] == "2026-03-02"
    assert conflict["text"].startswith(f"The approved override of proposal {first['proposal_id']} ({name} on Mid3 ")
    assert conflict["text"].endswith(f"conflicts with Amion, which now assigns {amion_name} to Mid3 on 2026-03-02.")
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
    text_view = schedcu(
        services_env(services), "fairness", str(version_id), "--from", str(TUE), "--to", str(TUE)
    ).stdout
    assert "fairness of version" in text_view and "2026-03-03 .. 2026-03-03" in text_view
    outside = schedcu(services_env(services), "fairness", str(version_id), "--from", "2026-04-01")
    assert outside.returncode == 2 and outside.stderr.strip() == (
        "schedcu: 2026-04-01 .. 2026-03-08 is not within the version's period 2026-03-02 .. 2026-03-08: give dates "
        "within it"
    )


def test_flat_layout_override_conflict_at_the_roles_hours(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = flat_version(session, MON, date(2026, 3, 8))
    set_amion(services, version_id, MON, "Mid3", None)
    recalculate(services, version_id)
    env = services_env(services)
    assert schedcu(env, "proposals", "create", str(version_id), "--date", "2026-03-02").returncode == 0
    (proposal,) = of_role(env, version_id)
    assert (proposal["start"][11:16], proposal["end"][11:16]) == ("17:00", "01:00")
    assert proposal["fills"] == [{"window": "Mid3 17:00-01:00", "worklist": "NYPLH US", "status": "UNCOVERED"}]
    assert schedcu(env, "proposals", "approve", proposal["proposal_id"]).returncode == 0

    # Amion books the overridden person on ON1 the same night (22:00-08:00 overlaps 17:00-01:00)
    with Session(services.engine) as session, session.begin():
        session.execute(
            insert(Assignment).values(
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


def test_a_year_of_gaps_becomes_one_proposal_per_night_in_one_step(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, date(2026, 1, 1), date(2026, 12, 31))
        session.execute(delete(Assignment).where(Assignment.version_id == version_id, Assignment.role == "Mid3"))
    recalculate(services, version_id)
    with Session(services.engine) as session, session.begin():
        created = proposals.create(session, version_id, CalculationOptions(tz=NY), "ops")
        assert len(created.proposals) == 365 and created.already_proposed == 0
        assert (
            session.scalar(
                text(
                    "SELECT count(DISTINCT schedule_date) FROM proposals WHERE version_id = :v AND assign_role = 'Mid3'"
                ),
                {"v": version_id},
            )
            == 365
        )
        session.rollback()
