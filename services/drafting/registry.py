"""The drafting worker: its queue, its handlers (shared/registry.py)."""

from services.drafting.handlers import HANDLERS
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(ConsumerQueue("drafting", ("command.drafting.*",)), HANDLERS)
