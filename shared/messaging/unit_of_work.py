"""One delivery, one transaction: the fence, the inbox row, the handler's writes and its outbox messages commit
together or not at all. Every handler goes through `unit_of_work`.

The fence: a phase command carries its attempt. Its writes and its result commit only while that attempt is
the phase's current one, the phase is running, its deadline has not passed and the workflow has not ended. The
check reads the saga's rows (`workflows`, `workflow_phases`, owned by the versions service) and holds a share
lock on the workflow row until commit; the saga changes a workflow only under that row's exclusive lock, so it
cannot start another attempt between the check and the commit. A superseded attempt commits nothing. A result
that commits before the deadline is still on its way to the saga when the deadline passes; the sweeper gives
such results `RESULT_GRACE` before it retries the phase (services/versions/sweeper.py), so an attempt never
stores its work after its successor has started.
"""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import Table, bindparam, func, or_, select
from sqlalchemy.orm import Session

from shared.db.models import Workflow, WorkflowPhase
from shared.db.session import transaction
from shared.kernel.contracts import Contract
from shared.kernel.states import Phase, PhaseState, WorkflowState
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery, Unprocessable

log = logging.getLogger(__name__)


_workflows = cast(Table, Workflow.__table__)
_phases = cast(Table, WorkflowPhase.__table__)
_FENCE = (
    select(
        _phases.c.attempt,
        _phases.c.state,
        _workflows.c.state,
        or_(_phases.c.deadline_at.is_(None), _phases.c.deadline_at > func.now()).label("in_time"),
    )
    .join(_workflows, _workflows.c.id == _phases.c.workflow_id)
    .where(_phases.c.workflow_id == bindparam("workflow_id"), _phases.c.phase == bindparam("phase"))
    .with_for_update(read=True, of=_workflows)
)


@dataclass(frozen=True)
class Fence:
    workflow_id: uuid.UUID
    phase: Phase
    attempt: int

    def holds(self, session: Session) -> bool:
        """Whether this attempt is still current and within its deadline; locks the workflow row (shared) until the
        transaction ends."""
        row = session.execute(_FENCE, {"workflow_id": self.workflow_id, "phase": self.phase.value}).first()
        if row is None:
            return False
        attempt, phase_state, workflow_state, in_time = row
        return (
            attempt == self.attempt
            and phase_state == PhaseState.RUNNING
            and workflow_state == WorkflowState.RUNNING
            and bool(in_time)
        )


Skipped = Literal["duplicate", "reused", "superseded"] | None


@dataclass
class UnitOfWork:
    session: Session
    delivery: Delivery
    skipped: Skipped = None
    published: bool = False

    def publish(self, message: Contract, suffix: str = "result") -> None:
        """Stage `message` in the outbox as this delivery's `suffix` answer: its id derives from the delivery's,
        and it keeps the delivery's correlation id."""
        self.published = True
        outbox.add(
            self.session,
            message,
            message_id=f"{self.delivery.message_id}:{suffix}",
            correlation_id=self.delivery.correlation_id or self.delivery.message_id,
        )


def superseded(fence: Fence) -> bool:
    with transaction() as session:
        return not fence.holds(session)


@contextmanager
def unit_of_work(consumer: str, delivery: Delivery, fence: Fence | None = None) -> Iterator[UnitOfWork]:
    """The delivery's transaction. `skipped` says when the body must write nothing: a message already processed
    by `consumer`, a new message reusing the id of one processed (`reused`: dead-lettered unless the body
    published an answer), or an attempt that `fence` says is superseded."""
    with transaction() as session:
        work = UnitOfWork(session, delivery)
        if fence is not None and not fence.holds(session):
            log.info(
                "%s: attempt %d of %s for workflow %s is superseded; nothing is stored",
                consumer, fence.attempt, fence.phase, fence.workflow_id,
            )  # fmt: skip
            work.skipped = "superseded"
        else:
            work.skipped = inbox.first_delivery(session, consumer, delivery.message_id, delivery.body_sha256)
            if work.skipped == "duplicate":
                log.info("%s: skipping duplicate %s", consumer, delivery.message_id)
        yield work
        if work.skipped == "reused" and not work.published:
            raise Unprocessable(
                f"message id {delivery.message_id!r} was processed before with another body: a new message needs "
                "a new message id"
            )
