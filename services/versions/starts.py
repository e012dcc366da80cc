"""Workflows that start without an import request: the watch's re-scrape of a version and an operator's draft."""

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions.coordinator import CONSUMER, Saga, StoredRequest, insert_phases, now
from shared.db.models import HospitalGroup, ScheduleVersion, Workflow
from shared.kernel import ids
from shared.kernel.contracts import ImportRequested, Period, RequestDraft
from shared.kernel.states import WorkflowKind, WorkflowState, WorkflowTrigger
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)


def start_rescrape(
    session: Session, version_id: uuid.UUID, import_workflow_id: uuid.UUID, cause: str, settings: Settings
) -> uuid.UUID:
    """A RESCRAPE workflow of `version_id`, triggered by the watch: the version's import request under a request
    id of its own (`watch:<cause>`), starting at the Amion scrape, stored without its template (no phase of a
    re-scrape reads it). The same cause gives the same workflow."""
    imported = session.get(Workflow, import_workflow_id)
    assert imported is not None
    request_id = f"watch:{cause}"[:200]
    request = ImportRequested.model_validate(imported.request).model_copy(
        update={"request_id": request_id, "requested_by": WorkflowTrigger.WATCH.value}
    )
    workflow_id = ids.workflow_id_for(request_id)
    created = session.execute(
        insert(Workflow)
        .values(
            id=workflow_id,
            request_id=request_id,
            correlation_id=request_id,
            group_name=request.group,
            state=WorkflowState.RUNNING,
            kind=WorkflowKind.RESCRAPE,
            trigger=WorkflowTrigger.WATCH,
            version_id=version_id,
            request=request.model_dump(mode="json", exclude={"template"}),
            created_at=now(),
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(Workflow.id)
    ).first()
    if created is None:
        return workflow_id
    insert_phases(session, workflow_id, WorkflowKind.RESCRAPE)
    saga = Saga.load(session, workflow_id, settings)
    assert saga is not None
    saga.machine.begin(now())
    saga.save()
    return workflow_id


def draft_request_id(message_id: str) -> str:
    """A DRAFT workflow's request id: one per RequestDraft message."""
    return f"draft:{message_id}"[:200]


def start_draft(command: RequestDraft, delivery: Delivery, settings: Settings) -> None:
    """A DRAFT workflow of the version: its draft phase (DraftSchedule), then the coverage of the version with
    the draft's rows. The same message again finds the workflow it started; a version that does not exist starts
    nothing (the command line checks it before it asks)."""
    request_id = draft_request_id(delivery.message_id)
    workflow_id = ids.workflow_id_for(request_id)
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        scope = work.session.execute(
            select(HospitalGroup.name, ScheduleVersion.period_start, ScheduleVersion.period_end)
            .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
            .where(ScheduleVersion.id == command.version_id)
        ).first()
        if scope is None:
            log.warning("draft of version %s not started: the version does not exist", command.version_id)
            return
        group, start, end = scope
        stored = StoredRequest(
            request_id=request_id, group=group, period=Period(start=start, end=end),
            requested_by=command.requested_by, reason=command.reason, time_limit_s=command.time_limit_s,
            workers=command.workers,
        )  # fmt: skip
        created = work.session.execute(
            insert(Workflow)
            .values(
                id=workflow_id,
                request_id=request_id,
                correlation_id=delivery.correlation_id or request_id,
                group_name=group,
                state=WorkflowState.RUNNING,
                kind=WorkflowKind.DRAFT,
                version_id=command.version_id,
                request=stored.model_dump(mode="json"),
                created_at=now(),
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(Workflow.id)
        ).first()
        if created is None:
            return
        insert_phases(work.session, workflow_id, WorkflowKind.DRAFT)
        saga = Saga.load(work.session, workflow_id, settings)
        assert saga is not None
        saga.machine.begin(now())
        saga.save()
