"""flat layout columns, phase deadlines, assignment notes

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "schedule_versions", sa.Column("layout", sa.String(length=10), server_default="TEMPLATE", nullable=False)
    )
    op.alter_column("shift_instances", "window_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("shift_instances", sa.Column("hospital", sa.String(length=100), nullable=True))
    op.add_column("shift_instances", sa.Column("study_type", sa.String(length=100), nullable=True))
    op.add_column("assignments", sa.Column("note", sa.Text(), nullable=True))
    op.add_column("workflow_phases", sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("workflow_phases", "deadline_at")
    op.drop_column("assignments", "note")
    op.drop_column("shift_instances", "study_type")
    op.drop_column("shift_instances", "hospital")
    op.alter_column("shift_instances", "window_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column("schedule_versions", "layout")
