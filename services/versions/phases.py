"""The phases of an import workflow and the states a workflow and its phases go through."""

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    ODS_IMPORT = "ODS_IMPORT"
    AMION_SCRAPE = "AMION_SCRAPE"
    COVERAGE = "COVERAGE"


class PhaseState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class WorkflowState(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_WARNINGS = "COMPLETED_WITH_WARNINGS"
    FAILED = "FAILED"


TERMINAL = frozenset({WorkflowState.COMPLETED, WorkflowState.COMPLETED_WITH_WARNINGS, WorkflowState.FAILED})


@dataclass(frozen=True)
class PhaseSpec:
    phase: Phase
    position: int
    critical: bool  # a critical phase that fails fails the workflow; others leave it with warnings


PHASES = (
    PhaseSpec(Phase.ODS_IMPORT, 1, critical=True),
    PhaseSpec(Phase.AMION_SCRAPE, 2, critical=False),
    PhaseSpec(Phase.COVERAGE, 3, critical=False),
)
