"""Read side of proposals: a version's proposals, and one proposal with its history."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from shared.db.models import PersonRow, Proposal, ProposalHistory


def _view(p: Proposal, person: PersonRow) -> dict[str, Any]:
    return {
        "proposal_id": str(p.id),
        "version_id": str(p.version_id),
        "date": p.schedule_date.isoformat(),
        "window": p.window,
        "worklist": p.worklist,
        "hospital": p.hospital,
        "role": p.role,
        "assign_role": p.assign_role,
        "gap_status": p.gap_status,
        "state": p.state,
        "person": {"person_id": person.id, "name": person.name, "email": person.email},
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def proposals(session: Session, version_id: uuid.UUID, state: str | None = None) -> list[dict[str, Any]]:
    """By date, window, worklist, then creation."""
    query = (
        select(Proposal, PersonRow)
        .join(PersonRow, PersonRow.id == Proposal.person_id)
        .where(Proposal.version_id == version_id)
        .order_by(Proposal.schedule_date, Proposal.window, Proposal.worklist, Proposal.created_at)
    )
    if state is not None:
        query = query.where(Proposal.state == state)
    return [_view(p, person) for p, person in session.execute(query)]


def proposal(session: Session, proposal_id: uuid.UUID) -> dict[str, Any] | None:
    """The proposal with its history, oldest step first."""
    found = session.execute(
        select(Proposal, PersonRow)
        .join(PersonRow, PersonRow.id == Proposal.person_id)
        .where(Proposal.id == proposal_id)
    ).first()
    if found is None:
        return None
    before, after = aliased(PersonRow), aliased(PersonRow)
    history = [
        {
            "at": h.at.isoformat(),
            "actor": h.actor,
            "action": h.action,
            "from_state": h.from_state,
            "to_state": h.to_state,
            "from_person": from_name,
            "to_person": to_name,
            "reason": h.reason,
        }
        for h, from_name, to_name in session.execute(
            select(ProposalHistory, before.name, after.name)
            .outerjoin(before, before.id == ProposalHistory.from_person_id)
            .outerjoin(after, after.id == ProposalHistory.to_person_id)
            .where(ProposalHistory.proposal_id == proposal_id)
            .order_by(ProposalHistory.id)
        )
    ]
    return _view(*found) | {"history": history}
