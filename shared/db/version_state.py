"""How any package reads a version's lifecycle (the `version_lifecycle` table, written by services/versions
only): a version without a lifecycle row is STAGING and not deleted."""

from typing import Any

from sqlalchemy import ColumnElement, Select, func

from shared.db.models import ScheduleVersion, VersionLifecycle
from shared.kernel.states import VersionState


def state() -> ColumnElement[str]:
    """The version's state, in a query joined `with_lifecycle`."""
    return func.coalesce(VersionLifecycle.state, VersionState.STAGING.value)


def not_deleted() -> ColumnElement[bool]:
    return VersionLifecycle.deleted_at.is_(None)


def with_lifecycle(query: Select[Any]) -> Select[Any]:
    """`query` (over `schedule_versions`) with each version's lifecycle row, when it has one."""
    return query.outerjoin(VersionLifecycle, VersionLifecycle.version_id == ScheduleVersion.id)
