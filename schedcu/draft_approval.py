"""An operator's approval of a draft, in one transaction: the rows approved (services/drafting/approval.py), each
one the version's assignment with source `DRAFT` (services/coverage/corrections.py, audited), and the version's
coverage recalculated (`CalculateCoverage` in the outbox, so `CoverageChanged` follows). The command line and
the console share it."""

import uuid
from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage import corrections
from services.coverage.calculation import calculation_id_for
from services.drafting.approval import ApprovalError, Row, decide
from shared.contracts import CalculateCoverage
from shared.db.models import PersonRow
from shared.messaging import outbox
from shared.states import AssignmentSource, DraftRowState


def approve(
    session: Session, run_id: uuid.UUID, picked: Collection[tuple[date, str]] | None, actor: str, reason: str | None
) -> tuple[list[Row], uuid.UUID | None]:
    """The rows approved and the recalculation requested (None when no row was approved)."""
    version_id, moved = decide(session, run_id, picked, DraftRowState.APPROVED, actor, reason)
    if not moved:
        return moved, None
    emails = dict(
        session.execute(
            select(PersonRow.id, PersonRow.email).where(PersonRow.id.in_([r.person_id for r in moved]))
        ).all()
    )
    why = reason or f"draft run {run_id} approved"
    for row in moved:
        if corrections.assigned(session, version_id, row.day, row.role):
            raise ApprovalError(
                f"{row.day.isoformat()} {row.role} has been assigned in the version since the draft: edit or reject "
                "that row"
            )
        corrections.add(
            session, version_id, row.day, row.role, emails[row.person_id], why, actor, source=AssignmentSource.DRAFT
        )
    message_id = f"draft:{run_id}:approved:{uuid.uuid4()}"
    outbox.add(session, CalculateCoverage(version_id=version_id), message_id=message_id, correlation_id=str(run_id))
    return moved, calculation_id_for(message_id)
