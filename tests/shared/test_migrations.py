import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, make_url, text

from schedcu.runtime.infra import ensure_database_exists
from shared.db.migrate import upgrade
from shared.db.models import Base
from tests.conftest import Services


@contextmanager
def database_at(services: Services, revision: str) -> Iterator[tuple[str, Engine]]:
    """A database of its own migrated up to `revision`: its URL and an engine; dropped afterwards."""
    name = f"schedcu_test_{revision}_{os.getpid()}"
    url = make_url(services.database_url).set(database=name).render_as_string(False)
    ensure_database_exists(url)
    engine = create_engine(url)
    try:
        upgrade(url, revision)
        yield url, engine
    finally:
        engine.dispose()
        admin = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_create_exactly_the_schema_the_models_describe(services: Services) -> None:
    with services.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_0007_moves_the_lifecycle_and_the_manual_assignments_to_their_owners_tables(services: Services) -> None:
    """A database at 0006 with a production version, a deleted one, and Amion, MANUAL and OVERRIDE
    assignments: after 0007 the states are in `version_lifecycle`, the manual ones in
    `assignment_corrections`, and `assignments` keeps Amion's."""
    with database_at(services, "0006") as (url, engine):
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
    echoed = (
        "<html>Not found: /cgi-bin/ocs?Month=3-26&amp;Lo=s3cret+pw&amp;Rpt=619 "
        '{"url": "ocs?LO=s3cret%20pw\\"x"} lo=s3cret </html>'
    )
    with database_at(services, "0013") as (url, engine):
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


def test_0015_makes_open_per_cell_proposals_obsolete_with_the_reason_and_keeps_final_ones_cell(
    services: Services,
) -> None:
    """A database at 0014 with an open and an approved proposal, each for one cell: after 0015 the open one is
    OBSOLETE with a history entry saying why, and each keeps its cell as the only one it fills."""
    with database_at(services, "0014") as (url, engine):
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO hospital_groups (id, name) VALUES (1, 'g');"
                "INSERT INTO people (id, name, email, specialty, aliases, active) "
                "VALUES (1, 'Adams, Ada', 'ada@example.org', 'BOTH', '[]', true);"
                "INSERT INTO schedule_versions (id, group_id, workflow_id, period_start, period_end, "
                "template_name, template_sha256, layout, findings) VALUES "
                "('00000000-0000-0000-0000-000000000001', 1, gen_random_uuid(), '2026-03-01', '2026-03-31', "
                "'t.ods', '0', 'TEMPLATE', '[]');"
                "INSERT INTO proposals (id, version_id, schedule_date, \"window\", worklist, hospital, role, "
                "assign_role, gap_status, person_id, state, amion_people) VALUES "
                "('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', '2026-03-02', "
                "'Mid  12am-1am', 'CPMC US', 'CPMC', 'Mid3', 'Mid3', 'UNCOVERED', 1, 'PROPOSED', '[]'), "
                "('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-000000000001', '2026-03-03', "
                "'Mid  12am-1am', 'Allen US', 'Allen', 'Mid3', 'Mid3', 'UNCOVERED', 1, 'APPROVED', '[]');"
            ))  # fmt: skip
        upgrade(url)
        with engine.connect() as conn:
            found = conn.execute(text("SELECT state, cells, open_cells FROM proposals ORDER BY id")).all()
            history = conn.execute(text("SELECT actor, from_state, to_state, reason FROM proposal_history")).all()
        assert [tuple(r) for r in found] == [
            ("OBSOLETE", [{"window": "Mid  12am-1am", "worklist": "CPMC US", "status": "UNCOVERED"}], []),
            ("APPROVED", [{"window": "Mid  12am-1am", "worklist": "Allen US", "status": "UNCOVERED"}], []),
        ]
        ((actor, before, after, reason),) = history
        assert (actor, before, after) == ("migration 0015", "PROPOSED", "OBSOLETE")
        assert reason.startswith("proposals fill a whole role on a date now, one per gap line")
