"""The versions worker's composition root: the saga's steps and the watch of Amion, each given the worker's
settings (steps read none of their own), as the handlers of its subscriptions and its periodic jobs."""

from services.versions import intake, results, starts, sweeper, watch
from shared.kernel.contracts import (
    AmionChecked,
    AmionScraped,
    AmionScrapeFailed,
    CoverageCalculated,
    CoverageFailed,
    DraftChecked,
    DraftFailed,
    DraftProposed,
    ImportRequested,
    OdsImported,
    OdsImportFailed,
    RequestDraft,
)
from shared.messaging.consumer import Handler, Rejecter, given_settings, in_thread
from shared.registry import Periodic

HANDLERS: dict[type, Handler] = {
    ImportRequested: in_thread(given_settings(intake.start_workflow)),
    OdsImported: in_thread(given_settings(results.on_ods_imported)),
    OdsImportFailed: in_thread(given_settings(results.on_ods_import_failed)),
    AmionScraped: in_thread(given_settings(results.on_amion_scraped)),
    AmionScrapeFailed: in_thread(given_settings(results.on_amion_scrape_failed)),
    CoverageCalculated: in_thread(given_settings(results.on_coverage_calculated)),
    CoverageFailed: in_thread(given_settings(results.on_coverage_failed)),
    RequestDraft: in_thread(given_settings(starts.start_draft)),
    DraftProposed: in_thread(given_settings(results.on_draft_proposed)),
    DraftFailed: in_thread(given_settings(results.on_draft_failed)),
    DraftChecked: in_thread(given_settings(results.on_draft_checked)),
    AmionChecked: in_thread(given_settings(watch.on_amion_checked)),
}

REJECTERS: dict[type, Rejecter] = {ImportRequested: in_thread(intake.reject_request)}

PERIODIC = [
    Periodic("saga-timeouts", lambda settings: settings.saga_sweep_s, in_thread(sweeper.sweep_timeouts)),
    Periodic("amion-watch", lambda settings: settings.watch_tick_s, in_thread(watch.tick)),
]
