"""Reads what a coverage calculation needs and writes its result: a fixed number of statements whatever the
period's length (six reads for the template layout, five for the flat one, then the version's previous
calculation and its cells, or when only some dates are recomputed their cells and three counts of the others;
three writes: the calculation, its cells in one `INSERT ... SELECT`, and where each date's cells are). A
recalculation of some dates writes only their cells: the others stay where they are, in an earlier
calculation, and `coverage_cell_dates` points there (read through the view `calculation_cells`).
One of the reads is the version's scrape batches, which say which dates have Amion data
(`services/coverage/amion_data.py`)."""

import json
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from services.coverage.amion_data import AmionData, Batch, amion_data
from services.coverage.changes import StoredCell
from services.coverage.flat_rules import FlatShift
from shared.db import assignments
from shared.db.models import (
    CoverageCalculation,
    HospitalGroup,
    Person,
    ScheduleVersion,
    ScrapeBatch,
    ShiftInstance,
)
from shared.db.templates import template_windows
from shared.kernel import coverage_rules
from shared.kernel.contracts import CoverageGap, CoverageSummary, GapCandidate, Period, UnknownMonth
from shared.kernel.coverage_rules import (
    Assignment,
    Cell,
    CoverageResult,
    Gap,
    Specialty,
    Tally,
    WorklistSpecialty,
    gap_severity,
)
from shared.kernel.coverage_text import coverage_sentence
from shared.kernel.states import CellStatus, Layout
from shared.kernel.template_model import Window


@dataclass(frozen=True)
class VersionInputs:
    version: ScheduleVersion
    windows: list[Window]  # template layout
    flat_shifts: list[FlatShift]  # flat layout
    assignments: list[Assignment]
    people: dict[int, coverage_rules.Person]
    amion: AmionData  # the applied scrape batch and the dates without Amion data

    @property
    def flat(self) -> bool:
        return self.version.layout == Layout.FLAT


def _flat_shifts(session: Session, version_id: uuid.UUID) -> list[FlatShift]:
    rows = session.execute(
        select(
            ShiftInstance.schedule_date,
            ShiftInstance.role,
            ShiftInstance.hospital,
            ShiftInstance.study_type,
            ShiftInstance.starts_at,
            ShiftInstance.ends_at,
            ShiftInstance.desired_coverage,
            ShiftInstance.mandatory,
            ShiftInstance.specialty_constraint,
        )
        .where(ShiftInstance.version_id == version_id, ShiftInstance.window_id.is_(None))
        .order_by(ShiftInstance.schedule_date, ShiftInstance.id)
    )
    return [
        FlatShift(
            schedule_date=day,
            role=role,
            hospital=(hospital or "").strip(),
            study_type=(study_type or "").strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            desired_coverage=desired,
            mandatory=mandatory,
            specialty_constraint=WorklistSpecialty(constraint) if constraint else None,
        )
        for day, role, hospital, study_type, starts_at, ends_at, desired, mandatory, constraint in rows
    ]


def _amion_data(session: Session, version: ScheduleVersion) -> AmionData:
    batches = [
        Batch(*row)
        for row in session.execute(
            select(
                ScrapeBatch.id,
                ScrapeBatch.state,
                ScrapeBatch.months,
                ScrapeBatch.findings,
                ScrapeBatch.created_at,
                ScrapeBatch.finished_at,
            ).where(ScrapeBatch.version_id == version.id)
        )
    ]
    return amion_data(batches, version.period_start, version.period_end)


def load_inputs(session: Session, version_id: uuid.UUID) -> VersionInputs | None:
    version = session.get(ScheduleVersion, version_id)
    if version is None:
        return None
    flat = version.layout == Layout.FLAT
    effective = assignments.effective(version_id)
    found = session.execute(
        select(
            effective.c.schedule_date,
            effective.c.role,
            effective.c.person_id,
            effective.c.source,
            effective.c.starts_at,
            effective.c.ends_at,
        ).order_by(effective.c.kind, effective.c.id)
    )
    version_assignments = [
        Assignment(schedule_date=d, role=role, person_id=pid, source=source, starts_at=starts_at, ends_at=ends_at)
        for d, role, pid, source, starts_at, ends_at in found
    ]
    people = {
        pid: coverage_rules.Person(id=pid, name=name, specialty=Specialty(specialty))
        for pid, name, specialty in session.execute(
            select(Person.id, Person.name, Person.specialty).where(Person.id.in_(select(effective.c.person_id)))
        )
    }
    return VersionInputs(
        version=version,
        windows=[] if flat else template_windows(session, version_id),
        flat_shifts=_flat_shifts(session, version_id) if flat else [],
        assignments=version_assignments,
        people=people,
        amion=_amion_data(session, version),
    )


def version_scope(session: Session, version_id: uuid.UUID) -> tuple[str, Period]:
    """The version's hospital group and period."""
    group, start, end = session.execute(
        select(HospitalGroup.name, ScheduleVersion.period_start, ScheduleVersion.period_end)
        .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
        .where(ScheduleVersion.id == version_id)
    ).one()
    return group, Period(start=start, end=end)


def summary_contract(result: CoverageResult) -> CoverageSummary:
    s = result.summary.to_dict()
    return CoverageSummary(
        cells=s["total"],
        by_status=s["by_status"],
        coverage_ratio=s["coverage_ratio"],
        by_hospital=s["by_hospital"],
        by_role=s["by_role"],
        critical_gaps=s["critical_gaps_total"],
        known_cells=s["known_cells"],
        unknown_cells=s["unknown_cells"],
        unknown_months=[UnknownMonth.model_validate(m) for m in s["unknown_months"]],
        text=coverage_sentence(s),
    )


def gap_contract(gap: Gap, candidates: Sequence[GapCandidate] = ()) -> CoverageGap:
    return CoverageGap(
        date=gap.schedule_date,
        window=gap.window,
        worklist=gap.worklist,
        role=gap.role,
        status=gap.status.value,
        severity=gap.severity,
        candidates=list(candidates),
    )


# One statement for all cells: the cells travel as one JSON array of arrays (psycopg escapes a list of
# strings element by element in Python, ten times slower than one JSON text).
_INSERT_CELLS = text(
    """
    INSERT INTO coverage_cells
        (calculation_id, schedule_date, "window", worklist, hospital, role, people, status, mandatory)
    SELECT :calculation_id, (c->>0)::date, c->>1, c->>2, c->>3, c->>4, c->5, c->>6, (c->>7)::boolean
    FROM jsonb_array_elements(CAST(:cells AS jsonb)) AS c
    """
)


# Where each date's cells are: every date of the period in the calculation itself (a full calculation), or the
# recomputed dates there and the others where the previous calculation had them.
_EVERY_DATE_HERE = text(
    """
    INSERT INTO coverage_cell_dates (calculation_id, schedule_date, cells_from)
    SELECT :calculation_id, d::date, :calculation_id
    FROM generate_series(CAST(:start AS timestamp), CAST(:end AS timestamp), interval '1 day') AS d
    """
)
_RECOMPUTED_HERE = text(
    """
    INSERT INTO coverage_cell_dates (calculation_id, schedule_date, cells_from)
    SELECT :calculation_id, schedule_date, cells_from FROM coverage_cell_dates
    WHERE calculation_id = :previous_id AND NOT (schedule_date = ANY(CAST(:recomputed AS date[])))
    UNION ALL
    SELECT :calculation_id, d, :calculation_id FROM unnest(CAST(:recomputed AS date[])) AS d
    """
)


@dataclass(frozen=True)
class PreviousCalculation:
    """The version's latest calculation before a new one, and its fingerprints."""

    id: uuid.UUID
    inputs_key: str | None
    date_keys: dict[str, str] | None


def previous_calculation(session: Session, version_id: uuid.UUID) -> PreviousCalculation | None:
    """The fingerprints of the version's latest calculation, which a new one compares its own with (the operator's
    view of a calculation is `schedcu.queries.coverage.latest_calculation`)."""
    row = session.execute(
        select(CoverageCalculation.id, CoverageCalculation.inputs_key, CoverageCalculation.date_keys)
        .where(CoverageCalculation.version_id == version_id)
        .order_by(CoverageCalculation.created_at.desc(), CoverageCalculation.id)
        .limit(1)
    ).first()
    return None if row is None else PreviousCalculation(row.id, row.inputs_key, row.date_keys)


_STATUSES = {s.value: s for s in CellStatus}
_CELLS = text(
    """
    SELECT schedule_date, "window", worklist, hospital, role, status, mandatory, people::text
    FROM calculation_cells
    WHERE calculation_id = :calculation_id AND (:every OR schedule_date = ANY(CAST(:dates AS date[])))
    ORDER BY schedule_date, id
    """
)
_KEPT = "calculation_id = :calculation_id AND NOT (schedule_date = ANY(CAST(:dates AS date[])))"
_KEPT_COUNTS = text(f"SELECT hospital, role, status, count(*) FROM calculation_cells WHERE {_KEPT} GROUP BY 1, 2, 3")
_KEPT_GAPS = text(
    f'SELECT schedule_date, "window", worklist, role, status, mandatory FROM calculation_cells WHERE {_KEPT} '
    "AND status IN ('UNCOVERED', 'SPECIALTY_MISMATCH') ORDER BY schedule_date, id"
)
_KEPT_NO_DATA = text(
    f"SELECT schedule_date, count(*) FROM calculation_cells WHERE {_KEPT} AND status = 'NO_DATA' GROUP BY 1"
)


def calculation_cells(session: Session, calculation_id: uuid.UUID, dates: Collection[date] | None) -> list[StoredCell]:
    """A calculation's cells as stored, in order: those of `dates`, or every one (None)."""
    found = session.execute(
        _CELLS, {"calculation_id": calculation_id, "every": dates is None, "dates": sorted(dates or ())}
    )
    return [
        StoredCell(day, window, worklist, hospital, role, tuple(json.loads(people)), _STATUSES[status], mandatory)
        for day, window, worklist, hospital, role, status, mandatory, people in found.all()
    ]


def kept_tally(session: Session, calculation_id: uuid.UUID, recomputed: Collection[date]) -> Tally:
    """The summary's tally of a calculation's cells of every date but `recomputed`, counted in the database
    (three statements, whatever the period's length)."""
    where = {"calculation_id": calculation_id, "dates": sorted(recomputed)}
    counts: Counter[tuple[str, str, CellStatus]] = Counter()
    for hospital, role, status, n in session.execute(_KEPT_COUNTS, where):
        counts[(hospital, role, _STATUSES[status])] = n
    gaps = [
        Gap(day, window, worklist, role, _STATUSES[status], severity)
        for day, window, worklist, role, status, mandatory in session.execute(_KEPT_GAPS, where)
        if (severity := gap_severity(_STATUSES[status], mandatory)) is not None
    ]
    no_data = Counter({day: n for day, n in session.execute(_KEPT_NO_DATA, where)})
    return Tally(counts, gaps, no_data)


def stored_cells(inputs: VersionInputs, cells: Sequence[Cell]) -> list[StoredCell]:
    """`cells` as they are stored: the responsible people by name."""
    names: dict[tuple[int, ...], tuple[str, ...]] = {}
    for c in cells:
        if c.people not in names:
            names[c.people] = tuple(inputs.people[p].name for p in c.people)
    return [
        StoredCell(c.schedule_date, c.window, c.worklist, c.hospital, c.role, names[c.people], c.status, c.mandatory)
        for c in cells
    ]


@dataclass(frozen=True)
class Fingerprints:
    inputs_key: str | None
    date_keys: dict[str, str] | None


def store_calculation(
    session: Session,
    calculation_id: uuid.UUID,
    inputs: VersionInputs,
    result: CoverageResult,
    cells: Sequence[StoredCell],
    keys: Fingerprints = Fingerprints(None, None),
    previous_id: uuid.UUID | None = None,
    recomputed: Collection[date] | None = None,
) -> None:
    """The calculation row, its cells and where each date's cells are, in the caller's transaction. `cells`:
    `result`'s cells as stored, or with `recomputed` (dates) only the cells of those dates: the other dates'
    cells are where `previous_id` has them, and are not written again."""
    session.execute(
        insert(CoverageCalculation).values(
            id=calculation_id,
            version_id=inputs.version.id,
            scrape_batch_id=inputs.amion.batch_id,
            summary=result.summary.to_dict(),
            findings=[f.model_dump(mode="json") for f in result.findings],
            inputs_key=keys.inputs_key,
            date_keys=keys.date_keys,
            previous_id=previous_id,
        )
    )
    days: dict[date, str] = {}
    rows = []
    for c in cells:
        if c.schedule_date not in days:
            days[c.schedule_date] = c.schedule_date.isoformat()
        rows.append(
            [days[c.schedule_date], c.window, c.worklist, c.hospital, c.role, list(c.people), c.status, c.mandatory]
        )
    if rows:
        session.execute(_INSERT_CELLS, {"calculation_id": calculation_id, "cells": json.dumps(rows)})
    if recomputed is None:
        version = inputs.version
        where = {"calculation_id": calculation_id, "start": version.period_start, "end": version.period_end}
        session.execute(_EVERY_DATE_HERE, where)
    else:
        assert previous_id is not None
        session.execute(
            _RECOMPUTED_HERE,
            {"calculation_id": calculation_id, "previous_id": previous_id, "recomputed": sorted(recomputed)},
        )
