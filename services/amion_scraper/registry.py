"""The amion-scraper worker: its queue, its handlers and what it publishes (shared/registry.py)."""

from services.amion_scraper.handlers import CONSUMER, HANDLERS
from shared.kernel.contracts import AmionChecked, AmionScraped, AmionScrapeFailed
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue(CONSUMER, ("command.amion_scraper.*",)),
    HANDLERS,
    publishes=(AmionScraped, AmionScrapeFailed, AmionChecked),
)
