"""One coverage calculation of a version: load its inputs, apply the rules of its layout, store the result.

Runs in the caller's session, so the cells and the summary commit with whatever else the caller writes
(the inbox row and the outbox event in the worker)."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services.coverage.flat_rules import calculate_flat
from services.coverage.proposal_upkeep import after_calculation
from services.coverage.rest import DEFAULT_REST
from services.coverage.rules import CoverageResult, WorklistSpecialty, calculate
from services.coverage.store import VersionInputs, load_inputs, store_calculation
from shared import ids
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


def compute(inputs: VersionInputs, options: CalculationOptions) -> CoverageResult:
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
    )


def calculate_and_store(
    session: Session, version_id: uuid.UUID, calculation_id: uuid.UUID, options: CalculationOptions
) -> CoverageResult | None:
    """None when the version does not exist."""
    inputs = load_inputs(session, version_id)
    if inputs is None:
        return None
    result = after_calculation(session, calculation_id, inputs, compute(inputs, options), options.holidays, options.tz)
    store_calculation(session, calculation_id, inputs, result)
    return result
