"""The amion_scraper worker: its queue, its handlers (shared/registry.py)."""

from services.amion_scraper.handlers import HANDLERS
from shared.messaging.topology import CONSUMERS
from shared.registry import Registry

REGISTRY = Registry(CONSUMERS["amion_scraper"], HANDLERS)
