"""The coverage worker: its queue, its handlers and what it publishes (shared/registry.py)."""

from services.coverage.handlers import CONSUMER, HANDLERS
from shared.kernel.contracts import (
    CalculateCoverage,
    CoverageCalculated,
    CoverageChanged,
    CoverageFailed,
    DraftChecked,
    ProposalApproved,
    ProposalCreated,
    ProposalRejected,
)
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue(CONSUMER, ("command.coverage.*",)),
    HANDLERS,
    publishes=(
        CoverageCalculated,
        CoverageChanged,
        CoverageFailed,
        DraftChecked,
        ProposalCreated,
        ProposalApproved,
        ProposalRejected,
        CalculateCoverage,  # the recalculation an approved proposal or draft asks for
    ),
)
