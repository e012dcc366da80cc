"""Which schedule dates of a version's period have Amion data, decided from the version's scrape batches. Pure.

The applied batch is the one whose AMION assignments are stored: of the batches in state `COMPLETE` or
`PARTIAL`, the one that finished last (storing a batch replaces the version's AMION assignments). A date has
Amion data when its month is `OK` in the applied batch. Without an applied batch no date has any, and the
reason comes from the latest batch: its errors (a refused password, an unknown account, every month
failing), or that it never finished, or that no scrape was stored at all.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.kernel.amion_data import MonthResult, month_key
from shared.kernel.schedule_days import dates_between
from shared.kernel.states import APPLIED_BATCH_STATES, BatchState

NO_SCRAPE = "no Amion scrape has been stored"
UNFINISHED = "the Amion scrape did not finish"
FAILED = "the Amion scrape failed"
NOT_ASKED = "the Amion scrape did not ask for this month"


@dataclass(frozen=True)
class Batch:
    """A `scrape_batches` row as stored."""

    id: uuid.UUID
    state: str
    months: Mapping[str, Any]
    findings: Sequence[Mapping[str, Any]]
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class AmionData:
    batch_id: uuid.UUID | None  # the applied batch, None when there is none
    missing: dict[date, str]  # every date of the period without Amion data -> why


def _failure(batch: Batch | None) -> dict[str, str] | str:
    """Why the latest batch gave no data: per month when it says so, else one reason for the whole period."""
    if batch is None:
        return NO_SCRAPE
    if batch.state == BatchState.PENDING:
        return UNFINISHED
    per_month = {month: MonthResult.from_json(stored) for month, stored in batch.months.items()}
    if per_month and all(result.reason for result in per_month.values()):
        return {month: result.reason or FAILED for month, result in per_month.items()}
    errors = [str(f["text"]).rstrip(".") for f in batch.findings if f.get("severity") == "ERROR"]
    return "; ".join(dict.fromkeys(errors)) or FAILED


def amion_data(batches: Sequence[Batch], start: date, end: date) -> AmionData:
    """The applied batch of `batches` (a version's, in any order) and the dates `start..end` without data."""
    applied = max(
        (b for b in batches if b.state in APPLIED_BATCH_STATES and b.finished_at is not None),
        key=lambda b: b.finished_at or b.created_at,
        default=None,
    )
    days = list(dates_between(start, end))
    if applied is None:
        why = _failure(max(batches, key=lambda b: b.created_at, default=None))
        if isinstance(why, str):
            return AmionData(None, dict.fromkeys(days, why))
        return AmionData(None, {day: why.get(month_key(day), FAILED) for day in days})
    months = {month: MonthResult.from_json(stored) for month, stored in applied.months.items()}
    missing: dict[date, str] = {}
    for day in days:
        result = months.get(month_key(day))
        if result is None:
            missing[day] = NOT_ASKED
        elif not result.has_data:
            missing[day] = result.reason or FAILED
    return AmionData(applied.id, missing)
