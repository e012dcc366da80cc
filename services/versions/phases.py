"""The phases of an import workflow: their order, which are critical, and each one's time limit and number
of attempts."""

from dataclasses import dataclass
from datetime import date, timedelta

from shared.settings import Settings
from shared.states import Phase, WorkflowKind


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
SPECS = {spec.phase: spec for spec in PHASES}
# A re-scrape reuses the scrape and coverage phases of the version it re-scrapes: its template is imported.
FIRST_PHASE = {WorkflowKind.IMPORT: Phase.ODS_IMPORT, WorkflowKind.RESCRAPE: Phase.AMION_SCRAPE}


def months_touched(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def timeout(phase: Phase, settings: Settings, start: date, end: date) -> timedelta:
    if phase is Phase.ODS_IMPORT:
        seconds = settings.ods_timeout_s
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
    }[phase]
