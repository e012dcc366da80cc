"""Phase 3: compute coverage for every date, window and worklist of a version; store it; announce it.

The same command without a workflow id is an operator's recalculation (`schedcu coverage recalc`)."""

import logging

from services.coverage.calculation import CalculationOptions, calculate_and_store, calculation_id_for
from services.coverage.store import gaps_contract, summary_contract, version_scope
from shared.contracts import CalculateCoverage, CoverageCalculated, CoverageFailed
from shared.messaging.consumer import Delivery, Handler, in_thread
from shared.messaging.unit_of_work import Fence, unit_of_work
from shared.settings import get_settings
from shared.states import Phase

log = logging.getLogger(__name__)

CONSUMER = "coverage"
MAX_GAPS_IN_EVENT = 50


def calculate_coverage(command: CalculateCoverage, delivery: Delivery) -> None:
    options = CalculationOptions.from_settings(get_settings())
    calculation_id = calculation_id_for(delivery.message_id)
    fence = None if command.workflow_id is None else Fence(command.workflow_id, Phase.COVERAGE, command.attempt)
    answer = {"workflow_id": command.workflow_id, "request_id": command.request_id, "attempt": command.attempt,
              "version_id": command.version_id}  # fmt: skip
    with unit_of_work(CONSUMER, delivery, fence) as work:
        if work.skipped:
            return
        result = calculate_and_store(work.session, command.version_id, calculation_id, options)
        if result is None:
            reason = f"Schedule version {command.version_id} does not exist."
            work.publish(CoverageFailed(**answer, group=command.group, period=command.period, reason=reason))
            return
        group, period = version_scope(work.session, command.version_id)
        work.publish(
            CoverageCalculated(
                **answer,
                group=group,
                period=period,
                calculation_id=calculation_id,
                summary=summary_contract(result),
                critical_gaps=gaps_contract(result, MAX_GAPS_IN_EVENT),
                critical_gaps_total=len(result.summary.critical_gaps),
            )
        )


HANDLERS: dict[type, Handler] = {CalculateCoverage: in_thread(calculate_coverage)}
