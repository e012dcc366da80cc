"""Every service's registry, by the name `schedcu worker` knows it by."""

import importlib

from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

WORKERS = {
    "ods-importer": "services.ods_importer.registry",
    "amion-scraper": "services.amion_scraper.registry",
    "coverage": "services.coverage.registry",
    "versions": "services.versions.registry",
    "drafting": "services.drafting.registry",
}


def registry(worker: str) -> Registry:
    found: Registry = importlib.import_module(WORKERS[worker]).REGISTRY
    return found


def all_registries() -> list[Registry]:
    return [registry(worker) for worker in WORKERS]


def all_queues() -> list[ConsumerQueue]:
    """Every service's queue: what a worker declares at start, and what the operator commands look at."""
    return [r.queue for r in all_registries()]
