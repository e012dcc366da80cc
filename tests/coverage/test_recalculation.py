"""A recalculation that recomputes only the dates whose inputs changed gives what a full calculation gives, on
the real template; and what changed between two calculations (the content of CoverageChanged)."""

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.coverage.calculation import CalculationOptions, calculate_and_store, compute, fingerprints
from services.coverage.store import load_inputs, stored_cells
from shared.db.models import Assignment, Person
from shared.kernel.coverage_rules import CoverageResult
from shared.kernel.states import CellStatus
from tests.conftest import Services
from tests.schedcu.test_coverage_queries import NY, imported_version
from tests.support.real_data import REAL_TEMPLATE

pytestmark = pytest.mark.integration

START, END = date(2026, 1, 1), date(2026, 2, 28)
OPTIONS = CalculationOptions(tz=NY)


def stored(engine: Any, calculation_id: uuid.UUID) -> tuple[list[tuple[Any, ...]], dict[str, Any], list[Any]]:
    with engine.connect() as conn:
        cells = conn.execute(
            text('SELECT schedule_date, "window", worklist, hospital, role, people, status, mandatory '
                 "FROM calculation_cells WHERE calculation_id = :c ORDER BY schedule_date, id"), {"c": calculation_id},
        ).all()  # fmt: skip
        summary, findings = conn.execute(
            text("SELECT summary, findings FROM coverage_calculations WHERE id = :c"), {"c": calculation_id}
        ).one()
    return [tuple(c) for c in cells], summary, findings


def assert_equals_a_full_calculation(engine: Any, version_id: uuid.UUID, calculation_id: uuid.UUID) -> CoverageResult:
    """The stored calculation's cells, summary and findings are those of a full calculation; returns it."""
    with Session(engine) as session:
        inputs = load_inputs(session, version_id)
        assert inputs is not None
        full = compute(inputs, OPTIONS)
        expected_cells = [
            (c.schedule_date, c.window, c.worklist, c.hospital, c.role, list(c.people), c.status, c.mandatory)
            for c in stored_cells(inputs, full.cells)
        ]
    cells, summary, findings = stored(engine, calculation_id)
    assert cells == expected_cells
    assert summary == full.summary.to_dict()
    assert findings == [f.model_dump(mode="json") for f in full.findings]
    return full


def written_dates(engine: Any, calculation_id: uuid.UUID) -> set[date]:
    """The dates whose cells the calculation wrote (the others it reads from earlier calculations)."""
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT DISTINCT schedule_date FROM coverage_cells WHERE calculation_id = :c"), {"c": calculation_id}
        )
        return set(found.scalars())


def test_recomputing_the_changed_dates_equals_a_full_calculation_on_the_real_template(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = imported_version(session, START, END, REAL_TEMPLATE.read_bytes())
    with Session(services.engine) as session, session.begin():
        first = calculate_and_store(session, version_id, uuid.uuid4(), OPTIONS)
    assert first is not None and first.recomputed is None and first.changes is None

    # Mid3 leaves on Jan 7; a BODY_ONLY person takes ON1 on Feb 4 (the Body sheets apply that night)
    with Session(services.engine) as session, session.begin():
        session.execute(
            delete(Assignment).where(Assignment.version_id == version_id,
                                        Assignment.schedule_date == date(2026, 1, 7), Assignment.role == "Mid3")
        )  # fmt: skip
        body_only = session.scalars(select(Person.id).where(Person.specialty == "BODY_ONLY")).first()
        session.execute(
            update(Assignment)
            .where(Assignment.version_id == version_id, Assignment.schedule_date == date(2026, 2, 4),
                   Assignment.role == "ON1")
            .values(person_id=body_only)
        )  # fmt: skip
    calculation_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        second = calculate_and_store(session, version_id, calculation_id, OPTIONS)
    assert second is not None
    assert second.recomputed == {date(2026, 1, 7), date(2026, 2, 4)}

    full = assert_equals_a_full_calculation(services.engine, version_id, calculation_id)
    assert second.result.summary == full.summary
    assert written_dates(services.engine, calculation_id) == {date(2026, 1, 7), date(2026, 2, 4)}

    assert second.changes is not None
    mid3_gone = [c for c in second.changes.cells if c.schedule_date == date(2026, 1, 7)]
    assert mid3_gone and all(c.role == "Mid3" and c.new is not None and c.new.status is CellStatus.UNCOVERED
                             for c in mid3_gone)  # fmt: skip
    assert {(g.schedule_date, g.worklist) for g in second.changes.opened if g.schedule_date == date(2026, 1, 7)} == {
        (c.schedule_date, c.worklist) for c in mid3_gone
    }
    assert not second.changes.closed or all(g.schedule_date == date(2026, 2, 4) for g in second.changes.closed)

    # ON1 leaves on Feb 4: the third calculation's other dates are the first's cells, and Jan 7's the second's
    with Session(services.engine) as session, session.begin():
        session.execute(
            delete(Assignment).where(Assignment.version_id == version_id,
                                        Assignment.schedule_date == date(2026, 2, 4), Assignment.role == "ON1")
        )  # fmt: skip
    third_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        third = calculate_and_store(session, version_id, third_id, OPTIONS)
    assert third is not None and third.recomputed == {date(2026, 2, 4)}
    assert third.result.summary == assert_equals_a_full_calculation(services.engine, version_id, third_id).summary
    assert written_dates(services.engine, third_id) == {date(2026, 2, 4)}


def test_a_recalculation_without_any_change_recomputes_nothing_and_finds_no_change(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = imported_version(session, START, date(2026, 1, 31), REAL_TEMPLATE.read_bytes())
        calculate_and_store(session, version_id, uuid.uuid4(), OPTIONS)
    calculation_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        again = calculate_and_store(session, version_id, calculation_id, OPTIONS)
    assert again is not None and again.recomputed == frozenset() and again.changes is not None
    assert not again.changes and not again.changes.opened and not again.changes.closed
    assert len(stored(services.engine, calculation_id)[0]) == again.result.summary.total


def test_other_shared_inputs_mean_a_full_calculation(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = imported_version(session, START, date(2026, 1, 31), REAL_TEMPLATE.read_bytes())
        calculate_and_store(session, version_id, uuid.uuid4(), OPTIONS)
        with_holiday = CalculationOptions(tz=NY, holidays=frozenset({date(2026, 1, 19)}))
        inputs = load_inputs(session, version_id)
        assert inputs is not None
        assert fingerprints(inputs, with_holiday).inputs_key != fingerprints(inputs, OPTIONS).inputs_key
        again = calculate_and_store(session, version_id, uuid.uuid4(), with_holiday)
    assert again is not None and again.recomputed is None


def test_a_calculation_whose_cells_a_later_one_reads_goes_only_with_its_version(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        version_id = imported_version(session, START, date(2026, 1, 31), REAL_TEMPLATE.read_bytes())
    first_id, again_id = uuid.uuid4(), uuid.uuid4()
    for calculation_id in (first_id, again_id):
        with Session(services.engine) as session, session.begin():
            calculate_and_store(session, version_id, calculation_id, OPTIONS)
    assert written_dates(services.engine, again_id) == set()  # every date is read from the first

    with pytest.raises(IntegrityError), services.engine.begin() as conn:
        conn.execute(text("DELETE FROM coverage_calculations WHERE id = :c"), {"c": first_id})
    assert len(stored(services.engine, again_id)[0]) > 0

    with services.engine.begin() as conn:
        conn.execute(text("DELETE FROM schedule_versions WHERE id = :v"), {"v": version_id})
    with services.engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM coverage_cells WHERE calculation_id IN (:a, :b)"), {"a": first_id, "b": again_id}
        ).scalar_one()
    assert left == 0
