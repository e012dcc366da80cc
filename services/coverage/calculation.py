"""One coverage calculation of a version: load its inputs, apply the rules of its layout, store the result,
and say what changed since the version's previous calculation.

Runs in the caller's session, so the cells and the summary commit with whatever else the caller writes
(the inbox row and the outbox event in the worker).

Only the dates that changed are recomputed when that is cheaper. A template-layout cell depends on its date's
assignments (with their people's names and specialties), on whether the date has Amion data, and on inputs
every date shares (the windows, holidays, worklist specialties, rest period, zone). Each calculation stores a
fingerprint of the shared inputs and one per date. When the shared one is the previous calculation's and fewer
than half the dates' fingerprints differ, only those dates' cells are computed and written; the other dates'
cells are the previous calculation's, pointed at rather than copied (`coverage_cell_dates`), and counted in the
database for the summary (`kept_tally`). The cost follows the number of changed dates. The findings
(rest periods cross dates) are always the whole period's, so the result equals a full calculation
(tests/coverage/test_recalculation.py).
"""

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services.coverage.changes import Changes, changes
from services.coverage.drift import drift
from services.coverage.flat_rules import calculate_flat
from services.coverage.proposal_upkeep import after_calculation
from services.coverage.store import (
    Fingerprints,
    PreviousCalculation,
    VersionInputs,
    calculation_cells,
    kept_tally,
    load_inputs,
    previous_calculation,
    store_calculation,
    stored_cells,
)
from shared.kernel import ids
from shared.kernel.coverage_rules import Assignment, CoverageResult, Summary, Tally, WorklistSpecialty, calculate
from shared.kernel.rest import DEFAULT_REST
from shared.kernel.schedule_days import dates_between
from shared.settings import Settings


@dataclass(frozen=True)
class CalculationOptions:
    tz: ZoneInfo
    holidays: frozenset[date] = frozenset()
    specialty_overrides: Mapping[str, WorklistSpecialty] = field(default_factory=lambda: MappingProxyType({}))
    rest: timedelta = DEFAULT_REST  # after a shift ending in the morning

    @classmethod
    def from_settings(cls, settings: Settings) -> "CalculationOptions":
        return cls(
            tz=settings.tz,
            holidays=frozenset(settings.holidays),
            specialty_overrides={k: WorklistSpecialty(v) for k, v in settings.worklist_specialties.items()},
            rest=timedelta(hours=settings.rest_hours),
        )


def calculation_id_for(message_id: str) -> uuid.UUID:
    """The calculation a `CalculateCoverage` message creates: the same for every redelivery of it."""
    return ids.derived_id(message_id, "coverage-calculation")


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()


def fingerprints(inputs: VersionInputs, options: CalculationOptions) -> Fingerprints:
    """The shared inputs' fingerprint and each date's (template layout; a flat version gets none)."""
    if inputs.flat:
        return Fingerprints(None, None)
    version = inputs.version
    shared = [
        [repr(w) for w in inputs.windows],
        str(options.tz),
        sorted(options.holidays),
        sorted(options.specialty_overrides.items()),
        options.rest.total_seconds(),
    ]
    by_date: dict[date, list[Assignment]] = defaultdict(list)
    for a in inputs.assignments:
        by_date[a.schedule_date].append(a)
    people = {pid: [p.name, str(p.specialty)] for pid, p in inputs.people.items()}

    def held(a: Assignment) -> list[object]:
        return [a.role, a.person_id, people.get(a.person_id), a.source, a.starts_at, a.ends_at]

    date_keys = {
        day.isoformat(): _digest([[held(a) for a in by_date[day]], inputs.amion.missing.get(day)])
        for day in dates_between(version.period_start, version.period_end)
    }
    return Fingerprints(_digest(shared), date_keys)


def dates_to_recompute(keys: Fingerprints, previous: PreviousCalculation | None) -> frozenset[date] | None:
    """The dates whose cells must be computed again, or None for a full calculation (no usable previous one,
    other shared inputs, or at least half of the dates changed)."""
    if keys.date_keys is None or previous is None or previous.date_keys is None:
        return None
    if previous.inputs_key != keys.inputs_key or previous.date_keys.keys() != keys.date_keys.keys():
        return None
    changed = frozenset(date.fromisoformat(d) for d, key in keys.date_keys.items() if previous.date_keys[d] != key)
    return changed if len(changed) < len(keys.date_keys) / 2 else None


def compute(inputs: VersionInputs, options: CalculationOptions, only: frozenset[date] | None = None) -> CoverageResult:
    """The rules of the version's layout; `only`: the cells of those dates alone (template layout)."""
    version = inputs.version
    if inputs.flat:
        return calculate_flat(
            inputs.flat_shifts,
            version.period_start,
            version.period_end,
            inputs.assignments,
            inputs.people,
            options.tz,
            options.holidays,
            inputs.amion.missing,
            options.rest,
        )
    return calculate(
        inputs.windows,
        version.period_start,
        version.period_end,
        inputs.assignments,
        inputs.people,
        holidays=options.holidays,
        specialty_overrides=options.specialty_overrides,
        tz=options.tz,
        no_data=inputs.amion.missing,
        rest=options.rest,
        only=only,
    )


@dataclass(frozen=True)
class Calculated:
    """A stored calculation. `result` has the whole period's summary and findings; its cells are every cell,
    or with `recomputed` dates only theirs (the others are the previous calculation's, kept as stored)."""

    inputs: VersionInputs
    result: CoverageResult
    previous_id: uuid.UUID | None
    recomputed: frozenset[date] | None  # None: every date
    changes: Changes | None  # None: no previous calculation


def calculate_and_store(
    session: Session, version_id: uuid.UUID, calculation_id: uuid.UUID, options: CalculationOptions
) -> Calculated | None:
    """None when the version does not exist."""
    inputs = load_inputs(session, version_id)
    if inputs is None:
        return None
    keys = fingerprints(inputs, options)
    previous = previous_calculation(session, version_id)
    recomputed = dates_to_recompute(keys, previous)
    computed = after_calculation(
        session, calculation_id, inputs, compute(inputs, options, recomputed), options.holidays, options.tz, recomputed
    )
    fresh = stored_cells(inputs, computed.cells)
    before = [] if previous is None else calculation_cells(session, previous.id, recomputed)
    if previous is None or recomputed is None:
        result = computed
    else:
        tally = kept_tally(session, previous.id, recomputed) + Tally.of(computed.cells)
        summary = Summary.of_tally(tally, no_data=inputs.amion.missing)
        result = CoverageResult(cells=computed.cells, findings=computed.findings, summary=summary)
    drifted = drift(session, version_id)
    if drifted:
        result = replace(result, findings=(*result.findings, *drifted))
    previous_id = previous.id if previous else None
    store_calculation(session, calculation_id, inputs, result, fresh, keys, previous_id, recomputed)
    return Calculated(inputs, result, previous_id, recomputed, None if previous is None else changes(before, fresh))
