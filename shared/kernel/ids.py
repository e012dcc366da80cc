"""Deterministic identifiers: the same request, phase and attempt always give the same ids."""

import uuid

NAMESPACE = uuid.UUID("6f1d3c52-5a0e-4c4e-9d3f-2b8f0f6c9a11")


def workflow_id_for(request_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"workflow:{request_id}")


def version_id_for(workflow_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"version:{workflow_id}")


def derived_id(parent_message_id: str, what: str) -> uuid.UUID:
    """An id for what handling one message creates (a batch, a calculation), stable across redeliveries."""
    return uuid.uuid5(NAMESPACE, f"{what}:{parent_message_id}")


def import_requested_message_id(request_id: str) -> str:
    return f"import-requested:{request_id}"


def command_message_id(workflow_id: uuid.UUID, phase: str, attempt: int) -> str:
    return f"{workflow_id}:{phase}:{attempt}"


def result_message_id(command_message_id: str) -> str:
    return f"{command_message_id}:result"


def draft_run_id(draft_message_id: str) -> uuid.UUID:
    """The draft run a `DraftSchedule` message starts: the same for every redelivery of it."""
    return derived_id(draft_message_id, "draft-run")
