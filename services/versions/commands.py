"""PromoteVersion / ArchiveVersion arriving over the broker: applied, or answered with the refusal."""

import uuid
from collections.abc import Callable
from typing import Literal

from sqlalchemy.orm import Session

from services.versions import lifecycle
from services.versions.coordinator import CONSUMER
from shared.kernel.contracts import ArchiveVersion, PromoteVersion, VersionTransitionRefused
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import unit_of_work


def _apply(
    delivery: Delivery,
    version_id: uuid.UUID,
    action: Literal["promote", "archive"],
    change: Callable[[Session], object],
) -> None:
    try:
        with unit_of_work(CONSUMER, delivery) as work:
            if not work.skipped:
                change(work.session)
    except lifecycle.TransitionRefused as refused:
        with unit_of_work(CONSUMER, delivery) as work:
            if not work.skipped:
                work.publish(
                    VersionTransitionRefused(version_id=version_id, action=action, reason=str(refused)), "refused"
                )


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
