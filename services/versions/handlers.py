"""The versions worker's subscriptions: the saga coordinator's reactions to requests and phase events, and the
watch of Amion (its periodic check and the answers)."""

import asyncio

from services.versions import commands, intake, results, starts, sweeper, watch
from shared.contracts import (
    AmionChecked,
    AmionScraped,
    AmionScrapeFailed,
    ArchiveVersion,
    CoverageCalculated,
    CoverageFailed,
    DraftChecked,
    DraftFailed,
    DraftProposed,
    ImportRequested,
    OdsImported,
    OdsImportFailed,
    PromoteVersion,
    RequestDraft,
)
from shared.messaging.consumer import Handler, Rejecter, in_thread
from shared.registry import Periodic
from shared.registry import in_thread as job_in_thread

HANDLERS: dict[type, Handler] = {
    ImportRequested: in_thread(intake.start_workflow),
    OdsImported: in_thread(results.on_ods_imported),
    OdsImportFailed: in_thread(results.on_ods_import_failed),
    AmionScraped: in_thread(results.on_amion_scraped),
    AmionScrapeFailed: in_thread(results.on_amion_scrape_failed),
    CoverageCalculated: in_thread(results.on_coverage_calculated),
    CoverageFailed: in_thread(results.on_coverage_failed),
    RequestDraft: in_thread(starts.start_draft),
    DraftProposed: in_thread(results.on_draft_proposed),
    DraftFailed: in_thread(results.on_draft_failed),
    DraftChecked: in_thread(results.on_draft_checked),
    PromoteVersion: in_thread(commands.on_promote),
    ArchiveVersion: in_thread(commands.on_archive),
    AmionChecked: in_thread(watch.on_amion_checked),
}

REJECTERS: dict[type, Rejecter] = {
    ImportRequested: lambda body, delivery, reason: asyncio.to_thread(intake.reject_request, body, delivery, reason)
}

PERIODIC = [
    Periodic("saga-timeouts", lambda settings: settings.saga_sweep_s, job_in_thread(sweeper.sweep_timeouts)),
    Periodic("amion-watch", lambda settings: settings.watch_tick_s, job_in_thread(watch.tick)),
]
