"""The PostgreSQL roles of `shared.db.roles` on a database of this module's own: the ODS importer (the worker that
parses untrusted spreadsheets) cannot write another service's table, no role but the owner rewrites the audit log,
a worker cannot read what its code does not read, and the pipeline and `schedcu verify` pass with every worker and
the operator on their own role."""

import calendar
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy.exc
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from schedcu.runtime import local
from schedcu.runtime.processes import schedcu_command
from schedcu.runtime.registries import WORKERS
from shared.db import roles
from shared.kernel import ids
from tests.conftest import MONTH, Services, admin_url, drop_database, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = pytest.mark.slow

ALL_ROLES = [roles.MIGRATION_ROLE, roles.OPERATOR_ROLE, *roles.SERVICE_ROLES.values()]


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """A database of its own, granted by `schedcu db roles`; the roles it created are dropped after the database."""
    with provisioned(f"schedcu_test_roles_{os.getpid()}") as provided:
        admin = libpq(make_url(provided.database_url).set(database="postgres").render_as_string(False))
        with psycopg.connect(admin, autocommit=True) as conn:
            existing = {
                row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [ALL_ROLES])
            }
        subprocess.run(
            schedcu_command("db", "roles"), env={**os.environ, "SCHEDCU_DATABASE_URL": provided.database_url},
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        yield provided
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in set(ALL_ROLES) - existing:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def as_role(services: Services, role: str) -> str:
    return make_url(services.database_url).set(username=role, password=None).render_as_string(False)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
def fresh_database(services: Services) -> Iterator[str]:
    """An empty database on the same server (no table yet), dropped before the module's roles are."""
    url = make_url(services.database_url).set(database=f"schedcu_test_owner_{os.getpid()}").render_as_string(False)
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(make_url(url).database))))
    try:
        yield url
    finally:
        drop_database(url)


def schedcu_db(command: str, database_url: str) -> str:
    done = subprocess.run(
        schedcu_command("db", command), env={**os.environ, "SCHEDCU_DATABASE_URL": database_url},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_on_a_new_database_the_migration_role_owns_the_schema_and_alone_rewrites_the_audit_log(
    fresh_database: str,
) -> None:
    """The order docs/operations.md gives: `db roles`, `db upgrade` as the migration role, `db roles` again."""
    assert "run `schedcu db upgrade` as schedcu_owner" in schedcu_db("roles", fresh_database)
    owner_url = make_url(fresh_database).set(username=roles.MIGRATION_ROLE, password=None).render_as_string(False)
    schedcu_db("upgrade", owner_url)
    assert "granted each schedcu role its privileges" in schedcu_db("roles", fresh_database)

    with psycopg.connect(libpq(fresh_database)) as conn:
        owners = dict(
            conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'").fetchall()
        )
        view_owners = set(conn.execute("SELECT viewowner FROM pg_views WHERE schemaname = 'public'").fetchall())
    assert set(roles.OWNERS) <= set(owners)
    assert {table: owner for table, owner in owners.items() if owner != roles.MIGRATION_ROLE} == {}
    assert view_owners <= {(roles.MIGRATION_ROLE,)}

    for role in (roles.OPERATOR_ROLE, *roles.SERVICE_ROLES.values()):
        for statement in ("UPDATE audit_log SET reason = reason", "DELETE FROM audit_log"):
            as_it = make_url(fresh_database).set(username=role, password=None).render_as_string(False)
            with psycopg.connect(libpq(as_it)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with psycopg.connect(libpq(owner_url)) as conn:
        conn.execute("UPDATE audit_log SET reason = reason")
        conn.execute("DELETE FROM audit_log")
        conn.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO assignments DEFAULT VALUES",
        "UPDATE assignments SET person_id = person_id",
        "DELETE FROM assignments",
        "UPDATE audit_log SET reason = reason",
        "DELETE FROM audit_log",
    ],
)
def test_the_ods_importer_cannot_write_assignments_nor_rewrite_the_audit_log(
    services: Services, statement: str
) -> None:
    importer = as_role(services, roles.SERVICE_ROLES["ods_importer"])
    with psycopg.connect(libpq(importer)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


@pytest.mark.parametrize("role", [roles.OPERATOR_ROLE, *roles.SERVICE_ROLES.values()])
@pytest.mark.parametrize("statement", ["UPDATE audit_log SET reason = 'rewritten'", "DELETE FROM audit_log"])
def test_no_role_but_the_owner_rewrites_the_audit_log(services: Services, role: str, statement: str) -> None:
    with psycopg.connect(libpq(as_role(services, role))) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


@pytest.mark.parametrize(
    ("service", "table"),
    [
        ("ods_importer", "assignments"),
        ("ods_importer", "people"),
        ("amion_scraper", "coverage_cells"),
        ("versions", "assignments"),
        ("coverage", "draft_requests"),
        ("drafting", "amion_pages"),
    ],
)
def test_a_worker_cannot_read_a_table_its_code_does_not_read(services: Services, service: str, table: str) -> None:
    worker = as_role(services, roles.SERVICE_ROLES[service])
    with psycopg.connect(libpq(worker)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))


def test_a_worker_reads_the_tables_its_code_reads(services: Services) -> None:
    coverage = as_role(services, roles.SERVICE_ROLES["coverage"])
    with psycopg.connect(libpq(coverage)) as conn:
        for table in ("assignments", "shift_instances", "coverage_cells", "inbox", "audit_log"):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))


def test_demo_and_dev_run_each_worker_on_its_own_role_through_one_login(services: Services) -> None:
    urls = local.worker_database_urls(services.database_url)
    engine = create_engine(urls["ods-importer"])
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == roles.SERVICE_ROLES["ods_importer"]
            conn.execute(text("SELECT count(*) FROM shift_instances"))
            with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied for table assignments"):
                conn.execute(text("SELECT count(*) FROM assignments"))
    finally:
        engine.dispose()
    relay_dsn = libpq(urls["coverage"])  # as the outbox relay connects: libpq's own URL parsing
    with psycopg.connect(relay_dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (roles.SERVICE_ROLES["coverage"],)


def test_the_pipeline_and_verify_pass_with_every_worker_and_the_operator_on_its_own_role(
    services: Services, tmp_path: Path
) -> None:
    own = {name: {"SCHEDCU_DATABASE_URL": as_role(services, roles.SERVICE_ROLES[WORKERS[name]])} for name in WORKERS}
    with running_pipeline(services, tmp_path, worker_env=own) as pipeline:
        request_id = f"roles-{uuid.uuid4()}"
        period = (MONTH.isoformat(), MONTH.replace(day=calendar.monthrange(MONTH.year, MONTH.month)[1]).isoformat())
        amqp_client.publish(
            services.amqp_url, json.dumps(amqp_client.import_requested(request_id, pipeline.template, *period)).encode()
        )
        assert pipeline.wait_terminal(ids.workflow_id_for(request_id), timeout_s=120) == "COMPLETED"
        done = subprocess.run(
            schedcu_command("verify", "--all", "--json"),
            env={**pipeline.env, "SCHEDCU_DATABASE_URL": as_role(services, roles.OPERATOR_ROLE)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.stdout, done.stderr
        report = json.loads(done.stdout)
        assert done.returncode == 0, report["violations"]
        assert report["versions_checked"] == 1
