"""Coverage reads and writes a fixed number of statements, whatever the period's length; what it stores
matches what it calculated. Also the versions the other coverage tests use, written through the real
ODS import code path, with a full roster."""

import uuid
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schedcu.testing.demo_data import ROSTER
from schedcu.testing.sample_template import sample_template
from schedcu.views.ods_writer import write_ods
from services.coverage.calculation import CalculationOptions, calculate_and_store
from services.ods_importer.expansion import expand, expand_flat
from services.ods_importer.store import store_version
from services.ods_importer.workbook import Layout, parse_workbook
from shared.db.models import Assignment, Person, ScrapeBatch
from shared.db.statements import recorded
from shared.kernel.contracts import Period
from shared.kernel.coverage_rules import CoverageResult
from shared.kernel.findings import has_errors
from shared.kernel.schedule_days import dates_between
from tests.conftest import Services

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ROLES = ("ON1", "ON2", "MidC", "MidL", "Mid3")


def roster_ids(session: Session) -> list[int]:
    """The demo roster's people (created when missing), in roster order."""
    session.execute(
        pg_insert(Person)
        .values([{**p, "active": True} for p in ROSTER])
        .on_conflict_do_nothing(index_elements=["email"])
    )
    by_email = dict(session.execute(select(Person.email, Person.id)).all())
    return [by_email[p["email"]] for p in ROSTER]


def complete_scrape(session: Session, version_id: uuid.UUID, start: date, end: date) -> uuid.UUID:
    """A COMPLETE scrape batch of the version with every month of the period OK: every date has Amion data."""
    batch_id = uuid.uuid4()
    months = {f"{d.year:04d}-{d.month:02d}": {"outcome": "OK"} for d in dates_between(start, end)}
    session.execute(
        insert(ScrapeBatch).values(
            id=batch_id, version_id=version_id, workflow_id=uuid.uuid4(), account="test", state="COMPLETE",
            months=months, findings=[], finished_at=func.now(),
        )
    )  # fmt: skip
    return batch_id


def assign_every_date(session: Session, version_id: uuid.UUID, start: date, end: date) -> int:
    """ON1, ON2, MidC, MidL and Mid3 on every date, from a complete scrape; who is on depends on the weekday
    only, so every Saturday (DST ones included) has the same people. A BODY_ONLY person is on ON1 on Tuesdays
    and Saturdays, on ON2 on Mondays and on MidC or MidL on Wednesdays and Thursdays: the Body sheets apply."""
    people = roster_ids(session)
    batch_id = complete_scrape(session, version_id, start, end)
    rows = [
        {
            "version_id": version_id,
            "schedule_date": day,
            "role": role,
            "person_id": people[(day.weekday() * 5 + i) % len(people)],
            "source": "AMION",
            "scrape_batch_id": batch_id,
        }
        for day in dates_between(start, end)
        for i, role in enumerate(ROLES)
    ]
    session.execute(insert(Assignment), rows)
    return len(rows)


def imported_version(session: Session, start: date, end: date, workbook: bytes) -> uuid.UUID:
    """The workbook imported for the period as phase 1 does it (parse, expand, store), then a full roster."""
    parsed = parse_workbook(workbook)
    assert parsed.layout is not None and not has_errors(parsed.findings), parsed.findings
    if parsed.layout is Layout.TEMPLATE:
        shifts = expand(parsed.windows, start, end, NY)
    else:
        shifts, findings = expand_flat(parsed.shifts, start, end, NY)
        assert not has_errors(findings), findings
    version_id = uuid.uuid4()
    store_version(
        session,
        version_id=version_id,
        workflow_id=uuid.uuid4(),
        group="coverage-tests",
        period=Period(start=start, end=end),
        layout=parsed.layout,
        template_name=f"{parsed.layout.value.lower()}.ods",
        template_sha256="0" * 64,
        windows=parsed.windows,
        shifts=shifts,
        findings=parsed.findings,
        actor="coverage-tests",
    )
    assign_every_date(session, version_id, start, end)
    return version_id


def template_version(session: Session, start: date, end: date) -> uuid.UUID:
    return imported_version(session, start, end, sample_template())


FLAT_ROWS = (  # shift type, hospital, study type, specialty constraint, desired coverage, mandatory, start, end
    ("ON1", "CPMC", "CT Neuro", "Neuro", 1, "yes", "22:00", "08:00"),
    ("ON2", "CPMC", "CT Body", "Body", 2, "yes", "22:00", "08:00"),
    ("MidC", "Allen", "DX Bone", "", 1, "yes", "17:00", "00:00"),
    ("Mid3", "NYPLH", "US", "Body", 1, "no", "17:00", "01:00"),
)


def flat_version(session: Session, start: date, end: date) -> uuid.UUID:
    """A flat workbook with the rows of FLAT_ROWS on every date, imported."""
    header = ["Date", "ShiftType", "Hospital", "StudyType", "SpecialtyConstraint", "DesiredCoverage", "Mandatory",
              "Start", "End"]  # fmt: skip
    rows = [header, *([day, *row] for day in dates_between(start, end) for row in FLAT_ROWS)]
    return imported_version(session, start, end, write_ods([("Shifts", rows)]))


def calculate_counting(engine: Engine, version_id: uuid.UUID) -> tuple[list[str], CoverageResult]:
    with recorded(engine) as executed, Session(engine) as session, session.begin():
        calculated = calculate_and_store(session, version_id, uuid.uuid4(), CalculationOptions(tz=NY))
    assert calculated is not None
    return [e.sql for e in executed], calculated.result


def kinds(seen: list[str]) -> list[str]:
    """`SELECT`, or `INSERT INTO <table>`, of each statement."""
    words = [s.split() for s in seen]
    return [" ".join(w[:3]) if w[0] == "INSERT" else w[0] for w in words]


@pytest.mark.parametrize("layout", ["TEMPLATE", "FLAT"])
def test_statements_are_the_same_for_a_week_and_a_year(services: Services, layout: str) -> None:
    make = template_version if layout == "TEMPLATE" else flat_version
    with Session(services.engine) as session, session.begin():
        week = make(session, date(2026, 3, 2), date(2026, 3, 8))
        year = make(session, date(2026, 1, 1), date(2026, 12, 31))

    week_statements, week_result = calculate_counting(services.engine, week)
    year_statements, year_result = calculate_counting(services.engine, year)

    assert len(week_statements) == len(year_statements) <= 12
    # the version, assignments, people, its windows and responsibilities (or its flat shifts), its scrape
    # batches, its proposals, its approved draft rows (for DRIFT), its previous calculation (none here; else its
    # cells too); three inserts
    reads = ["SELECT"] * (9 if layout == "TEMPLATE" else 8)
    assert kinds(year_statements) == [
        *reads,
        "INSERT INTO coverage_calculations",
        "INSERT INTO coverage_cells",
        "INSERT INTO coverage_cell_dates",
    ]
    assert year_result.summary.total > 300 * len(FLAT_ROWS) and week_result.summary.total > 0


def test_stored_cells_and_summary_match_the_calculation(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = template_version(session, date(2026, 1, 1), date(2026, 12, 31))
    calculation_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        calculated = calculate_and_store(session, version_id, calculation_id, CalculationOptions(tz=NY))
    assert calculated is not None
    result = calculated.result

    with services.engine.connect() as conn:
        stored_summary = conn.execute(
            text("SELECT summary FROM coverage_calculations WHERE id = :c"), {"c": calculation_id}
        ).scalar_one()
        by_status = dict(
            conn.execute(
                text("SELECT status, count(*) FROM calculation_cells WHERE calculation_id = :c GROUP BY status"),
                {"c": calculation_id},
            ).all()
        )
        per_date = conn.execute(
            text(
                'SELECT schedule_date, count(*), count(DISTINCT ("window", worklist)) FROM calculation_cells '
                "WHERE calculation_id = :c GROUP BY schedule_date ORDER BY schedule_date"
            ),
            {"c": calculation_id},
        ).all()
        tuesday_people = conn.execute(
            text(
                "SELECT people FROM calculation_cells WHERE calculation_id = :c AND schedule_date = '2026-03-03' "
                "AND \"window\" = 'ON Weekday Body 1 am - 8 am' AND worklist = 'CPMC CT Body'"
            ),
            {"c": calculation_id},
        ).scalar_one()

    assert stored_summary == result.summary.to_dict()
    assert sum(stored_summary["by_status"].values()) == stored_summary["total"] == len(result.cells)
    assert {k: v for k, v in stored_summary["by_status"].items() if v} == by_status
    # critical gaps grouped by date, in date order
    assert list(stored_summary["critical_gaps_by_date"]) == sorted(stored_summary["critical_gaps_by_date"])
    assert sum(map(len, stored_summary["critical_gaps_by_date"].values())) == stored_summary["critical_gaps_total"]
    # one cell per (window, worklist) every date; the people of a weekday are the same all year, so every
    # Saturday has as many cells as any other, the DST ones (March 7 and October 31, 2026) included
    assert len(per_date) == 365 and all(n == distinct for _, n, distinct in per_date)
    cells_by_weekday: dict[int, set[int]] = {}
    for day, n, _ in per_date:
        cells_by_weekday.setdefault(day.weekday(), set()).add(n)
    assert all(len(counts) == 1 for counts in cells_by_weekday.values()), cells_by_weekday
    # Tuesday: Fox, Finn (BODY_ONLY) on ON1 -> the Body sheet applies, and he reads the body worklists
    assert tuesday_people == ["Fox, Finn"]
