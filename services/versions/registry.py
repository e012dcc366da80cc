"""The versions worker: its queue, the saga's handlers, the deadline sweep and the rejecter that answers an
invalid request (shared/registry.py)."""

from services.versions.handlers import HANDLERS, PERIODIC, REJECTERS
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue(
        "versions",
        (
            "import.requested",
            "command.versions.*",
            "event.ods.*",
            "event.amion.*",
            "event.coverage.calculated",
            "event.coverage.failed",
        ),
    ),
    HANDLERS,
    PERIODIC,
    REJECTERS,
)
