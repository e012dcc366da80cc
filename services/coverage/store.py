"""Reads what a coverage calculation needs and writes its result: a fixed number of statements,
whatever the period's length."""

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.coverage.rules import Assignment, CoverageResult, Person, Specialty
from shared.contracts import CoverageGap, CoverageSummary
from shared.db.models import Assignment as AssignmentRow
from shared.db.models import CoverageCalculation, CoverageCell, ScheduleVersion, TemplateResponsibility, TemplateWindow
from shared.db.models import Person as PersonRow
from shared.schedule_days import DayType
from shared.template_model import Category, Responsibility, Variant, Window


@dataclass(frozen=True)
class VersionInputs:
    version: ScheduleVersion
    windows: list[Window]
    assignments: list[Assignment]
    people: dict[int, Person]


def load_inputs(session: Session, version_id: uuid.UUID) -> VersionInputs | None:
    version = session.get(ScheduleVersion, version_id)
    if version is None:
        return None
    window_rows = session.scalars(
        select(TemplateWindow).where(TemplateWindow.version_id == version_id).order_by(TemplateWindow.id)
    ).all()
    responsibilities: dict[int, list[Responsibility]] = defaultdict(list)
    for window_id, worklist, role in session.execute(
        select(TemplateResponsibility.window_id, TemplateResponsibility.worklist, TemplateResponsibility.role)
        .join(TemplateWindow)
        .where(TemplateWindow.version_id == version_id)
        .order_by(TemplateResponsibility.id)
    ):
        responsibilities[window_id].append(Responsibility(worklist=worklist, role=role))
    windows = [
        Window(
            sheet=w.sheet,
            category=Category(w.category),
            day_type=DayType(w.day_type) if w.day_type else None,
            variant=Variant(w.variant) if w.variant else None,
            start=w.start_time,
            end=w.end_time,
            responsibilities=tuple(responsibilities[w.id]),
        )
        for w in window_rows
    ]
    assignments = [
        Assignment(schedule_date=d, role=role, person_id=pid)
        for d, role, pid in session.execute(
            select(AssignmentRow.schedule_date, AssignmentRow.role, AssignmentRow.person_id).where(
                AssignmentRow.version_id == version_id
            )
        )
    ]
    people = {
        pid: Person(id=pid, name=name, specialty=Specialty(specialty))
        for pid, name, specialty in session.execute(
            select(PersonRow.id, PersonRow.name, PersonRow.specialty).where(
                PersonRow.id.in_(select(AssignmentRow.person_id).where(AssignmentRow.version_id == version_id))
            )
        )
    }
    return VersionInputs(version=version, windows=windows, assignments=assignments, people=people)


def summary_contract(result: CoverageResult) -> CoverageSummary:
    s = result.summary.to_dict()
    return CoverageSummary(
        cells=s["total"],
        by_status=s["by_status"],
        coverage_ratio=s["coverage_ratio"],
        by_hospital=s["by_hospital"],
        by_role=s["by_role"],
        critical_gaps=len(result.summary.critical_gaps),
    )


def gaps_contract(result: CoverageResult, limit: int) -> list[CoverageGap]:
    return [
        CoverageGap(date=g.schedule_date, window=g.window, worklist=g.worklist, role=g.role, status=g.status.value)
        for g in result.summary.critical_gaps[:limit]
    ]


def store_calculation(
    session: Session, calculation_id: uuid.UUID, inputs: VersionInputs, result: CoverageResult
) -> None:
    session.add(
        CoverageCalculation(
            id=calculation_id,
            version_id=inputs.version.id,
            summary=result.summary.to_dict(),
            findings=[f.model_dump(mode="json") for f in result.findings],
        )
    )
    session.flush()
    if result.cells:
        session.execute(
            insert(CoverageCell),
            [
                {
                    "calculation_id": calculation_id,
                    "schedule_date": c.schedule_date,
                    "window": c.window,
                    "worklist": c.worklist,
                    "hospital": c.hospital,
                    "role": c.role,
                    "people": [inputs.people[p].name for p in c.people if p in inputs.people],
                    "status": c.status.value,
                    "mandatory": c.mandatory,
                }
                for c in result.cells
            ],
        )
