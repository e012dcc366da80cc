"""The coverage of a draft (a DRAFT workflow's coverage phase): the version's assignments plus the run's rows that
still stand (PROPOSED, EDITED, APPROVED), calculated by the rules of section 4 as an independent check of what the
solver claims. Every date counts as known: the draft is the data, whether or not Amion has the month yet. Nothing
is stored as the version's coverage; a draft counts only once approved (its rows then become `DRAFT`
assignments)."""

import uuid
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage.calculation import CalculationOptions, compute
from services.coverage.store import VersionInputs, load_inputs
from shared.db.models import DraftRowRecord, Person
from shared.kernel import coverage_rules
from shared.kernel.coverage_rules import Assignment, CoverageResult, Specialty
from shared.kernel.states import AssignmentSource, DraftRowState

STANDING = (DraftRowState.PROPOSED, DraftRowState.EDITED, DraftRowState.APPROVED)


def with_draft(
    inputs: VersionInputs, drafted: list[Assignment], people: dict[int, coverage_rules.Person]
) -> VersionInputs:
    """The version's inputs with the drafted assignments added and every date known. Pure."""
    return replace(
        inputs,
        assignments=[*inputs.assignments, *drafted],
        people={**inputs.people, **people},
        amion=replace(inputs.amion, missing={}),
    )


def check_draft(
    session: Session, version_id: uuid.UUID, run_id: uuid.UUID, options: CalculationOptions
) -> CoverageResult | None:
    """None when the version does not exist."""
    inputs = load_inputs(session, version_id)
    if inputs is None:
        return None
    rows = session.execute(
        select(DraftRowRecord.schedule_date, DraftRowRecord.role, Person.id, Person.name, Person.specialty)
        .join(Person, Person.id == DraftRowRecord.person_id)
        .where(DraftRowRecord.run_id == run_id, DraftRowRecord.state.in_(STANDING))
        .order_by(DraftRowRecord.schedule_date, DraftRowRecord.id)
    ).all()
    drafted = [
        Assignment(schedule_date=d, role=role, person_id=pid, source=AssignmentSource.DRAFT)
        for d, role, pid, _, _ in rows
    ]
    people = {
        pid: coverage_rules.Person(id=pid, name=name, specialty=Specialty(specialty))
        for _, _, pid, name, specialty in rows
    }
    return compute(with_draft(inputs, drafted, people), options)
