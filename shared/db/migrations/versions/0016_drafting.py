"""Drafting: the inputs a draft is made from (per person, per group, rotations, exceptions, time off, requests)
and the runs with their proposed rows (drafting)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _group() -> sa.Column[int]:
    return sa.Column("group_id", sa.Integer(), sa.ForeignKey("hospital_groups.id", ondelete="CASCADE"), nullable=False)


def _person(nullable: bool = False) -> sa.Column[int]:
    return sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=nullable)


def _limits() -> list[sa.Column[int]]:
    return [
        sa.Column(name, sa.Integer(), nullable=True) for name in ("nights", "consecutive", "free_between", "weekends")
    ]


def upgrade() -> None:
    op.create_table("draft_groups", sa.Column("group_id", sa.Integer(), sa.ForeignKey("hospital_groups.id",
                    ondelete="CASCADE"), primary_key=True), *_limits())  # fmt: skip
    op.create_table(
        "draft_people",
        _group(),
        _person(),
        sa.Column("fte", sa.Float(), server_default="1.0", nullable=False),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("active_to", sa.Date(), nullable=True),
        *_limits(),
        sa.PrimaryKeyConstraint("group_id", "person_id"),
    )
    op.create_table(
        "draft_role_hours",
        _group(),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "role"),
    )
    op.create_table(
        "draft_rotations",
        sa.Column("id", sa.Integer(), primary_key=True),
        _group(),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        _person(),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
    )
    op.create_table(
        "draft_exceptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _group(),
        sa.Column("schedule_date", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        _person(nullable=True),
        sa.UniqueConstraint("group_id", "schedule_date", "role"),
    )
    op.create_table(
        "draft_time_off",
        sa.Column("id", sa.Integer(), primary_key=True),
        _person(),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_table(
        "draft_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        _group(),
        _person(),
        sa.Column("wants_on", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("schedule_date", sa.Date(), nullable=True),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=30), nullable=True),
    )
    op.create_table(
        "draft_runs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "version_id", UUID(as_uuid=True), sa.ForeignKey("schedule_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("to_fill", sa.Integer(), nullable=True),
        sa.Column("filled", sa.Integer(), nullable=True),
        sa.Column("unfilled", sa.Integer(), nullable=True),
        sa.Column("kept", sa.Integer(), nullable=True),
        sa.Column("levels", JSONB(), server_default="[]", nullable=False),
        sa.Column("explanations", JSONB(), server_default="{}", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )  # fmt: skip
    op.create_index("ix_draft_runs_version", "draft_runs", ["version_id"])
    op.create_table(
        "draft_rows",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("run_id", UUID(as_uuid=True), sa.ForeignKey("draft_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("schedule_date", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        _person(),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.UniqueConstraint("run_id", "schedule_date", "role"),
    )


def downgrade() -> None:
    for name in ("draft_rows", "draft_runs", "draft_requests", "draft_time_off", "draft_exceptions", "draft_rotations",
                 "draft_role_hours", "draft_people", "draft_groups"):  # fmt: skip
        op.drop_table(name)
