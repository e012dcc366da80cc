"""A proposal fills one role as written on one date (a gap line), not one cell: the cells it fills and those it
leaves open, with why, replace the single cell; at most one open proposal per version, date and role. Open
per-cell proposals become OBSOLETE with the reason; final ones keep their cell as their only one (coverage)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN = "state IN ('PROPOSED', 'EDITED')"
REPLACED = (
    "proposals fill a whole role on a date now, one per gap line: this proposal for one cell was replaced; "
    "run `schedcu proposals create` again"
)


def upgrade() -> None:
    op.add_column("proposals", sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("proposals", sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("proposals", sa.Column("cells", JSONB(), server_default="[]", nullable=False))
    op.add_column("proposals", sa.Column("open_cells", JSONB(), server_default="[]", nullable=False))
    op.execute(
        "UPDATE proposals SET cells = jsonb_build_array("
        "jsonb_build_object('window', \"window\", 'worklist', worklist, 'status', gap_status))"
    )
    op.execute(
        sa.text(
            "INSERT INTO proposal_history (proposal_id, actor, action, from_state, to_state, from_person_id, "
            "to_person_id, reason) SELECT id, 'migration 0015', 'obsolete', state, 'OBSOLETE', person_id, person_id, "
            f":reason FROM proposals WHERE {OPEN}"
        ).bindparams(reason=REPLACED)
    )
    op.execute(f"UPDATE proposals SET state = 'OBSOLETE', updated_at = now() WHERE {OPEN}")
    op.drop_index("ux_proposals_open_gap", table_name="proposals")
    for column in ("window", "worklist", "hospital", "gap_status"):
        op.drop_column("proposals", column)
    op.create_index(
        "ux_proposals_open_role", "proposals", ["version_id", "schedule_date", "assign_role"], unique=True,
        postgresql_where=sa.text(OPEN),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ux_proposals_open_role", table_name="proposals")
    op.add_column("proposals", sa.Column("window", sa.String(length=200), server_default="", nullable=False))
    op.add_column("proposals", sa.Column("worklist", sa.String(length=200), server_default="", nullable=False))
    op.add_column("proposals", sa.Column("hospital", sa.String(length=100), server_default="", nullable=False))
    op.add_column("proposals", sa.Column("gap_status", sa.String(length=30), server_default="", nullable=False))
    op.execute(
        "UPDATE proposals SET \"window\" = cells->0->>'window', worklist = cells->0->>'worklist', "
        "hospital = split_part(cells->0->>'worklist', ' ', 1), gap_status = cells->0->>'status' "
        "WHERE jsonb_array_length(cells) > 0"
    )
    op.execute(f"UPDATE proposals SET state = 'OBSOLETE', updated_at = now() WHERE {OPEN}")
    for column in ("starts_at", "ends_at", "cells", "open_cells"):
        op.drop_column("proposals", column)
    op.create_index(
        "ux_proposals_open_gap", "proposals", ["version_id", "schedule_date", "window", "worklist"], unique=True,
        postgresql_where=sa.text(OPEN),
    )  # fmt: skip
