"""One PostgreSQL role per service, granted from the table owner map (`OWNERS`) and the read map (`READS`).

A worker's role reads and writes the tables its service owns and the messaging helper tables, reads the other
services' tables its code reads (`READS`) and no other, and may only append to `audit_log`. The operator's role
(the command line and the console, which run every service's operator actions) reads and writes every table and
also only appends to `audit_log`. The migration role may create in the schema: `schedcu db upgrade` run as it on a
new database makes it the tables' owner. `schedcu db roles` creates the roles (without passwords: the
administrator sets them) and grants; it is idempotent and is run again after every `schedcu db upgrade`, so that
new tables get their grants.
"""

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import Connection, sql

# Every table and the one package whose code writes it (migrations aside). `shared` writes only the
# messaging and audit tables, through its helpers.
OWNERS: dict[str, str] = {
    "hospital_groups": "services/ods_importer",
    "hospitals": "services/ods_importer",
    "schedule_versions": "services/ods_importer",
    "template_windows": "services/ods_importer",
    "template_responsibilities": "services/ods_importer",
    "shift_instances": "services/ods_importer",
    "people": "services/amion_scraper",
    "scrape_batches": "services/amion_scraper",
    "amion_pages": "services/amion_scraper",
    "assignments": "services/amion_scraper",
    "amion_request_slots": "services/amion_scraper",
    "coverage_calculations": "services/coverage",
    "coverage_cells": "services/coverage",
    "coverage_cell_dates": "services/coverage",
    "assignment_corrections": "services/coverage",
    "proposals": "services/coverage",
    "proposal_history": "services/coverage",
    "workflows": "services/versions",
    "workflow_phases": "services/versions",
    "version_lifecycle": "services/versions",
    "amion_watches": "services/versions",
    "amion_check_budgets": "services/versions",
    "draft_groups": "services/drafting",
    "draft_people": "services/drafting",
    "draft_role_hours": "services/drafting",
    "draft_rotations": "services/drafting",
    "draft_exceptions": "services/drafting",
    "draft_time_off": "services/drafting",
    "draft_requests": "services/drafting",
    "draft_runs": "services/drafting",
    "draft_rows": "services/drafting",
    "inbox": "shared",
    "outbox": "shared",
    "worker_heartbeats": "shared",
    "audit_log": "shared",
}
# Every view (shared/db/models.py) and the package that owns the tables it reads: read by its role like a table.
VIEWS: dict[str, str] = {"calculation_cells": "services/coverage"}
AUDIT_LOG = "audit_log"
HELPERS = tuple(table for table, owner in OWNERS.items() if owner == "shared" and table != AUDIT_LOG)
# The other services' tables each service's code reads (tests/test_architecture.py derives them from the code and
# compares): its worker's role may read these, its own tables, the helpers and `audit_log` (an insert returns the
# row's generated columns), and nothing else. Every worker's unit of work reads its workflow's row and phases.
READS: dict[str, tuple[str, ...]] = {
    "ods_importer": ("workflows", "workflow_phases"),
    "amion_scraper": ("workflows", "workflow_phases"),
    "coverage": (
        "hospital_groups", "schedule_versions", "template_windows", "template_responsibilities", "shift_instances",
        "people", "scrape_batches", "assignments", "workflows", "workflow_phases", "draft_rows",
    ),
    "versions": ("hospital_groups", "schedule_versions"),
    "drafting": (
        "hospital_groups", "schedule_versions", "template_windows", "template_responsibilities", "version_lifecycle",
        "people", "assignments", "assignment_corrections", "workflows", "workflow_phases",
    ),
}  # fmt: skip
# PostgreSQL lets a role lock rows (`FOR SHARE`) only with UPDATE on a column: a worker's unit of work locks its
# workflow's row (shared/messaging/unit_of_work.py), so each worker may update that one timestamp of it
LOCKED_BY_EVERY_WORKER = ("workflows", "updated_at")
MIGRATION_ROLE = "schedcu_owner"
OPERATOR_ROLE = "schedcu_operator"
SERVICE_ROLES = {
    service: f"schedcu_{service}" for service in ("ods_importer", "amion_scraper", "coverage", "versions", "drafting")
}


def writes(role: str) -> list[str]:
    """The tables `role` may insert into, update and delete from (`audit_log` aside: appended to only)."""
    if role == OPERATOR_ROLE:
        return [table for table in OWNERS if table != AUDIT_LOG]
    service = next(service for service, name in SERVICE_ROLES.items() if name == role)
    return [table for table, owner in OWNERS.items() if owner == f"services/{service}"] + list(HELPERS)


def reads(role: str) -> list[str]:
    """The tables `role` may read."""
    if role == OPERATOR_ROLE:
        return [*OWNERS, *VIEWS]
    service = next(service for service, name in SERVICE_ROLES.items() if name == role)
    own_views = [view for view, owner in VIEWS.items() if owner == f"services/{service}"]
    return [*writes(role), *own_views, *READS[service], AUDIT_LOG]


def _tables(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def migrated(conn: Connection[Any]) -> bool:
    """Whether `schedcu db upgrade` has created the schema's tables."""
    found = conn.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL").fetchone()
    return bool(found and found[0])


def ensure(conn: Connection[Any], database: str) -> list[str]:
    """Create the roles that are missing and grant each exactly its privileges on `database`'s schema (`conn`
    in autocommit); returns the roles it created. On a database not migrated yet, only the migration role is
    granted (what it needs to create the tables): run it again after the upgrade."""
    created = []
    for role in (MIGRATION_ROLE, OPERATOR_ROLE, *SERVICE_ROLES.values()):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            created.append(role)
        except psycopg.errors.DuplicateObject:
            pass
    owner = sql.Identifier(MIGRATION_ROLE)
    conn.execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(sql.Identifier(database), owner))
    conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(owner))
    if not migrated(conn):
        return created
    for role in (OPERATOR_ROLE, *SERVICE_ROLES.values()):
        who = sql.Identifier(role)
        with conn.transaction():
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), who))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who))
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(who))
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(_tables(reads(role)), who))
            conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who))
            conn.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(_tables(writes(role)), who))
            conn.execute(sql.SQL("GRANT INSERT ON {} TO {}").format(sql.Identifier(AUDIT_LOG), who))
            if role != OPERATOR_ROLE:
                table, column = LOCKED_BY_EVERY_WORKER
                conn.execute(
                    sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(sql.Identifier(column), sql.Identifier(table), who)
                )
    return created
