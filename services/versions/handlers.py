"""The versions worker's composition root: the saga's steps and the watch of Amion, each given the worker's
settings (steps read none of their own), as the handlers of its subscriptions and its periodic jobs."""

import asyncio
from collections.abc import Callable
from typing import Any

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
from shared.messaging.consumer import Delivery, Handler, Rejecter, in_thread
from shared.registry import Periodic
from shared.registry import in_thread as job_in_thread
from shared.settings import Settings, get_settings


def _configured(step: Callable[[Any, Delivery, Settings], None]) -> Handler:
    """`step` given the settings when a message arrives (the process's, read once: a test chooses them before it
    starts the worker)."""
    return in_thread(lambda message, delivery: step(message, delivery, get_settings()))


HANDLERS: dict[type, Handler] = {
    ImportRequested: _configured(intake.start_workflow),
    OdsImported: _configured(results.on_ods_imported),
    OdsImportFailed: _configured(results.on_ods_import_failed),
    AmionScraped: _configured(results.on_amion_scraped),
    AmionScrapeFailed: _configured(results.on_amion_scrape_failed),
    CoverageCalculated: _configured(results.on_coverage_calculated),
    CoverageFailed: _configured(results.on_coverage_failed),
    RequestDraft: _configured(starts.start_draft),
    DraftProposed: _configured(results.on_draft_proposed),
    DraftFailed: _configured(results.on_draft_failed),
    DraftChecked: _configured(results.on_draft_checked),
    PromoteVersion: in_thread(commands.on_promote),
    ArchiveVersion: in_thread(commands.on_archive),
    AmionChecked: _configured(watch.on_amion_checked),
}

REJECTERS: dict[type, Rejecter] = {
    ImportRequested: lambda body, delivery, reason: asyncio.to_thread(intake.reject_request, body, delivery, reason)
}

PERIODIC = [
    Periodic("saga-timeouts", lambda settings: settings.saga_sweep_s, job_in_thread(sweeper.sweep_timeouts)),
    Periodic("amion-watch", lambda settings: settings.watch_tick_s, job_in_thread(watch.tick)),
]
