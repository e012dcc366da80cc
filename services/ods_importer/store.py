"""Writes a parsed template as a new schedule version, in the caller's transaction. A new version is STAGING: it
has no `version_lifecycle` row yet (services/versions/lifecycle.py)."""

import json
import uuid
from collections.abc import Sequence
from datetime import date, time
from typing import Any, cast

from sqlalchemy import Row, String, Table, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.ods_importer import expansion
from services.ods_importer.workbook import Layout
from shared import audit
from shared.db.models import (
    Base,
    Hospital,
    HospitalGroup,
    ScheduleVersion,
    ShiftInstance,
    TemplateResponsibility,
    TemplateWindow,
)
from shared.kernel.contracts import Period
from shared.kernel.findings import Finding
from shared.kernel.states import VersionState
from shared.kernel.template_model import Window

BATCH_ROWS = 10_000


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
    layout: Layout,
    template_name: str,
    template_sha256: str,
    windows: Sequence[Window],
    shifts: Sequence[expansion.ShiftInstance],
    findings: Sequence[Finding],
    actor: str,
) -> None:
    """The version, its windows (TEMPLATE) and its shift instances, each table in bulk."""
    gid = group_id(session, group)
    hospitals = {r.hospital for w in windows for r in w.responsibilities}
    hospitals.update(s.hospital for s in shifts if s.hospital is not None)
    if hospitals:
        rows = [{"group_id": gid, "name": h} for h in sorted(hospitals)]
        session.execute(pg_insert(Hospital).values(rows).on_conflict_do_nothing())
    session.add(
        ScheduleVersion(
            id=version_id,
            group_id=gid,
            workflow_id=workflow_id,
            period_start=period.start,
            period_end=period.end,
            template_name=template_name,
            template_sha256=template_sha256,
            layout=layout.value,
            findings=[f.model_dump(mode="json") for f in findings],
        )
    )
    session.flush()
    window_ids = _store_windows(session, version_id, windows)
    _bulk_insert(
        session,
        ShiftInstance,
        {"version_id": version_id},
        {
            "window_id": [None if s.window is None else window_ids[s.window] for s in shifts],
            "schedule_date": [s.schedule_date for s in shifts],
            "role": [s.role for s in shifts],
            "hospital": [s.hospital for s in shifts],
            "study_type": [s.study_type for s in shifts],
            "starts_at": [s.starts_at for s in shifts],
            "ends_at": [s.ends_at for s in shifts],
            "desired_coverage": [s.desired_coverage for s in shifts],
            "mandatory": [s.mandatory for s in shifts],
            "specialty_constraint": [s.specialty_constraint for s in shifts],
        },
    )
    audit.record(
        session,
        actor=actor,
        entity="schedule_version",
        entity_id=str(version_id),
        action="create",
        from_state=None,
        to_state=VersionState.STAGING,
        reason=f"imported {template_name} ({layout.value} layout) for {period.start}..{period.end}",
        details={"workflow_id": str(workflow_id)},
    )


def _store_windows(session: Session, version_id: uuid.UUID, windows: Sequence[Window]) -> dict[str, int]:
    """Template windows and their responsibilities; sheet name -> window id."""
    if not windows:
        return {}
    window_ids = dict(
        _bulk_insert(
            session,
            TemplateWindow,
            {"version_id": version_id},
            {
                "sheet": [w.sheet for w in windows],
                "category": [w.category.value for w in windows],
                "day_type": [w.day_type.value if w.day_type else None for w in windows],
                "variant": [w.variant.value if w.variant else None for w in windows],
                "start_time": [w.start for w in windows],
                "end_time": [w.end for w in windows],
            },
            returning=("sheet", "id"),
        )
    )
    responsibilities = [(window_ids[w.sheet], r) for w in windows for r in w.responsibilities]
    _bulk_insert(
        session,
        TemplateResponsibility,
        {},
        {
            "window_id": [window_id for window_id, _ in responsibilities],
            "worklist": [r.worklist for _, r in responsibilities],
            "hospital": [r.hospital for _, r in responsibilities],
            "role": [r.role for _, r in responsibilities],
        },
    )
    return window_ids


def _bulk_insert(
    session: Session,
    model: type[Base],
    fixed: dict[str, Any],
    columns: dict[str, list[Any]],
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """`INSERT ... SELECT ... FROM jsonb_array_elements(<the rows as one JSON array of arrays>)`: one statement for
    each batch of rows, encoded by `json.dumps` in C (psycopg's dumper of Python lists as arrays took a fifth of the
    importer's CPU). Text values are cast to `text`, not to `varchar(n)`, so that an overlong value fails the insert
    instead of being cut. Returns the `returning` columns of the rows inserted."""
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect
    names = list(columns)
    values = [f":fixed_{i}" for i in range(len(fixed))]
    for i, name in enumerate(names):
        column_type = table.c[name].type
        values.append(f"(a->>{i})::{'text' if isinstance(column_type, String) else column_type.compile(dialect)}")
    statement = text(
        f"INSERT INTO {table.name} ({', '.join([*fixed, *names])}) "
        f"SELECT {', '.join(values)} FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS a"
        + (f" RETURNING {', '.join(returning)}" if returning else "")
    )
    constants = {f"fixed_{i}": value for i, value in enumerate(fixed.values())}
    rows = list(zip(*columns.values(), strict=True))
    inserted: list[Row[Any]] = []
    for start in range(0, len(rows), BATCH_ROWS):
        encoded = json.dumps(rows[start : start + BATCH_ROWS], default=_iso)
        result = session.execute(statement, {**constants, "rows": encoded})
        if returning:
            inserted.extend(result.all())
    return inserted


def _iso(value: date | time) -> str:
    """Dates, times and instants (with their offset) as JSON: ISO 8601, which PostgreSQL casts back exactly."""
    if isinstance(value, date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
