"""The phases of each kind of workflow: their order, which are critical, and each one's time limit and number
of attempts."""

from dataclasses import dataclass
from datetime import date, timedelta

from shared.kernel.states import Phase, WorkflowKind
from shared.settings import Settings


@dataclass(frozen=True)
class PhaseSpec:
    phase: Phase
    position: int
    critical: bool  # a critical phase that fails fails the workflow; others leave it with warnings


IMPORT_PHASES = (
    PhaseSpec(Phase.ODS_IMPORT, 1, critical=True),
    PhaseSpec(Phase.AMION_SCRAPE, 2, critical=False),
    PhaseSpec(Phase.COVERAGE, 3, critical=False),
)
# A draft's coverage checks the solver's claim: when it fails, the draft stands, with a warning.
DRAFT_PHASES = (PhaseSpec(Phase.DRAFT, 1, critical=True), PhaseSpec(Phase.COVERAGE, 2, critical=False))
# A re-scrape reuses the scrape and coverage phases of the version it re-scrapes: its template is imported.
KIND_PHASES = {
    WorkflowKind.IMPORT: IMPORT_PHASES,
    WorkflowKind.RESCRAPE: IMPORT_PHASES,
    WorkflowKind.DRAFT: DRAFT_PHASES,
}
FIRST_PHASE = {
    WorkflowKind.IMPORT: Phase.ODS_IMPORT,
    WorkflowKind.RESCRAPE: Phase.AMION_SCRAPE,
    WorkflowKind.DRAFT: Phase.DRAFT,
}


def months_touched(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def timeout(
    phase: Phase, settings: Settings, start: date, end: date, draft_time_limit_s: float | None = None
) -> timedelta:
    """`draft_time_limit_s`: the draft's own solver time limit, when its request gave one."""
    if phase is Phase.ODS_IMPORT:
        seconds = settings.ods_timeout_s
    elif phase is Phase.DRAFT:
        # every attempt the drafting worker may make (it retries a solve whose worker died), and the reading
        solve = draft_time_limit_s or settings.draft_time_limit_s
        seconds = settings.draft_attempts * solve + settings.draft_margin_s
    elif phase is Phase.AMION_SCRAPE:
        per_months = settings.amion_timeout_base_s + settings.amion_timeout_per_month_s * months_touched(start, end)
        seconds = max(settings.amion_timeout_min_s, per_months)
    else:
        seconds = settings.coverage_timeout_s
    return timedelta(seconds=seconds)


def attempts(phase: Phase, settings: Settings) -> int:
    return {
        Phase.ODS_IMPORT: settings.ods_attempts,
        Phase.AMION_SCRAPE: settings.amion_attempts,
        Phase.COVERAGE: settings.coverage_attempts,
        Phase.DRAFT: 1,  # the drafting worker retries a solve whose worker died; a DraftFailed is final
    }[phase]
