"""The drafting worker: its queue, its handlers and what it publishes (shared/registry.py)."""

from services.drafting.handlers import HANDLERS
from shared.contracts import DraftFailed, DraftProposed, RepairProposed, RepairSchedule
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue("drafting", ("command.drafting.*", "event.coverage.changed")),
    HANDLERS,
    publishes=(DraftProposed, DraftFailed, RepairProposed, RepairSchedule),  # the repair time off entered asks for
)
