"""Drafting a group's period (`schedcu draft new`, and the console's "draft a period" form): the group's version
of exactly those dates, asked of the versions worker as `RequestDraft`, which starts a DRAFT workflow."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from schedcu.runtime.registries import all_queues
from services.versions.starts import draft_request_id
from shared.db import version_state
from shared.db.models import HospitalGroup, ScheduleVersion
from shared.db.session import transaction
from shared.kernel import ids
from shared.kernel.contracts import RequestDraft
from shared.kernel.states import Phase, VersionState
from shared.messaging.publish import publish_now
from shared.settings import get_settings


class NotDrafted(Exception):
    """The period cannot be drafted; the text says why and what to do."""


@dataclass(frozen=True)
class Requested:
    version_id: uuid.UUID
    workflow_id: uuid.UUID
    run_id: uuid.UUID

    def text(self) -> str:
        return f"draft of version {self.version_id} requested: workflow {self.workflow_id}, run {self.run_id}"


def draft_version(session: Session, group: str, start: date, end: date) -> uuid.UUID | str:
    """The version a draft of `group` over start..end fills: the group's newest version with exactly that period,
    neither archived nor deleted; else why there is none."""
    found = session.execute(
        version_state.with_lifecycle(
            select(ScheduleVersion.id, version_state.state(), version_state.not_deleted())
            .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
            .where(
                HospitalGroup.name == group, ScheduleVersion.period_start == start, ScheduleVersion.period_end == end
            )
            .order_by(ScheduleVersion.created_at.desc())
        )
    ).all()
    usable = [version_id for version_id, state, not_deleted in found if not_deleted and state != VersionState.ARCHIVED]
    if usable:
        return usable[0]
    return (
        f"group {group} has no version for {start} .. {end} to draft: import the period's template first "
        "(`schedcu submit`), then draft it"
    )


def request_draft(
    group: str, start: date, end: date, actor: str, reason: str | None, time_limit_s: float | None,
    workers: int | None,
) -> Requested:  # fmt: skip
    """Publish `RequestDraft` for the group's version of start..end (persistent, confirmed, routed); the ids of the
    workflow and of the run it will start. `NotDrafted` when there is no such version."""
    if end < start:
        raise NotDrafted(f"the period's end {end} is before its start {start}")
    with transaction() as session:
        version = draft_version(session, group, start, end)
    if isinstance(version, str):
        raise NotDrafted(version)
    message_id = f"draft:{version}:{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(draft_request_id(message_id))
    run_id = ids.draft_run_id(ids.command_message_id(workflow_id, Phase.DRAFT, 1))
    command = RequestDraft(
        version_id=version, requested_by=actor, reason=reason, time_limit_s=time_limit_s, workers=workers
    )
    asyncio.run(publish_now(get_settings(), command, all_queues(), message_id=message_id, correlation_id=str(version)))
    return Requested(version, workflow_id, run_id)
