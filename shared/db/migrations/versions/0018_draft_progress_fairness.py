"""Draft runs: the progress of a solve while it runs, and the fairness of the draft per person

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("draft_runs", sa.Column("progress", JSONB(), nullable=True))
    op.add_column("draft_runs", sa.Column("fairness", JSONB(), server_default="[]", nullable=False))


def downgrade() -> None:
    op.drop_column("draft_runs", "fairness")
    op.drop_column("draft_runs", "progress")
