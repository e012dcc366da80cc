"""Read side of coverage: a version's latest calculation, its cells, and its critical gaps grouped."""

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage.calculation import CalculationOptions
from services.coverage.gap_lines import GapGroup, critical_keys, group_gaps
from services.coverage.gaps import gap_report
from shared.db import version_state
from shared.db.models import CoverageCalculation, ScheduleVersion, calculation_cells
from shared.settings import Settings


def _view(calc: CoverageCalculation, version: ScheduleVersion, state: str) -> dict[str, Any]:
    return {
        "calculation_id": str(calc.id),
        "version_id": str(version.id),
        "created_at": calc.created_at.isoformat(),
        "layout": version.layout,
        "period": {"start": version.period_start.isoformat(), "end": version.period_end.isoformat()},
        "template_name": version.template_name,
        "version_state": state,
        "summary": calc.summary,
        "findings": calc.findings,
    }


def latest_calculation(session: Session, version_id: uuid.UUID) -> dict[str, Any] | None:
    row = session.execute(
        version_state.with_lifecycle(
            select(CoverageCalculation, ScheduleVersion, version_state.state()).join(
                ScheduleVersion, ScheduleVersion.id == CoverageCalculation.version_id
            )
        )
        .where(CoverageCalculation.version_id == version_id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    ).first()
    return _view(*row) if row is not None else None


def calculation_view(session: Session, calculation_id: uuid.UUID) -> dict[str, Any] | None:
    row = session.execute(
        version_state.with_lifecycle(
            select(CoverageCalculation, ScheduleVersion, version_state.state()).join(
                ScheduleVersion, ScheduleVersion.id == CoverageCalculation.version_id
            )
        ).where(CoverageCalculation.id == calculation_id)
    ).first()
    return _view(*row) if row is not None else None


def cells(session: Session, calculation_id: uuid.UUID, day: date | None = None) -> list[dict[str, Any]]:
    """The calculation's cells in calculation order (by date, then template order), optionally of one date."""
    query = select(
        calculation_cells.c.schedule_date,
        calculation_cells.c.window,
        calculation_cells.c.worklist,
        calculation_cells.c.hospital,
        calculation_cells.c.role,
        calculation_cells.c.people,
        calculation_cells.c.status,
        calculation_cells.c.mandatory,
    ).where(calculation_cells.c.calculation_id == calculation_id)
    if day is not None:
        query = query.where(calculation_cells.c.schedule_date == day)
    return [
        {
            "schedule_date": d.isoformat(),
            "window": window,
            "worklist": worklist,
            "hospital": hospital,
            "role": role,
            "people": people,
            "status": status,
            "mandatory": mandatory,
        }
        for d, window, worklist, hospital, role, people, status, mandatory in session.execute(
            query.order_by(calculation_cells.c.schedule_date, calculation_cells.c.id)
        )
    ]


def critical_gap_groups(
    session: Session, version_id: uuid.UUID, summary: Mapping[str, Any], settings: Settings, day: date | None = None
) -> list[GapGroup]:
    """The critical gaps of the version's latest calculation (whose `summary` is given), grouped by date, role
    and hours, with their candidates; `day`: of that date only."""
    report = gap_report(session, version_id, CalculationOptions.from_settings(settings), day)
    return group_gaps(report.gaps, critical_keys(summary)) if report is not None else []
