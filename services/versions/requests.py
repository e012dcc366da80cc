"""When two import requests with one request id are the same request. Pure.

The request id is the idempotency key: the identical request sent again is answered with the workflow it
started, whatever its state. The same id with another group, period, template or Amion account is another
request under a reused id: refused (`REQUEST_ID_REUSED`), naming the workflow the id already has, so that
nobody takes the first request's result for the second's."""

import hashlib
import uuid
from typing import Any

from shared.kernel.contracts import ImportRequested
from shared.kernel.states import WorkflowKind


def request_fingerprint(request: ImportRequested) -> dict[str, Any]:
    """What makes two requests with one request id the same request: group, period, template, Amion account."""
    template = request.template
    content = template.inline_base64 or template.path or template.url or ""
    return {
        "group": request.group,
        "period": request.period.model_dump(mode="json"),
        "template": hashlib.sha256(content.encode()).hexdigest(),
        "amion_account": request.amion_account,
    }


def reuse_reason(known: ImportRequested, request: ImportRequested, workflow_id: uuid.UUID) -> str | None:
    """None when `request` is `known` sent again; else why it is refused, naming the workflow and what differs."""
    before, now = request_fingerprint(known), request_fingerprint(request)
    changed = [key for key in now if now[key] != before[key]]
    if not changed:
        return None
    return reused_text(
        known.request_id, workflow_id, f"{_described(known)}, requested with a different {', '.join(changed)}"
    )


def reused_text(request_id: str, workflow_id: uuid.UUID, why: str) -> str:
    return (
        f"request id {request_id!r} already names workflow {workflow_id} ({why}); send a new request id for a new "
        "request"
    )


def kind_text(kind: str) -> str:
    """What started a workflow that is not an import, for a refusal of its request id."""
    return "a draft" if kind == WorkflowKind.DRAFT else "a re-scrape started by the watch"


def _described(request: ImportRequested) -> str:
    period = request.period
    return f"group {request.group}, {period.start.isoformat()} .. {period.end.isoformat()}"
