"""`DRIFT`: where Amion, scraped after a draft was approved, has other people on a role-date than the approved
draft row (domain §6). Amion stays the source of truth: the draft row then no longer counts
(services/coverage/assignments.py), and the finding (INFO) says who each has."""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Assignment, AssignmentCorrection, Person
from shared.kernel.findings import DRIFT, Finding
from shared.kernel.states import AssignmentSource

RoleDate = tuple[date, str]


def drift_findings(drafted: Mapping[RoleDate, str], amion: Mapping[RoleDate, Sequence[str]]) -> list[Finding]:
    """One finding per role-date of the approved draft where Amion has people and not the draft's. Pure."""
    return [
        DRIFT(
            f"{day.isoformat()} {role}: Amion has {', '.join(amion[(day, role)])}, the approved draft {person}",
            f"{day.isoformat()} {role}",
        )
        for (day, role), person in sorted(drafted.items())
        if amion.get((day, role)) and person not in amion[(day, role)]
    ]


def drift(session: Session, version_id: uuid.UUID) -> list[Finding]:
    drafted = {
        (day, role): name
        for day, role, name in session.execute(
            select(AssignmentCorrection.schedule_date, AssignmentCorrection.role, Person.name)
            .join(Person, Person.id == AssignmentCorrection.person_id)
            .where(AssignmentCorrection.version_id == version_id, AssignmentCorrection.source == AssignmentSource.DRAFT)
        )
    }
    if not drafted:
        return []
    hidden = select(AssignmentCorrection.hides_assignment_id).where(
        AssignmentCorrection.version_id == version_id, AssignmentCorrection.hides_assignment_id.is_not(None)
    )
    amion: dict[RoleDate, list[str]] = defaultdict(list)
    for day, role, name in session.execute(
        select(Assignment.schedule_date, Assignment.role, Person.name)
        .join(Person, Person.id == Assignment.person_id)
        .where(Assignment.version_id == version_id, Assignment.id.not_in(hidden))
        .order_by(Assignment.id)
    ):
        if (day, role) in drafted:
            amion[(day, role)].append(name)
    return drift_findings(drafted, amion)
