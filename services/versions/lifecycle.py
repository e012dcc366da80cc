"""Schedule-version lifecycle: STAGING -> PRODUCTION -> ARCHIVED, nothing else; soft delete of staging.

The state lives in `version_lifecycle`, which this module alone writes: a version without a row there is
STAGING (the importer creates versions, this service moves them). Promotion locks the group's row first, so
promotions within a group run one at a time, and archives the group's production versions whose period
overlaps in the same transaction: at any instant at most one production version covers a date. Every
transition writes an audit record and, through the outbox, an event.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared import audit
from shared.db.models import CoverageCalculation, HospitalGroup, ScheduleVersion, VersionLifecycle, calculation_cells
from shared.kernel.contracts import Period, VersionArchived, VersionPromoted
from shared.kernel.coverage_text import unknown_months, unknown_reasons
from shared.kernel.states import CellStatus, VersionState
from shared.messaging import outbox

STAGING, PRODUCTION, ARCHIVED = VersionState.STAGING, VersionState.PRODUCTION, VersionState.ARCHIVED


class TransitionRefused(Exception):
    """The version's state or content does not allow this; the text says why and what to do."""


def _audit(session: Session, version_id: uuid.UUID, from_state: str, actor: str, action: str,
           to_state: str | None, reason: str | None, **details: object) -> None:  # fmt: skip
    audit.record(
        session, actor=actor, entity="schedule_version", entity_id=str(version_id), action=action,
        from_state=from_state, to_state=to_state, reason=reason, details={k: str(v) for k, v in details.items()},
    )  # fmt: skip


def _event_ids(version_id: uuid.UUID, state: str) -> dict[str, str]:
    return {"message_id": f"version:{version_id}:{state}", "correlation_id": str(version_id)}


def _locked_version(session: Session, version_id: uuid.UUID) -> tuple[ScheduleVersion, VersionLifecycle]:
    """The version and its lifecycle row (created as STAGING when it has none), the row locked."""
    version = session.get(ScheduleVersion, version_id)
    if version is None:
        raise TransitionRefused(f"no schedule version {version_id}")
    session.execute(
        pg_insert(VersionLifecycle)
        .values(version_id=version_id, state=STAGING)
        .on_conflict_do_nothing(index_elements=[VersionLifecycle.version_id])
    )
    life = session.scalars(
        select(VersionLifecycle)
        .where(VersionLifecycle.version_id == version_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if life.deleted_at is not None:
        raise TransitionRefused(f"no schedule version {version_id}")
    return version, life


def blockers(session: Session, version: ScheduleVersion) -> list[str]:
    """Why this version should not go to production: import errors, missing coverage, dates without Amion
    data, critical gaps."""
    found = []
    errors = [f for f in version.findings if f.get("severity") == "ERROR"]
    if errors:
        found.append(f"its import has {len(errors)} error(s)")
    row = session.execute(
        select(CoverageCalculation.id, CoverageCalculation.summary)
        .where(CoverageCalculation.version_id == version.id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        found.append("no coverage has been calculated for it")
    else:
        latest, summary = row
        months = unknown_months(summary)
        if months:
            found.append(f"dates of its period have no Amion data ({unknown_reasons(months)})")
        gaps = session.scalar(
            select(func.count()).where(
                calculation_cells.c.calculation_id == latest,
                or_(calculation_cells.c.status == CellStatus.SPECIALTY_MISMATCH,
                    and_(calculation_cells.c.status == CellStatus.UNCOVERED, calculation_cells.c.mandatory)),
            )
        )  # fmt: skip
        if gaps:
            found.append(f"its latest coverage has {gaps} critical gap(s)")
    return found


def promote(
    session: Session, version_id: uuid.UUID, actor: str, *, force: bool = False, reason: str | None = None
) -> list[uuid.UUID]:
    """Promote a STAGING version; returns the production versions it archived."""
    group_id = session.scalar(select(ScheduleVersion.group_id).where(ScheduleVersion.id == version_id))
    if group_id is None:
        raise TransitionRefused(f"no schedule version {version_id}")
    group = session.scalars(select(HospitalGroup).where(HospitalGroup.id == group_id).with_for_update()).one()
    version, life = _locked_version(session, version_id)
    if life.state != STAGING:
        raise TransitionRefused(f"version {version_id} is {life.state}; only a STAGING version can be promoted")
    problems = blockers(session, version)
    if problems and not force:
        raise TransitionRefused(
            f"version {version_id} cannot be promoted: {'; '.join(problems)}. "
            "Promote with force and a reason to override."
        )
    if force and not (reason and reason.strip()):
        raise TransitionRefused("a forced promotion needs a reason")
    overlapping = session.scalars(
        select(VersionLifecycle)
        .join(ScheduleVersion, ScheduleVersion.id == VersionLifecycle.version_id)
        .where(
            ScheduleVersion.group_id == group.id,
            VersionLifecycle.state == PRODUCTION,
            ScheduleVersion.id != version.id,
            ScheduleVersion.period_start <= version.period_end,
            ScheduleVersion.period_end >= version.period_start,
        )
        .with_for_update(of=VersionLifecycle)
    ).all()
    for old in overlapping:
        why = f"superseded by {version.id}"
        _audit(session, old.version_id, old.state, actor, "archive", ARCHIVED, why, superseded_by=version.id)
        old.state = ARCHIVED
        event = VersionArchived(version_id=old.version_id, by=actor, reason=why, superseded_by=version.id)
        outbox.add(session, event, **_event_ids(old.version_id, ARCHIVED))
    _audit(session, version.id, life.state, actor, "promote", PRODUCTION, reason, forced=force,
           overridden="; ".join(problems))  # fmt: skip
    life.state = PRODUCTION
    event = VersionPromoted(
        version_id=version.id, group=group.name, period=Period(start=version.period_start, end=version.period_end),
        archived=[v.version_id for v in overlapping], by=actor, forced=force, reason=reason,
    )  # fmt: skip
    outbox.add(session, event, **_event_ids(version.id, PRODUCTION))
    return [v.version_id for v in overlapping]


def archive(session: Session, version_id: uuid.UUID, actor: str, reason: str | None = None) -> None:
    version, life = _locked_version(session, version_id)
    if life.state != PRODUCTION:
        raise TransitionRefused(
            f"version {version_id} is {life.state}; only a PRODUCTION version can be archived"
            + (" (delete a STAGING version instead)" if life.state == STAGING else "")
        )
    _audit(session, version.id, life.state, actor, "archive", ARCHIVED, reason)
    life.state = ARCHIVED
    outbox.add(
        session, VersionArchived(version_id=version.id, by=actor, reason=reason), **_event_ids(version.id, ARCHIVED)
    )


def delete(session: Session, version_id: uuid.UUID, actor: str, reason: str) -> None:
    """Soft delete: the version disappears from lists and can no longer change; its rows stay for audit."""
    version, life = _locked_version(session, version_id)
    if life.state != STAGING:
        raise TransitionRefused(f"version {version_id} is {life.state}; only a STAGING version can be deleted")
    _audit(session, version.id, life.state, actor, "delete", None, reason)
    life.deleted_at = datetime.now(UTC)
