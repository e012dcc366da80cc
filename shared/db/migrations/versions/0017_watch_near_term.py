"""The near-term watch: each group's next check of the coming hours, and per Amion account when the checks the
watch has sent end (services/versions/watch.py)

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("amion_watches", sa.Column("next_near_check_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "amion_check_budgets",
        sa.Column("account", sa.String(100), primary_key=True),
        sa.Column("busy_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("amion_check_budgets")
    op.drop_column("amion_watches", "next_near_check_at")
