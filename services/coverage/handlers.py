"""Phase 3: compute coverage for every date, window and worklist of a version; store it; announce it.

The same command without a workflow id is an operator's recalculation (`schedcu coverage recalc`).

Two events: `CoverageCalculated` always, its gaps (the first `MAX_GAPS_IN_EVENT` by date) each with its top
candidates; `CoverageChanged` when the calculation differs from the version's previous one (its changed cells,
the gaps opened, with their top candidates, and the gaps closed), and never when nothing changed."""

import logging
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy.orm import Session

from services.coverage.calculation import Calculated, CalculationOptions, calculate_and_store, calculation_id_for
from services.coverage.changes import CellChange, StoredCell
from services.coverage.draft_check import check_draft
from services.coverage.gaps import rank_gaps
from services.coverage.store import gap_contract, summary_contract, version_scope
from shared.kernel.contracts import (
    CalculateCoverage,
    CellState,
    ChangedCell,
    CoverageCalculated,
    CoverageChanged,
    CoverageFailed,
    DraftChecked,
    GapCandidate,
)
from shared.kernel.coverage_rules import Cell, Gap
from shared.kernel.states import Phase
from shared.messaging.consumer import Delivery, Handler, given_settings, in_thread
from shared.messaging.unit_of_work import Fence, unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)

CONSUMER = "coverage"  # its inbox rows and its registry's queue are named by it
MAX_GAPS_IN_EVENT = 50
TOP_CANDIDATES = 3

GapKey = tuple[date, str, str]


def top_candidates(
    session: Session, calculated: Calculated, gaps: Iterable[Gap], options: CalculationOptions
) -> dict[GapKey, list[GapCandidate]]:
    """The best `TOP_CANDIDATES` of each of `gaps`, keyed by (date, window, worklist)."""
    # candidates depend on the date, the window's hours, the worklist and the role, not on the hospital
    cells = [Cell(g.schedule_date, g.window, g.worklist, "", g.role, (), g.status) for g in gaps]
    if not cells:
        return {}
    return {
        (r.slot.schedule_date, r.slot.window, r.slot.worklist): [
            GapCandidate(person_id=c.person.id, name=c.person.name, specialty=str(c.person.specialty),
                         assign_role=r.assign_role, nights=c.nights, weekends=c.weekends, holidays=c.holidays,
                         reasons=list(c.reasons))
            for c in r.candidates[:TOP_CANDIDATES]
        ]
        for r in rank_gaps(session, calculated.inputs, cells, options)
    }  # fmt: skip


def _state(cell: StoredCell | None) -> CellState | None:
    return None if cell is None else CellState(status=cell.status.value, people=list(cell.people))


def _changed_cells(found: Sequence[CellChange]) -> list[ChangedCell]:
    return [
        ChangedCell(date=c.schedule_date, window=c.window, worklist=c.worklist, role=c.role, old=_state(c.old),
                    new=_state(c.new))
        for c in found
    ]  # fmt: skip


def draft_coverage(command: CalculateCoverage, delivery: Delivery, settings: Settings) -> None:
    """A DRAFT workflow's coverage phase: the draft checked, nothing stored (services/coverage/draft_check.py)."""
    assert command.draft_run_id is not None and command.workflow_id is not None
    assert command.request_id is not None and command.group is not None and command.period is not None
    options = CalculationOptions.from_settings(settings)
    answer = {"workflow_id": command.workflow_id, "request_id": command.request_id, "group": command.group,
              "period": command.period, "attempt": command.attempt, "version_id": command.version_id}  # fmt: skip
    with unit_of_work(CONSUMER, delivery, Fence(command.workflow_id, Phase.COVERAGE, command.attempt)) as work:
        if work.skipped:
            return
        result = check_draft(work.session, command.version_id, command.draft_run_id, options)
        if result is None:
            reason = f"Schedule version {command.version_id} does not exist."
            work.publish(CoverageFailed(**answer, reason=reason))
            return
        work.publish(
            DraftChecked(
                **answer, run_id=command.draft_run_id, summary=summary_contract(result), findings=list(result.findings)
            )
        )


def calculate_coverage(command: CalculateCoverage, delivery: Delivery, settings: Settings) -> None:
    if command.draft_run_id is not None:
        draft_coverage(command, delivery, settings)
        return
    options = CalculationOptions.from_settings(settings)
    calculation_id = calculation_id_for(delivery.message_id)
    fence = None if command.workflow_id is None else Fence(command.workflow_id, Phase.COVERAGE, command.attempt)
    answer = {"workflow_id": command.workflow_id, "request_id": command.request_id, "attempt": command.attempt,
              "version_id": command.version_id}  # fmt: skip
    with unit_of_work(CONSUMER, delivery, fence) as work:
        if work.skipped:
            return
        calculated = calculate_and_store(work.session, command.version_id, calculation_id, options)
        if calculated is None:
            reason = f"Schedule version {command.version_id} does not exist."
            work.publish(CoverageFailed(**answer, group=command.group, period=command.period, reason=reason))
            return
        result, found = calculated.result, calculated.changes
        group, period = version_scope(work.session, command.version_id)
        shown = result.summary.critical_gaps[:MAX_GAPS_IN_EVENT]
        opened = found.opened if found else ()
        candidates = top_candidates(work.session, calculated, dict.fromkeys([*shown, *opened]), options)
        work.publish(
            CoverageCalculated(
                **answer,
                group=group,
                period=period,
                calculation_id=calculation_id,
                summary=summary_contract(result),
                critical_gaps=[gap_contract(g, candidates.get(g[:3])) for g in shown],
                critical_gaps_total=len(result.summary.critical_gaps),
            )
        )
        if found and calculated.previous_id is not None:
            log.info("coverage of version %s changed: %d cells, %d gaps opened, %d closed", command.version_id,
                     len(found.cells), len(found.opened), len(found.closed))  # fmt: skip
            changed = CoverageChanged(
                workflow_id=command.workflow_id,
                request_id=command.request_id,
                group=group,
                period=period,
                version_id=command.version_id,
                previous_calculation_id=calculated.previous_id,
                calculation_id=calculation_id,
                changed_cells=_changed_cells(found.cells),
                gaps_opened=[gap_contract(g, candidates.get(g[:3])) for g in found.opened],
                gaps_closed=[gap_contract(g) for g in found.closed],
            )
            work.publish(changed, "changed")


HANDLERS: dict[type, Handler] = {CalculateCoverage: in_thread(given_settings(calculate_coverage))}
