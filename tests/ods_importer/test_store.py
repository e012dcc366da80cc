"""Storing a version writes its shift instances in bulk: one statement per batch of rows, never one per row."""

import json
import uuid
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from schedcu.testing.sample_template import sample_template
from services.ods_importer.expansion import expand
from services.ods_importer.store import store_version
from services.ods_importer.workbook import Layout, parse_workbook
from shared.db.statements import recorded
from shared.kernel.contracts import Period
from shared.settings import Settings
from tests.conftest import Services
from tests.support.real_data import REAL_TEMPLATE

pytestmark = pytest.mark.integration

YEAR = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))


def test_a_year_of_the_real_template_is_inserted_in_one_statement(services: Services) -> None:
    template = REAL_TEMPLATE.read_bytes()
    parsed = parse_workbook(template)
    shifts = expand(parsed.windows, YEAR.start, YEAR.end, Settings().tz)
    assert len(shifts) > 5_000

    version_id = uuid.uuid4()
    with recorded(services.engine) as statements, Session(services.engine) as session, session.begin():
        store_version(
            session,
            version_id=version_id,
            workflow_id=uuid.uuid4(),
            group="bulk-test",
            period=YEAR,
            layout=Layout.TEMPLATE,
            template_name="cuSchedNormalized.ods",
            template_sha256="0" * 64,
            windows=parsed.windows,
            shifts=shifts,
            findings=parsed.findings,
            actor="test",
        )

    shift_inserts = [(sql, params) for sql, params in statements if sql.startswith("INSERT INTO shift_instances")]
    assert len(shift_inserts) == 1, "a year is one batch: one statement"
    ((sql, params),) = shift_inserts
    assert "FROM jsonb_array_elements(" in sql
    assert isinstance(params, dict) and len(json.loads(params["rows"])) == len(shifts)
    assert len(statements) < 10
    with services.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*), count(DISTINCT window_id) FROM shift_instances WHERE version_id = :v"),
            {"v": version_id},
        ).one()
    assert tuple(stored) == (len(shifts), 12)


def test_rows_beyond_one_batch_take_one_statement_a_batch(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.ods_importer.store.BATCH_ROWS", 1_000)
    parsed = parse_workbook(sample_template())
    shifts = expand(parsed.windows, date(2026, 1, 1), date(2026, 3, 31), Settings().tz)
    version_id = uuid.uuid4()
    with recorded(services.engine) as statements, Session(services.engine) as session, session.begin():
        store_version(
            session,
            version_id=version_id,
            workflow_id=uuid.uuid4(),
            group="bulk-test",
            period=Period(start=date(2026, 1, 1), end=date(2026, 3, 31)),
            layout=Layout.TEMPLATE,
            template_name="sample.ods",
            template_sha256="0" * 64,
            windows=parsed.windows,
            shifts=shifts,
            findings=(),
            actor="test",
        )
    inserts = [e.sql for e in statements if e.sql.startswith("INSERT INTO shift_instances")]
    assert len(inserts) == -(-len(shifts) // 1_000)
    with services.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM shift_instances WHERE version_id = :v"), {"v": version_id})
        assert stored.scalar_one() == len(shifts)
