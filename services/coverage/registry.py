"""The coverage worker: its queue, its handlers (shared/registry.py)."""

from services.coverage.handlers import HANDLERS
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(ConsumerQueue("coverage", ("command.coverage.*",)), HANDLERS)
