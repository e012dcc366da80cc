"""Repair runs: a draft run of kind `repair` carries what it repairs and its figures; its rows are the moves of
the chain, each naming the assignment it displaces, its rule and the move it follows (services/drafting)

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("draft_runs", sa.Column("kind", sa.String(20), server_default="draft", nullable=False))
    op.add_column("draft_runs", sa.Column("repair", JSONB(), nullable=True))
    op.add_column(
        "draft_rows", sa.Column("displaced_person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=True)
    )
    op.add_column("draft_rows", sa.Column("position", sa.Integer(), nullable=True))
    op.add_column("draft_rows", sa.Column("after_position", sa.Integer(), nullable=True))
    op.add_column("draft_rows", sa.Column("rule", sa.String(30), nullable=True))
    op.add_column("draft_rows", sa.Column("because", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("because", "rule", "after_position", "position", "displaced_person_id"):
        op.drop_column("draft_rows", column)
    op.drop_column("draft_runs", "repair")
    op.drop_column("draft_runs", "kind")
