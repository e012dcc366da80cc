"""Draft runs for the operator: a run with the version's kept assignments beside its own rows."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.drafting.runs import run_view
from services.drafting.store import kept_of
from shared.db.models import HospitalGroup, Person, ScheduleVersion


def run_detail(session: Session, run_id: uuid.UUID) -> dict[str, Any] | None:
    """`run_view` with the version's group and period, and `kept_rows`: the version's own assignments (date, role,
    person) the draft kept around."""
    view = run_view(session, run_id)
    if view is None:
        return None
    version_id = uuid.UUID(view["version_id"])
    group, start, end = session.execute(
        select(HospitalGroup.name, ScheduleVersion.period_start, ScheduleVersion.period_end)
        .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
        .where(ScheduleVersion.id == version_id)
    ).one()
    view |= {"group": group, "period": {"start": start.isoformat(), "end": end.isoformat()}}
    kept = kept_of(session, version_id)
    holding = {k.person_id for k in kept}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(holding))).all())
    view["kept_rows"] = [{"date": k.day.isoformat(), "role": k.role, "person": names[k.person_id]} for k in kept]
    return view
