"""`schedcu gaps VERSION --json` on the real database: a removed Mid3 assignment opens gaps, and each gets
candidates from the roster, none of them booked that night; the reads are a fixed number."""

import json
import uuid
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.coverage.calculation import CalculationOptions, calculate_and_store
from services.coverage.gaps import gap_report
from shared.db.statements import recorded
from tests.conftest import Services
from tests.coverage.test_corrections import schedcu, services_env
from tests.schedcu.test_coverage_queries import NY, template_version

pytestmark = pytest.mark.integration

MON, SUN = date(2026, 3, 2), date(2026, 3, 8)


def version_without_mid3_on_monday(services: Services, end: date) -> uuid.UUID:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, MON, end)
        session.execute(
            text("DELETE FROM assignments WHERE version_id = :v AND schedule_date = :d AND role = 'Mid3'"),
            {"v": version_id, "d": MON},
        )
    with Session(services.engine) as session, session.begin():
        calculate_and_store(session, version_id, uuid.uuid4(), CalculationOptions(tz=NY))
    return version_id


def test_gaps_json_lists_ranked_candidates_for_the_gaps_a_missing_assignment_opens(services: Services) -> None:
    version_id = version_without_mid3_on_monday(services, SUN)
    shown = schedcu(services_env(services), "gaps", str(version_id), "--date", MON.isoformat(), "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    gaps = report["gaps"]
    assert {g["date"] for g in gaps} == {MON.isoformat()}
    mid3 = [g for g in gaps if g["role"] == "Mid3"]
    assert mid3 and {g["status"] for g in mid3} == {"UNCOVERED"} and {g["assign_role"] for g in mid3} == {"Mid3"}
    with services.engine.connect() as conn:
        on_monday = dict(
            conn.execute(
                text(
                    "SELECT a.role, p.name FROM assignments a JOIN people p ON p.id = a.person_id "
                    "WHERE a.version_id = :v AND a.schedule_date = :d"
                ),
                {"v": version_id, "d": MON},
            ).all()
        )
    # the sample template's Mid3 windows and the roles booked at the same hours
    same_hours = {"Mid Weekday Neuro 6 pm - 12 am": ("MidC", "MidL"), "Mid  12am-1am": ("ON1", "ON2")}
    assert {g["window"] for g in mid3} == set(same_hours)
    for g in mid3:
        names = [c["name"] for c in g["candidates"]]
        assert names, g
        # fewest nights of the whole period first, then weekend and holiday nights, then by name
        order = [(c["nights"], c["weekends"], c["holidays"], c["name"].casefold()) for c in g["candidates"]]
        assert order == sorted(order) and order[0][0] < order[-1][0]
        # the whole role is judged: Mid3 holds 18:00-01:00, so everybody booked that evening or night is left out
        assert not set(on_monday.values()) & set(names)
        booked = {on_monday[role] for role in same_hours[g["window"]]}
        left_out = {o["name"]: o["reasons"] for o in g["left_out"]}
        assert not booked & set(names)
        assert all(any(r.startswith("booked at overlapping hours: ") for r in left_out[name]) for name in booked)
        assert all(c["reasons"] for c in g["candidates"]) and all(left_out.values())

    text_output = schedcu(services_env(services), "gaps", str(version_id), "--date", MON.isoformat())
    assert text_output.returncode == 0, text_output.stderr
    assert f"{len(gaps)} gaps on {MON.isoformat()}" in text_output.stdout
    lines = text_output.stdout.splitlines()
    after_mid3 = next(i for i, line in enumerate(lines) if line.startswith(f"{MON.isoformat()} Mid3 "))
    assert lines[after_mid3 + 1].startswith("    1. ") and ": fills all its gaps; " in lines[after_mid3 + 1]
    # the Mid3 gaps of both windows are one line, naming each worklist once
    (mid3_line,) = [line for line in text_output.stdout.splitlines() if line.startswith(f"{MON.isoformat()} Mid3 ")]
    assert mid3_line.startswith(f"{MON.isoformat()} Mid3 18:00-01:00 uncovered: ")
    assert mid3_line.split("uncovered: ")[1].split(", ") == list(dict.fromkeys(g["worklist"] for g in mid3))


def test_the_reads_are_the_same_for_a_week_and_a_month(services: Services) -> None:
    counts = []
    for end in (SUN, date(2026, 3, 31)):
        version_id = version_without_mid3_on_monday(services, end)
        with recorded(services.engine) as executed, Session(services.engine) as session:
            report = gap_report(session, version_id, CalculationOptions(tz=NY))
        assert report is not None and report.gaps
        counts.append(len(executed))
    assert counts[0] == counts[1] <= 9
