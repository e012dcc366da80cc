"""PromoteVersion / ArchiveVersion arriving over the broker: applied, or answered with the refusal."""

import uuid
from collections.abc import Callable
from typing import Literal

from sqlalchemy.orm import Session

from services.versions import lifecycle
from shared.contracts import ArchiveVersion, PromoteVersion, VersionTransitionRefused
from shared.db.session import transaction
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery

CONSUMER = "versions"


def _apply(
    delivery: Delivery,
    version_id: uuid.UUID,
    action: Literal["promote", "archive"],
    change: Callable[[Session], object],
) -> None:
    try:
        with transaction() as session:
            if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
                return
            change(session)
    except lifecycle.TransitionRefused as refused:
        with transaction() as session:
            if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
                return
            event = VersionTransitionRefused(version_id=version_id, action=action, reason=str(refused))
            outbox.add(session, event, message_id=f"{delivery.message_id}:refused", correlation_id=str(version_id))


def on_promote(command: PromoteVersion, delivery: Delivery) -> None:
    _apply(
        delivery,
        command.version_id,
        "promote",
        lambda s: lifecycle.promote(
            s, command.version_id, command.requested_by, force=command.force, reason=command.reason
        ),
    )


def on_archive(command: ArchiveVersion, delivery: Delivery) -> None:
    _apply(
        delivery,
        command.version_id,
        "archive",
        lambda s: lifecycle.archive(s, command.version_id, command.requested_by, command.reason),
    )
