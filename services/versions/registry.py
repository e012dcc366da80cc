"""The versions worker: its queue, the saga's handlers, the deadline sweep, the rejecter that answers an
invalid request and what it publishes (shared/registry.py)."""

from services.versions.coordinator import CONSUMER
from services.versions.handlers import HANDLERS, PERIODIC, REJECTERS
from shared.kernel.contracts import (
    CalculateCoverage,
    CheckAmion,
    DraftSchedule,
    ImportAccepted,
    ImportRejected,
    ImportTemplate,
    ScrapeAmion,
    VersionArchived,
    VersionPromoted,
    WorkflowCompleted,
    WorkflowFailed,
)
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue(
        CONSUMER,
        (
            "import.requested",
            "command.versions.*",
            "event.ods.*",
            "event.amion.*",
            "event.coverage.calculated",
            "event.coverage.failed",
            "event.coverage.draft_checked",
            "event.draft.*",
        ),
    ),
    HANDLERS,
    PERIODIC,
    REJECTERS,
    publishes=(
        ImportAccepted,
        ImportRejected,
        ImportTemplate,
        ScrapeAmion,
        CheckAmion,
        CalculateCoverage,
        DraftSchedule,
        WorkflowCompleted,
        WorkflowFailed,
        VersionPromoted,
        VersionArchived,
    ),
)
