"""Audit rows hold any queue name, routing key or message id: `from_state`, `to_state` and `entity_id` become
text (a dead letter's queue `schedcu.amion_scraper.dead-letter` is 33 characters, a message id up to 255)
(shared/audit.py)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = {"entity_id": 100, "from_state": 30, "to_state": 30}


def upgrade() -> None:
    for column, length in COLUMNS.items():
        op.alter_column("audit_log", column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    # a longer value is cut to fit: the old width cannot hold it
    for column, length in COLUMNS.items():
        op.alter_column(
            "audit_log", column, type_=sa.String(length), existing_type=sa.Text(),
            postgresql_using=f"left({column}, {length})",
        )  # fmt: skip
