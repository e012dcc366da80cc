"""Proposals to fill gaps and their history (coverage)

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "version_id", UUID(as_uuid=True), sa.ForeignKey("schedule_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("schedule_date", sa.Date(), nullable=False),
        sa.Column("window", sa.String(length=200), nullable=False),
        sa.Column("worklist", sa.String(length=200), nullable=False),
        sa.Column("hospital", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("assign_role", sa.String(length=30), nullable=False),
        sa.Column("gap_status", sa.String(length=30), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("correction_id", sa.BigInteger(), nullable=True),
        sa.Column("amion_people", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )  # fmt: skip
    op.create_index("ix_proposals_version_date", "proposals", ["version_id", "schedule_date"])
    op.create_index(
        "ux_proposals_open_gap", "proposals", ["version_id", "schedule_date", "window", "worklist"], unique=True,
        postgresql_where=sa.text("state IN ('PROPOSED', 'EDITED')"),
    )  # fmt: skip
    op.create_table(
        "proposal_history",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "proposal_id", UUID(as_uuid=True), sa.ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("from_person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("to_person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )  # fmt: skip
    op.create_index("ix_proposal_history_proposal_id", "proposal_history", ["proposal_id"])


def downgrade() -> None:
    op.drop_table("proposal_history")
    op.drop_table("proposals")
