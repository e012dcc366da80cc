"""Read side of proposals: the open proposals of every version, a version's proposals, and one proposal with
its history."""

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from schedcu.queries import starts_with
from services.coverage.proposal_states import OPEN
from shared.db.models import HospitalGroup, Person, Proposal, ProposalHistory, ScheduleVersion


def _local(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).isoformat() if at is not None else None


def _view(p: Proposal, person: Person, tz: ZoneInfo) -> dict[str, Any]:
    """`start`/`end`: the gap line's span (None for proposals made before lines); `fills`: its gaps the person
    fills; `stays_open`: those they leave open, with why."""
    return {
        "proposal_id": str(p.id),
        "version_id": str(p.version_id),
        "date": p.schedule_date.isoformat(),
        "role": p.role,
        "assign_role": p.assign_role,
        "start": _local(p.starts_at, tz),
        "end": _local(p.ends_at, tz),
        "fills": p.cells,
        "stays_open": p.open_cells,
        "state": p.state,
        "person": {"person_id": person.id, "name": person.name, "email": person.email},
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def proposals(session: Session, version_id: uuid.UUID, tz: ZoneInfo, state: str | None = None) -> list[dict[str, Any]]:
    """By date, start, role, then creation."""
    query = (
        select(Proposal, Person)
        .join(Person, Person.id == Proposal.person_id)
        .where(Proposal.version_id == version_id)
        .order_by(Proposal.schedule_date, Proposal.starts_at, Proposal.assign_role, Proposal.created_at)
    )
    if state is not None:
        query = query.where(Proposal.state == state)
    return [_view(p, person, tz) for p, person in session.execute(query)]


def open_proposals(
    session: Session, group: str | None = None, person: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Open proposals of every version by date, role, group, then creation; `group` and `person` match the
    beginning of the name, in any case."""
    query = (
        select(
            Proposal.id, Proposal.version_id, HospitalGroup.name, Proposal.schedule_date, Proposal.assign_role,
            Person.name, Proposal.state, Proposal.created_at,
        )
        .join(Person, Person.id == Proposal.person_id)
        .join(ScheduleVersion, ScheduleVersion.id == Proposal.version_id)
        .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
        .where(Proposal.state.in_([str(s) for s in OPEN]))
        .order_by(Proposal.schedule_date, Proposal.assign_role, HospitalGroup.name, Proposal.created_at, Proposal.id)
        .limit(limit)
        .offset(offset)
    )  # fmt: skip
    if group:
        query = query.where(starts_with(HospitalGroup.name, group))
    if person:
        query = query.where(starts_with(Person.name, person))
    return [
        {
            "proposal_id": str(proposal_id), "version_id": str(version_id), "group": group_name,
            "date": day.isoformat(), "role": role, "person": name, "state": state, "created_at": created.isoformat(),
        }
        for proposal_id, version_id, group_name, day, role, name, state, created in session.execute(query)
    ]  # fmt: skip


def proposal(session: Session, proposal_id: uuid.UUID, tz: ZoneInfo) -> dict[str, Any] | None:
    """The proposal with its history, oldest step first."""
    found = session.execute(
        select(Proposal, Person).join(Person, Person.id == Proposal.person_id).where(Proposal.id == proposal_id)
    ).first()
    if found is None:
        return None
    before, after = aliased(Person), aliased(Person)
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
    return _view(*found, tz) | {"history": history}
