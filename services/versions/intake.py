"""The saga's intake: an import request starts its workflow, or is answered with the workflow it already has, or
is rejected (a request id or message id reused for another request, a body that failed validation)."""

import json
import logging
import uuid
from typing import Literal

from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert

from services.versions.coordinator import CONSUMER, Saga, insert_phases, now
from services.versions.requests import kind_text, reuse_reason, reused_text
from shared.db.models import Workflow
from shared.kernel import ids
from shared.kernel.contracts import SCHEMA_VERSION, ImportAccepted, ImportRejected, ImportRequested, TemplateSource
from shared.kernel.states import WorkflowKind, WorkflowState
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import UnitOfWork, unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)


def start_workflow(request: ImportRequested, delivery: Delivery, settings: Settings) -> None:
    """Create the workflow for a request and send phase 1, answering ImportAccepted; the identical request again
    is answered with the existing workflow, a request id reused for another request with ImportRejected. A
    message id reused with another body (a producer that derives message ids from request ids, as `schedcu
    submit` does) is answered the same way when its request id names a workflow, else MESSAGE_ID_REUSED."""
    workflow_id = ids.workflow_id_for(request.request_id)
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped == "reused":
            if work.session.get(Workflow, workflow_id) is None:
                _reject_reused_message(work, request)
            else:
                _answer_known_request(work, request, workflow_id, f"-{(delivery.body_sha256 or '')[:16]}")
            return
        if work.skipped:
            return
        created = work.session.execute(
            insert(Workflow)
            .values(
                id=workflow_id,
                request_id=request.request_id,
                correlation_id=delivery.correlation_id or request.request_id,
                group_name=request.group,
                state=WorkflowState.RUNNING,
                request=request.model_dump(mode="json"),
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(Workflow.id)
        ).first()
        if created is None:
            _answer_known_request(work, request, workflow_id)
            return
        insert_phases(work.session, workflow_id, WorkflowKind.IMPORT)
        saga = Saga.load(work.session, workflow_id, settings, request.template)
        assert saga is not None
        saga.machine.begin(now())
        saga.save()
        work.publish(ImportAccepted(**saga.context(), state=saga.machine.state), "accepted")


def reject_request(body: bytes, delivery: Delivery, reason: str) -> None:
    """Answer an ImportRequested that failed validation with ImportRejected (the dead-letter entry stays)."""
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's recursion limit
        fields = None
    fields = fields if isinstance(fields, dict) else {}
    request_id = fields.get("request_id")
    version = fields.get("schema_version")
    code: Literal["INVALID_TEMPLATE_SOURCE", "INVALID_REQUEST", "SCHEMA_VERSION_UNSUPPORTED"] = "INVALID_REQUEST"
    if isinstance(version, int) and version > SCHEMA_VERSION:
        code = "SCHEMA_VERSION_UNSUPPORTED"
    elif "template" in fields and not _valid_template(fields["template"]):
        code = "INVALID_TEMPLATE_SOURCE"
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        work.publish(
            ImportRejected(
                code=code,
                reason=reason,
                request_message_id=delivery.message_id,
                request_correlation_id=delivery.correlation_id,
                request_id=request_id[:200] if isinstance(request_id, str) else None,
            ),
            "rejected",
        )


def _valid_template(template: object) -> bool:
    try:
        TemplateSource.model_validate(template)
    except ValidationError:
        return False
    return True


def _reject_reused(work: UnitOfWork, request: ImportRequested, workflow_id: uuid.UUID, reason: str, tag: str) -> None:
    log.warning("request id %s reused: %s", request.request_id, reason)
    work.publish(
        ImportRejected(
            code="REQUEST_ID_REUSED",
            reason=reason,
            request_message_id=work.delivery.message_id,
            request_correlation_id=work.delivery.correlation_id,
            request_id=request.request_id,
            workflow_id=workflow_id,
        ),
        f"rejected{tag}",
    )


def _reject_reused_message(work: UnitOfWork, request: ImportRequested) -> None:
    message_id = work.delivery.message_id
    log.warning("message id %s reused by request %s", message_id, request.request_id)
    work.publish(
        ImportRejected(
            code="MESSAGE_ID_REUSED",
            reason=f"message id {message_id!r} was used before by a message with another body; send every new "
            "message with a new message id",
            request_message_id=message_id,
            request_correlation_id=work.delivery.correlation_id,
            request_id=request.request_id,
        ),
        f"reused-{(work.delivery.body_sha256 or '')[:16]}",
    )


def _answer_known_request(work: UnitOfWork, request: ImportRequested, workflow_id: uuid.UUID, tag: str = "") -> None:
    """`tag` tells this answer's message id apart from the answers to earlier messages with the same id."""
    existing = work.session.get(Workflow, workflow_id)
    assert existing is not None
    if existing.kind != WorkflowKind.IMPORT:
        reason = reused_text(request.request_id, workflow_id, kind_text(existing.kind))
        _reject_reused(work, request, workflow_id, reason, tag)
        return
    known = ImportRequested.model_validate(existing.request)
    reason = reuse_reason(known, request, workflow_id)
    if reason is not None:
        _reject_reused(work, request, workflow_id, reason, tag)
        return
    log.info("request %s already has workflow %s (%s)", request.request_id, workflow_id, existing.state)
    work.publish(
        ImportAccepted(
            workflow_id=workflow_id,
            request_id=known.request_id,
            group=known.group,
            period=known.period,
            state=existing.state,
        ),
        f"accepted{tag}",
    )
