"""The saga's reactions to the phases' results: each one advances its workflow, or changes nothing when it comes
from a superseded attempt or for a phase that is not running."""

import logging
from collections.abc import Callable
from datetime import datetime

from services.versions.coordinator import CONSUMER, Saga, now, record_durations
from services.versions.workflow import Message, Verdict, note
from shared.kernel.contracts import (
    AmionScraped,
    AmionScrapeFailed,
    CoverageCalculated,
    CoverageFailed,
    DraftChecked,
    DraftFailed,
    DraftProposed,
    OdsImported,
    OdsImportFailed,
    PhaseResult,
)
from shared.kernel.findings import Finding, Severity
from shared.kernel.states import Phase
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)


def _findings(findings: list[Finding]) -> list[Message]:
    return [{"at": now().isoformat(), **f.model_dump(mode="json")} for f in findings]


def _on_result(
    event: PhaseResult | CoverageCalculated | CoverageFailed | DraftProposed | DraftFailed,
    phase: Phase,
    delivery: Delivery,
    settings: Settings,
    step: Callable[[Saga, datetime], Verdict],
) -> None:
    if event.workflow_id is None:
        return  # an operator's recalculation: no workflow to advance
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        saga = Saga.load(work.session, event.workflow_id, settings)
        if saga is None:
            log.warning("ignoring %s: no workflow %s", delivery.routing_key, event.workflow_id)
            return
        verdict = step(saga, now())
        if verdict is not Verdict.ACCEPTED:
            log.info(
                "ignoring %s of attempt %d for workflow %s: %s (phase %s, attempt %d)",
                delivery.routing_key,
                event.attempt,
                event.workflow_id,
                verdict,
                saga.machine.phases[phase].state,
                saga.machine.phases[phase].attempt,
            )
            return
        record_durations(saga.save())


def on_ods_imported(event: OdsImported, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        if saga.machine.accepts(Phase.ODS_IMPORT, event.attempt) is Verdict.ACCEPTED:
            saga.version_id = event.version_id
        summary = f"version {event.version_id}: {event.windows} windows, {event.shift_instances} shift instances"
        return saga.machine.succeed(
            Phase.ODS_IMPORT, event.attempt, now, [note(now, summary), *_findings(event.findings)]
        )

    _on_result(event, Phase.ODS_IMPORT, delivery, settings, step)


def on_ods_import_failed(event: OdsImportFailed, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        why = "the template has errors; no version was created"
        return saga.machine.fail(Phase.ODS_IMPORT, event.attempt, now, why, _findings(event.findings), False)

    _on_result(event, Phase.ODS_IMPORT, delivery, settings, step)


def on_amion_scraped(event: AmionScraped, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        summary = f"scrape batch {event.batch_id} {event.state}: {event.assignments} assignments"
        return saga.machine.succeed(
            Phase.AMION_SCRAPE, event.attempt, now, [note(now, summary), *_findings(event.findings)]
        )

    _on_result(event, Phase.AMION_SCRAPE, delivery, settings, step)


def on_amion_scrape_failed(event: AmionScrapeFailed, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        messages = [note(now, event.reason, Severity.WARNING, "AMION_SCRAPE_FAILED"), *_findings(event.findings)]
        why = "the scrape failed" if event.retryable else event.reason
        return saga.machine.fail(Phase.AMION_SCRAPE, event.attempt, now, why, messages, event.retryable)

    _on_result(event, Phase.AMION_SCRAPE, delivery, settings, step)


def on_coverage_calculated(event: CoverageCalculated, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        s = event.summary
        summary = (
            f"calculation {event.calculation_id}: {s.cells} cells, ratio {s.coverage_ratio:.3f}, "
            f"{s.critical_gaps} critical gaps"
        )
        missing = [
            note(now, f"no Amion data for {m.month} ({m.start} to {m.end}, {m.cells} cells): {m.reason}",
                 Severity.WARNING, "AMION_DATA_MISSING")
            for m in s.unknown_months
        ]  # fmt: skip
        return saga.machine.succeed(Phase.COVERAGE, event.attempt, now, [note(now, summary), *missing])

    _on_result(event, Phase.COVERAGE, delivery, settings, step)


def _on_failure(
    event: CoverageFailed | DraftFailed, phase: Phase, code: str, retryable: bool, delivery: Delivery,
    settings: Settings,
) -> None:  # fmt: skip
    """A phase that failed for the reason its event gives, noted as a warning under `code`."""

    def step(saga: Saga, now: datetime) -> Verdict:
        messages = [note(now, event.reason, Severity.WARNING, code)]
        return saga.machine.fail(phase, event.attempt, now, event.reason, messages, retryable)

    _on_result(event, phase, delivery, settings, step)


def on_coverage_failed(event: CoverageFailed, delivery: Delivery, settings: Settings) -> None:
    _on_failure(event, Phase.COVERAGE, "COVERAGE_FAILED", True, delivery, settings)


def on_draft_proposed(event: DraftProposed, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        summary = (
            f"draft run {event.run_id} {event.outcome}: {event.filled} of {event.to_fill} roles filled "
            f"({event.kept} kept), {event.seconds:.1f} s"
        )
        unfilled = [
            note(now, f"{event.unfilled} roles left unfilled (`schedcu draft show {event.run_id}` says why)",
                 Severity.WARNING, "DRAFT_UNFILLED")
        ] if event.unfilled else []  # fmt: skip
        return saga.machine.succeed(Phase.DRAFT, event.attempt, now, [note(now, summary), *unfilled])

    _on_result(event, Phase.DRAFT, delivery, settings, step)


def on_draft_failed(event: DraftFailed, delivery: Delivery, settings: Settings) -> None:
    _on_failure(event, Phase.DRAFT, "DRAFT_FAILED", False, delivery, settings)


def on_draft_checked(event: DraftChecked, delivery: Delivery, settings: Settings) -> None:
    def step(saga: Saga, now: datetime) -> Verdict:
        s = event.summary
        summary = (
            f"coverage of draft run {event.run_id}: {s.cells} cells, ratio {s.coverage_ratio:.3f}, "
            f"{s.critical_gaps} critical gaps, {len(event.findings)} findings"
        )
        return saga.machine.succeed(
            Phase.COVERAGE, event.attempt, now, [note(now, summary), *_findings(event.findings)]
        )

    _on_result(event, Phase.COVERAGE, delivery, settings, step)
