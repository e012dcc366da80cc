"""The drafting worker: its queue, its handlers and what it publishes (shared/registry.py)."""

from services.drafting.handlers import HANDLERS
from shared.contracts import DraftFailed, DraftProposed
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue("drafting", ("command.drafting.*",)), HANDLERS, publishes=(DraftProposed, DraftFailed)
)
