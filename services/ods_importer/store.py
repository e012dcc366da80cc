"""Writes a parsed template as a new STAGING schedule version, in the caller's transaction."""

import uuid
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.ods_importer.expansion import ShiftInstance as PlannedShift
from shared.contracts import Period
from shared.db.models import (
    AuditRecord,
    Hospital,
    HospitalGroup,
    ScheduleVersion,
    ShiftInstance,
    TemplateResponsibility,
    TemplateWindow,
)
from shared.findings import Finding
from shared.template_model import Window


def group_id(session: Session, name: str) -> int:
    session.execute(pg_insert(HospitalGroup).values(name=name).on_conflict_do_nothing())
    return session.scalars(select(HospitalGroup.id).where(HospitalGroup.name == name)).one()


def store_version(
    session: Session,
    *,
    version_id: uuid.UUID,
    workflow_id: uuid.UUID,
    group: str,
    period: Period,
    template_name: str,
    template_sha256: str,
    windows: Sequence[Window],
    shifts: Sequence[PlannedShift],
    findings: Sequence[Finding],
    actor: str,
) -> None:
    gid = group_id(session, group)
    hospitals = sorted({r.hospital for w in windows for r in w.responsibilities})
    if hospitals:
        session.execute(
            pg_insert(Hospital).values([{"group_id": gid, "name": h} for h in hospitals]).on_conflict_do_nothing()
        )
    session.add(
        ScheduleVersion(
            id=version_id,
            group_id=gid,
            workflow_id=workflow_id,
            state="STAGING",
            period_start=period.start,
            period_end=period.end,
            template_name=template_name,
            template_sha256=template_sha256,
            findings=[f.model_dump(mode="json") for f in findings],
        )
    )
    session.flush()
    window_ids = dict(
        session.execute(
            insert(TemplateWindow)
            .values(
                [
                    {
                        "version_id": version_id,
                        "sheet": w.sheet,
                        "category": w.category.value,
                        "day_type": w.day_type.value if w.day_type else None,
                        "variant": w.variant.value if w.variant else None,
                        "start_time": w.start,
                        "end_time": w.end,
                    }
                    for w in windows
                ]
            )
            .returning(TemplateWindow.sheet, TemplateWindow.id)
        ).all()
    )
    session.execute(
        insert(TemplateResponsibility),
        [
            {"window_id": window_ids[w.sheet], "worklist": r.worklist, "hospital": r.hospital, "role": r.role}
            for w in windows
            for r in w.responsibilities
        ],
    )
    if shifts:
        session.execute(
            insert(ShiftInstance),
            [
                {
                    "version_id": version_id,
                    "window_id": window_ids[s.window],
                    "schedule_date": s.schedule_date,
                    "role": s.role,
                    "starts_at": s.starts_at,
                    "ends_at": s.ends_at,
                    "desired_coverage": s.desired_coverage,
                    "mandatory": s.mandatory,
                    "specialty_constraint": s.specialty_constraint,
                }
                for s in shifts
            ],
        )
    session.add(
        AuditRecord(
            actor=actor,
            entity="schedule_version",
            entity_id=str(version_id),
            action="create",
            from_state=None,
            to_state="STAGING",
            reason=f"imported {template_name} for {period.start}..{period.end}",
            details={"workflow_id": str(workflow_id)},
        )
    )
