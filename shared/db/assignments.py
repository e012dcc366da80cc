"""A version's assignments as coverage counts them: Amion's (the `assignments` table, written by the Amion
scraper) minus the ones an operator hid, plus the people an operator added (`assignment_corrections`,
services/coverage/corrections.py writes it). An approved draft row (source `DRAFT`) counts only while Amion has
nobody on its role that date: Amion stays the source of truth, and where it differs the calculation reports
`DRIFT` (services/coverage/drift.py). One query, used by the coverage calculation, the corrections themselves,
the drafting problem builder, `schedcu verify` and `schedcu versions diff`."""

import uuid

from sqlalchemy import DateTime, Exists, Integer, Subquery, and_, cast, exists, literal, null, or_, select, union_all

from shared.db.models import Assignment, AssignmentCorrection
from shared.kernel.states import AssignmentSource

FROM_AMION, FROM_CORRECTION = 0, 1  # the `kind` column; Amion's rows come first, each kind in id order


def effective(version_id: uuid.UUID) -> Subquery:
    """Columns: kind, id (of its table), schedule_date, role, person_id, source, note, starts_at, ends_at,
    created_at."""
    hidden = exists().where(
        AssignmentCorrection.version_id == version_id, AssignmentCorrection.hides_assignment_id == Assignment.id
    )
    amion = select(
        literal(FROM_AMION, Integer).label("kind"),
        Assignment.id,
        Assignment.schedule_date,
        Assignment.role,
        Assignment.person_id,
        Assignment.source,
        Assignment.note,
        Assignment.starts_at,
        Assignment.ends_at,
        Assignment.created_at,
    ).where(Assignment.version_id == version_id, ~hidden)
    added = select(
        literal(FROM_CORRECTION, Integer).label("kind"),
        AssignmentCorrection.id,
        AssignmentCorrection.schedule_date,
        AssignmentCorrection.role,
        AssignmentCorrection.person_id,
        AssignmentCorrection.source,
        AssignmentCorrection.note,
        cast(null(), DateTime(timezone=True)).label("starts_at"),
        cast(null(), DateTime(timezone=True)).label("ends_at"),
        AssignmentCorrection.created_at,
    ).where(
        and_(
            AssignmentCorrection.version_id == version_id,
            AssignmentCorrection.source.is_not(None),
            or_(AssignmentCorrection.source != AssignmentSource.DRAFT, ~amion_holds(version_id)),
        )
    )
    return union_all(amion, added).subquery("effective_assignments")


def amion_holds(version_id: uuid.UUID) -> Exists:
    """Whether Amion has someone (not hidden) on the correction's role and date."""
    hidden = AssignmentCorrection.__table__.alias("hiding")
    return exists().where(
        Assignment.version_id == version_id,
        Assignment.schedule_date == AssignmentCorrection.schedule_date,
        Assignment.role == AssignmentCorrection.role,
        ~exists().where(hidden.c.version_id == version_id, hidden.c.hides_assignment_id == Assignment.id),
    )


def newest_change(version_id: uuid.UUID) -> Subquery:
    """When the version's assignments last changed: its newest Amion row or correction (hidden ones too)."""
    return union_all(
        select(Assignment.created_at).where(Assignment.version_id == version_id),
        select(AssignmentCorrection.created_at).where(AssignmentCorrection.version_id == version_id),
    ).subquery("assignment_changes")
