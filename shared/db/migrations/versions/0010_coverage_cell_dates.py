"""Coverage cells stored once per date: a calculation points each date of its period at the calculation that
holds that date's cells, so a recalculation of a few dates writes only their cells (coverage)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CALCULATION_CELLS = """
CREATE VIEW calculation_cells AS
SELECT d.calculation_id, c.id, c.schedule_date, c."window", c.worklist, c.hospital, c.role, c.people, c.status,
       c.mandatory
FROM coverage_cell_dates d
JOIN coverage_cells c ON c.calculation_id = d.cells_from AND c.schedule_date = d.schedule_date
"""


def upgrade() -> None:
    op.create_table(
        "coverage_cell_dates",
        sa.Column(
            "calculation_id", UUID(as_uuid=True), sa.ForeignKey("coverage_calculations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("schedule_date", sa.Date(), primary_key=True),
        # checked at commit, no cascade: a calculation whose cells later ones read can be deleted only with them
        sa.Column(
            "cells_from", UUID(as_uuid=True),
            sa.ForeignKey("coverage_calculations.id", deferrable=True, initially="DEFERRED"), nullable=False,
        ),
    )  # fmt: skip
    op.execute(
        "INSERT INTO coverage_cell_dates (calculation_id, schedule_date, cells_from) "
        "SELECT DISTINCT calculation_id, schedule_date, calculation_id FROM coverage_cells"
    )
    op.drop_index("ix_coverage_cells_calculation_id", table_name="coverage_cells")
    op.create_index("ix_coverage_cells_calculation_date", "coverage_cells", ["calculation_id", "schedule_date"])
    op.execute(CALCULATION_CELLS)


def downgrade() -> None:
    op.execute(
        'INSERT INTO coverage_cells (calculation_id, schedule_date, "window", worklist, hospital, role, people, '
        "status, mandatory) "
        'SELECT d.calculation_id, c.schedule_date, c."window", c.worklist, c.hospital, c.role, c.people, c.status, '
        "c.mandatory FROM coverage_cell_dates d JOIN coverage_cells c "
        "ON c.calculation_id = d.cells_from AND c.schedule_date = d.schedule_date "
        "WHERE d.cells_from <> d.calculation_id ORDER BY d.calculation_id, c.schedule_date, c.id"
    )
    op.execute("DROP VIEW calculation_cells")
    op.drop_index("ix_coverage_cells_calculation_date", table_name="coverage_cells")
    op.create_index("ix_coverage_cells_calculation_id", "coverage_cells", ["calculation_id"])
    op.drop_table("coverage_cell_dates")
