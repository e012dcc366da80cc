"""State names, in one place: workflows, phases, versions, scrape batches, assignment sources, layouts,
specialties and coverage statuses."""

from enum import StrEnum


class Phase(StrEnum):
    ODS_IMPORT = "ODS_IMPORT"
    AMION_SCRAPE = "AMION_SCRAPE"
    COVERAGE = "COVERAGE"
    DRAFT = "DRAFT"


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


class WorkflowKind(StrEnum):
    IMPORT = "IMPORT"  # an ImportRequested: template, Amion, coverage
    RESCRAPE = "RESCRAPE"  # a version's Amion data again, then its coverage (started by the watch)
    DRAFT = "DRAFT"  # a draft of a version's period, then the coverage of the version with the draft's rows


class WorkflowTrigger(StrEnum):
    """What started a workflow."""

    REQUEST = "request"  # an ImportRequested
    WATCH = "watch"  # the watch found Amion changed (services/versions/watch.py)


class WatchOutcome(StrEnum):
    """What a check of a version against Amion found."""

    UNCHANGED = "UNCHANGED"
    CHANGED = "CHANGED"
    FAILED = "FAILED"  # Amion could not be read; nothing else happens


TERMINAL = frozenset({WorkflowState.COMPLETED, WorkflowState.COMPLETED_WITH_WARNINGS, WorkflowState.FAILED})


class VersionState(StrEnum):
    """A schedule version's lifecycle (services/versions/lifecycle.py); a new version is STAGING."""

    STAGING = "STAGING"
    PRODUCTION = "PRODUCTION"
    ARCHIVED = "ARCHIVED"


class BatchState(StrEnum):
    """A scrape batch (services/amion_scraper/store.py): PENDING while it fetches, then one of the others."""

    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    SUPERSEDED = "SUPERSEDED"


APPLIED_BATCH_STATES = frozenset({BatchState.COMPLETE, BatchState.PARTIAL})  # their assignments are stored


class AssignmentSource(StrEnum):
    AMION = "AMION"  # `assignments`, written by amion_scraper
    MANUAL = "MANUAL"  # `assignment_corrections`, written by coverage
    OVERRIDE = "OVERRIDE"  # a manual assignment that replaced Amion's people of the role that date
    DRAFT = "DRAFT"  # an approved draft row (`assignment_corrections`, written on approval)


class Layout(StrEnum):
    """A coverage template's layout (services/ods_importer/README.md)."""

    TEMPLATE = "TEMPLATE"
    FLAT = "FLAT"


class Specialty(StrEnum):
    """What a person may read."""

    BODY_ONLY = "BODY_ONLY"
    NEURO_ONLY = "NEURO_ONLY"
    BOTH = "BOTH"


class WorklistSpecialty(StrEnum):
    BODY = "BODY"
    NEURO = "NEURO"


class CellStatus(StrEnum):
    COVERED = "COVERED"  # template layout
    FULL = "FULL"  # flat layout: desired coverage reached
    PARTIAL = "PARTIAL"  # flat layout: some, not enough
    UNCOVERED = "UNCOVERED"
    SPECIALTY_MISMATCH = "SPECIALTY_MISMATCH"
    NO_DATA = "NO_DATA"  # Amion delivered nothing usable for the date: unknown, not a gap


class ProposalState(StrEnum):
    """A proposal to fill a gap (services/coverage/proposal_states.py holds the transitions)."""

    PROPOSED = "PROPOSED"
    EDITED = "EDITED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    OBSOLETE = "OBSOLETE"


class DraftRunState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CRASHED = "crashed"  # its worker died mid-solve and the run was not retried


class DraftRowState(StrEnum):
    PROPOSED = "PROPOSED"
    EDITED = "EDITED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    OBSOLETE = "OBSOLETE"  # a repair's move whose gap closed by itself


class DraftRunKind(StrEnum):
    DRAFT = "draft"
    REPAIR = "repair"
