"""Every service's registry, by the name `schedcu worker` knows it by."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `schedcu --help` lists the workers without importing the messaging stack
    from shared.messaging.topology import ConsumerQueue
    from shared.registry import Registry

WORKERS = {
    "ods-importer": "services.ods_importer.registry",
    "amion-scraper": "services.amion_scraper.registry",
    "coverage": "services.coverage.registry",
    "versions": "services.versions.registry",
    "drafting": "services.drafting.registry",
}
# Each worker's service, as its registry names it (tests/test_architecture.py checks): what `schedcu status`
# looks for without importing every service's handlers.
SERVICES = ["ods_importer", "amion_scraper", "coverage", "versions", "drafting"]
QUEUE_NAMES = [name for s in SERVICES for name in (f"schedcu.{s}", f"schedcu.{s}.dead-letter")] + ["schedcu.unrouted"]


def registry(worker: str) -> "Registry":
    found: Registry = importlib.import_module(WORKERS[worker]).REGISTRY
    return found


def all_registries() -> "list[Registry]":
    return [registry(worker) for worker in WORKERS]


def all_queues() -> "list[ConsumerQueue]":
    """Every service's queue: what a worker declares at start, and what the operator commands look at."""
    return [r.queue for r in all_registries()]
