"""Watching Amion: `amion_watches` (versions) says per hospital group when its versions were last checked
against Amion, when next, and when Amion last changed; `workflows.kind` and `workflows.trigger` tell an import
from a re-scrape and what started it; `coverage_calculations.date_keys` fingerprints each date's inputs, so a
recalculation recomputes only the dates whose inputs changed.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "amion_watches",
        sa.Column("group_name", sa.String(length=200), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.add_column("workflows", sa.Column("kind", sa.String(length=20), nullable=False, server_default="IMPORT"))
    op.add_column("workflows", sa.Column("trigger", sa.String(length=50), nullable=False, server_default="request"))
    op.add_column("coverage_calculations", sa.Column("date_keys", JSONB(), nullable=True))
    op.add_column("coverage_calculations", sa.Column("inputs_key", sa.String(length=64), nullable=True))
    op.add_column("coverage_calculations", sa.Column("previous_id", UUID(as_uuid=True), nullable=True))


def downgrade() -> None:
    op.drop_column("coverage_calculations", "previous_id")
    op.drop_column("coverage_calculations", "inputs_key")
    op.drop_column("coverage_calculations", "date_keys")
    op.drop_column("workflows", "trigger")
    op.drop_column("workflows", "kind")
    op.drop_table("amion_watches")
