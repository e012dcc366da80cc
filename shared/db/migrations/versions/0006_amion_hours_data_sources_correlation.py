"""Amion's own hours on assignments; the scrape batch a calculation used; the upstream correlation id

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assignments", sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("assignments", sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("coverage_calculations", sa.Column("scrape_batch_id", UUID(as_uuid=True), nullable=True))
    op.add_column("workflows", sa.Column("correlation_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("workflows", "correlation_id")
    op.drop_column("coverage_calculations", "scrape_batch_id")
    op.drop_column("assignments", "ends_at")
    op.drop_column("assignments", "starts_at")
