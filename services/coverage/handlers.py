"""Phase 3: compute coverage for every date, window and worklist of a version; store it; announce it.

The same command without a workflow id is an operator's recalculation (`schedcu coverage recalc`)."""

import logging

from services.coverage.calculation import CalculationOptions, calculate_and_store, calculation_id_for
from services.coverage.store import gaps_contract, summary_contract
from shared import ids
from shared.contracts import CalculateCoverage, CoverageCalculated, CoverageFailed
from shared.db.session import transaction
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Delivery, Handler, in_thread
from shared.settings import get_settings

log = logging.getLogger(__name__)

CONSUMER = "coverage"
MAX_GAPS_IN_EVENT = 50


def calculate_coverage(command: CalculateCoverage, delivery: Delivery) -> None:
    options = CalculationOptions.from_settings(get_settings())
    correlation = str(command.workflow_id or command.version_id)
    result_id = ids.result_message_id(delivery.message_id)
    calculation_id = calculation_id_for(delivery.message_id)
    with transaction() as session:
        if not inbox.first_delivery(session, CONSUMER, delivery.message_id):
            return
        result = calculate_and_store(session, command.version_id, calculation_id, options)
        if result is None:
            failed = CoverageFailed(
                workflow_id=command.workflow_id,
                version_id=command.version_id,
                reason=f"Schedule version {command.version_id} does not exist.",
            )
            outbox.add(session, failed, message_id=result_id, correlation_id=correlation)
            return
        event = CoverageCalculated(
            workflow_id=command.workflow_id,
            version_id=command.version_id,
            calculation_id=calculation_id,
            summary=summary_contract(result),
            critical_gaps=gaps_contract(result, MAX_GAPS_IN_EVENT),
            critical_gaps_total=len(result.summary.critical_gaps),
        )
        outbox.add(session, event, message_id=result_id, correlation_id=correlation)


HANDLERS: dict[type, Handler] = {CalculateCoverage: in_thread(calculate_coverage)}
