"""Archived Amion pages lose every `Lo=` value they echoed (the view password, stored in clear before pages were
redacted as they arrive); the password's other forms cannot be found without it (amion_scraper)

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # as services/amion_scraper/client.py's redact_url, a backslash also ending the value (JSON-escaped echoes)
    op.execute(
        "UPDATE amion_pages SET body = regexp_replace(body, '(Lo=)[^&[:space:]\"''\\\\]*', '\\1***', 'gi') "
        "WHERE body ~* 'Lo='"
    )


def downgrade() -> None:
    pass  # the values are gone for good
