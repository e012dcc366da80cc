"""The inbox remembers each message's body (its SHA-256), so that a new message reusing an old message id is told
apart from a redelivery; message and correlation ids are text, as long as AMQP allows (255 bytes) and the ids
derived from them (messaging)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

IDS = {("inbox", "message_id"), ("outbox", "message_id"), ("outbox", "correlation_id"), ("workflows", "correlation_id")}


def upgrade() -> None:
    for table, column in sorted(IDS):
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(200))
    # NULL for the messages processed before: they count as redeliveries whatever body comes again
    op.add_column("inbox", sa.Column("body_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("inbox", "body_sha256")
    for table, column in sorted(IDS):
        op.alter_column(
            table, column, type_=sa.String(200), existing_type=sa.Text(), postgresql_using=f"left({column}, 200)"
        )
