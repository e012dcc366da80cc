"""An operator's approval of a draft, in one transaction: the rows approved (services/drafting/approval.py), each
one the version's assignment with source `DRAFT` (services/coverage/corrections.py, audited), and the version's
coverage recalculated (`CalculateCoverage` in the outbox, so `CoverageChanged` follows); a rejection; an edit
checked against every hard rule. The command line and the console share them: `approved`, `rejected` and
`edited` say what they did in one line, and refuse with one of `REFUSED`."""

import uuid
from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage import corrections
from services.coverage.calculation import calculation_id_for
from services.drafting import approval
from services.drafting.approval import ApprovalError, Row, decide
from services.drafting.store import Options
from shared.db.models import Person
from shared.kernel.contracts import CalculateCoverage
from shared.kernel.roles import normalize_role
from shared.kernel.states import AssignmentSource, DraftRowState
from shared.messaging import outbox

REFUSED = (ApprovalError, corrections.CorrectionError)  # a decision refused, the text saying why


def row_key(text: str) -> tuple[date, str]:
    """DATE:ROLE, e.g. 2026-05-04:ON1; a ValueError says what to give."""
    day, _, role = text.partition(":")
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        parsed = None
    if parsed is None or not role:
        raise ValueError(f"{text[:40]!r} is not a row: give DATE:ROLE, e.g. 2026-05-04:ON1")
    return parsed, role


def approve(
    session: Session, run_id: uuid.UUID, picked: Collection[tuple[date, str]] | None, actor: str, reason: str | None
) -> tuple[list[Row], uuid.UUID | None]:
    """The rows approved and the recalculation requested (None when no row was approved)."""
    version_id, moved = decide(session, run_id, picked, DraftRowState.APPROVED, actor, reason)
    if not moved:
        return moved, None
    emails = dict(
        session.execute(select(Person.id, Person.email).where(Person.id.in_([r.person_id for r in moved]))).all()
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


def approved(
    session: Session, run_id: uuid.UUID, picked: Collection[tuple[date, str]] | None, actor: str, reason: str | None
) -> str:
    moved, calculation = approve(session, run_id, picked, actor, reason)
    if calculation is None:
        return "no proposed or edited row to approve"
    return f"approved {len(moved)} rows as DRAFT assignments; recalculation requested: calculation {calculation}"


def rejected(
    session: Session, run_id: uuid.UUID, picked: Collection[tuple[date, str]] | None, actor: str, reason: str | None
) -> str:
    _, moved = decide(session, run_id, picked, DraftRowState.REJECTED, actor, reason)
    return f"rejected {len(moved)} rows"


def edited(
    session: Session, run_id: uuid.UUID, day: date, role: str, person: str, options: Options, actor: str,
    reason: str | None,
) -> str:  # fmt: skip
    """Put the person named (email, exact name or alias) on `role` on `day`, once every hard rule allows it."""
    role = normalize_role(role) or role
    found = corrections.find_person(session.scalars(select(Person)).all(), person)
    approval.edit(session, run_id, day, role, found, options, actor, reason)
    return f"edited: {found.name} on {role} on {day.isoformat()}"
