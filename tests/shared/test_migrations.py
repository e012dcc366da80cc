import os

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, make_url, text

from schedcu.infra import ensure_database_exists
from shared.db.migrate import upgrade
from shared.db.models import Base
from tests.conftest import Services


def test_migrations_create_exactly_the_schema_the_models_describe(services: Services) -> None:
    with services.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_0007_moves_the_lifecycle_and_the_manual_assignments_to_their_owners_tables(services: Services) -> None:
    """A database at 0006 with a production version, a deleted one, and Amion, MANUAL and OVERRIDE
    assignments: after 0007 the states are in `version_lifecycle`, the manual ones in
    `assignment_corrections`, and `assignments` keeps Amion's."""
    name = f"schedcu_test_0007_{os.getpid()}"
    url = make_url(services.database_url).set(database=name).render_as_string(False)
    ensure_database_exists(url)
    engine = create_engine(url)
    try:
        upgrade(url, "0006")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO hospital_groups (id, name) VALUES (1, 'g');"
                "INSERT INTO people (id, name, email, specialty, aliases, active) "
                "VALUES (1, 'Adams, Ada', 'ada@example.org', 'BOTH', '[]', true);"
                "INSERT INTO schedule_versions (id, group_id, workflow_id, state, period_start, period_end, "
                "template_name, template_sha256, layout, findings, deleted_at) VALUES "
                "('00000000-0000-0000-0000-000000000001', 1, gen_random_uuid(), 'PRODUCTION', '2026-03-01', "
                "'2026-03-31', 't.ods', '0', 'TEMPLATE', '[]', NULL), "
                "('00000000-0000-0000-0000-000000000002', 1, gen_random_uuid(), 'STAGING', '2026-04-01', "
                "'2026-04-30', 't.ods', '0', 'TEMPLATE', '[]', now());"
                "INSERT INTO assignments (version_id, schedule_date, role, person_id, source, note) VALUES "
                "('00000000-0000-0000-0000-000000000001', '2026-03-02', 'ON1', 1, 'AMION', NULL), "
                "('00000000-0000-0000-0000-000000000001', '2026-03-02', 'Mid3', 1, 'MANUAL', 'gap'), "
                "('00000000-0000-0000-0000-000000000001', '2026-03-03', 'ON2', 1, 'OVERRIDE', 'swap');"
            ))  # fmt: skip
        upgrade(url)
        with engine.connect() as conn:
            lifecycle = conn.execute(
                text("SELECT version_id::text, state, deleted_at IS NOT NULL FROM version_lifecycle ORDER BY 1")
            ).all()
            corrections = conn.execute(
                text("SELECT role, source, note FROM assignment_corrections ORDER BY schedule_date")
            ).all()
            amion = conn.execute(text("SELECT role, source FROM assignments")).all()
        assert [tuple(r) for r in lifecycle] == [
            ("00000000-0000-0000-0000-000000000001", "PRODUCTION", False),
            ("00000000-0000-0000-0000-000000000002", "STAGING", True),
        ]
        assert [tuple(r) for r in corrections] == [("Mid3", "MANUAL", "gap"), ("ON2", "OVERRIDE", "swap")]
        assert [tuple(r) for r in amion] == [("ON1", "AMION")]
    finally:
        engine.dispose()
        admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_message_written_to_the_outbox_wakes_no_listener(services: Services) -> None:
    """Relays are woken by their own process's commits (and poll): the outbox sends no notification."""
    dsn = make_url(services.database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as listener, psycopg.connect(dsn, autocommit=True) as writer:
        listener.execute("LISTEN schedcu_outbox")
        writer.execute(
            "INSERT INTO outbox (message_id, correlation_id, routing_key, message_type, body, headers) "
            "VALUES ('m-notify', 'c', 'event.test', 'Test', '{}', '{}')"
        )
        assert list(listener.notifies(timeout=1.0)) == []
        writer.execute("DELETE FROM outbox WHERE message_id = 'm-notify'")


def test_0014_removes_the_password_that_archived_pages_echoed(services: Services) -> None:
    name = f"schedcu_test_0014_{os.getpid()}"
    url = make_url(services.database_url).set(database=name).render_as_string(False)
    ensure_database_exists(url)
    engine = create_engine(url)
    echoed = (
        "<html>Not found: /cgi-bin/ocs?Month=3-26&amp;Lo=s3cret+pw&amp;Rpt=619 "
        '{"url": "ocs?LO=s3cret%20pw\\"x"} lo=s3cret </html>'
    )
    try:
        upgrade(url, "0013")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO hospital_groups (id, name) VALUES (1, 'g');"
                "INSERT INTO schedule_versions (id, group_id, workflow_id, period_start, period_end, "
                "template_name, template_sha256, layout, findings) VALUES ('00000000-0000-0000-0000-000000000001', 1, "
                "gen_random_uuid(), '2026-03-01', '2026-03-31', 't.ods', '0', 'TEMPLATE', '[]');"
                "INSERT INTO scrape_batches (id, version_id, workflow_id, account, state, months, findings) VALUES "
                "('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', gen_random_uuid(), "
                "'a', 'FAILED', '{}', '[]')"
            ))  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO amion_pages (batch_id, month, url, status, fetched_at, sha256, body) VALUES "
                    "('00000000-0000-0000-0000-000000000002', '2026-03-01', 'ocs?Lo=***', 404, now(), '0', :b), "
                    "('00000000-0000-0000-0000-000000000002', '2026-04-01', 'ocs?Lo=***', 200, now(), '0', "
                    "'NOFI=No file')"
                ),
                {"b": echoed},
            )
        upgrade(url)
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM amion_pages ORDER BY month")).scalars().all()
        assert bodies == [
            '<html>Not found: /cgi-bin/ocs?Month=3-26&amp;Lo=***&amp;Rpt=619 {"url": "ocs?LO=***\\"x"} lo=*** </html>',
            "NOFI=No file",
        ]
    finally:
        engine.dispose()
        admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
