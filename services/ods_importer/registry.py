"""The ods_importer worker: its queue, its handlers (shared/registry.py)."""

from services.ods_importer.handlers import HANDLERS
from shared.messaging.topology import CONSUMERS
from shared.registry import Registry

REGISTRY = Registry(CONSUMERS["ods_importer"], HANDLERS)
