"""State names that more than one service reads: a workflow, its phases, and its phases' names."""

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
