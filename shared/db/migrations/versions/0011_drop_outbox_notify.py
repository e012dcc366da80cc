"""The outbox's NOTIFY trigger goes: each worker's relay is woken by its own process's commits and polls for the
rest, so nothing listens, and every insert into the outbox paid for a notification nobody read (messaging)

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER outbox_notify ON outbox")
    op.execute("DROP FUNCTION schedcu_outbox_notify()")


def downgrade() -> None:
    op.execute(
        "CREATE FUNCTION schedcu_outbox_notify() RETURNS trigger AS $$ "
        "BEGIN PERFORM pg_notify('schedcu_outbox', ''); RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION schedcu_outbox_notify()"
    )
