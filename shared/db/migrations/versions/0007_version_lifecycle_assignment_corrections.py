"""One writer per table: a version's lifecycle moves to `version_lifecycle` (versions), manual corrections to
`assignment_corrections` (coverage)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_lifecycle",
        sa.Column(
            "version_id", UUID(as_uuid=True), sa.ForeignKey("schedule_versions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )  # fmt: skip
    op.execute(
        "INSERT INTO version_lifecycle (version_id, state, deleted_at) "
        "SELECT id, state, deleted_at FROM schedule_versions"
    )
    op.drop_column("schedule_versions", "state")
    op.drop_column("schedule_versions", "deleted_at")

    op.create_table(
        "assignment_corrections",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "version_id", UUID(as_uuid=True), sa.ForeignKey("schedule_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("schedule_date", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=True),
        sa.Column("hides_assignment_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("(source IS NULL) <> (hides_assignment_id IS NULL)", name="ck_assignment_corrections_kind"),
    )  # fmt: skip
    op.create_index("ix_assignment_corrections_version_date", "assignment_corrections", ["version_id", "schedule_date"])
    op.execute(
        "INSERT INTO assignment_corrections (version_id, schedule_date, role, person_id, source, note, created_at) "
        "SELECT version_id, schedule_date, role, person_id, source, note, created_at FROM assignments "
        "WHERE source IN ('MANUAL', 'OVERRIDE') ORDER BY id"
    )
    op.execute("DELETE FROM assignments WHERE source IN ('MANUAL', 'OVERRIDE')")


def downgrade() -> None:
    op.execute(
        "INSERT INTO assignments (version_id, schedule_date, role, person_id, source, note, created_at) "
        "SELECT version_id, schedule_date, role, person_id, source, note, created_at FROM assignment_corrections "
        "WHERE source IS NOT NULL ORDER BY id"
    )
    op.execute("DELETE FROM assignments a USING assignment_corrections c WHERE c.hides_assignment_id = a.id")
    op.drop_index("ix_assignment_corrections_version_date", table_name="assignment_corrections")
    op.drop_table("assignment_corrections")

    op.add_column(
        "schedule_versions",
        sa.Column("state", sa.String(length=20), nullable=False, server_default="STAGING"),
    )
    op.add_column("schedule_versions", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE schedule_versions v SET state = l.state, deleted_at = l.deleted_at "
        "FROM version_lifecycle l WHERE l.version_id = v.id"
    )
    op.drop_table("version_lifecycle")
