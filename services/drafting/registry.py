"""The drafting worker: its queues, its handlers and what it publishes (shared/registry.py). Repairs (a sick call,
the watch's gaps) come on a lane of their own, so that a repair is proposed within seconds while drafts solve."""

from services.drafting.handlers import CONSUMER, HANDLERS, REPAIR_HANDLERS
from shared.kernel.contracts import DraftFailed, DraftProposed, RepairProposed, RepairSchedule
from shared.messaging.topology import ConsumerQueue
from shared.registry import Lane, Registry

REGISTRY = Registry(
    ConsumerQueue(CONSUMER, ("command.drafting.draft",)),
    HANDLERS,
    publishes=(DraftProposed, DraftFailed, RepairProposed, RepairSchedule),  # the repair time off entered asks for
    lanes=(
        Lane(ConsumerQueue("drafting.repair", ("command.drafting.repair", "event.coverage.changed")), REPAIR_HANDLERS),
    ),
)
