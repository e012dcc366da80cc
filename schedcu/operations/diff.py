"""Comparing two schedule versions: shift instances, assignments (Amion's with the manual corrections) and
coverage cells added, removed, changed."""

import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import assignments as version_assignments
from shared.db.models import CoverageCalculation, Person, ShiftInstance, TemplateWindow, calculation_cells


@dataclass(frozen=True)
class Changes:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed)}


Keyed = Mapping[Hashable, dict[str, Any]]


def compare(a: Keyed, b: Keyed) -> Changes:
    """What is in b and not a (added), in a and not b (removed), in both with other values (changed)."""
    changes = Changes()
    for key in sorted(a.keys() | b.keys(), key=str):
        if key not in a:
            changes.added.append(b[key])
        elif key not in b:
            changes.removed.append(a[key])
        elif a[key] != b[key]:
            changes.changed.append({"from": a[key], "to": b[key]})
    return changes


def shift_instances(session: Session, version_id: uuid.UUID) -> Keyed:
    rows = session.execute(
        select(
            ShiftInstance.schedule_date, TemplateWindow.sheet, ShiftInstance.hospital,
            ShiftInstance.study_type, ShiftInstance.role, ShiftInstance.starts_at, ShiftInstance.ends_at,
            ShiftInstance.desired_coverage, ShiftInstance.mandatory, ShiftInstance.specialty_constraint,
        )
        .outerjoin(TemplateWindow, TemplateWindow.id == ShiftInstance.window_id)
        .where(ShiftInstance.version_id == version_id)
    ).all()  # fmt: skip
    return {
        (r.schedule_date, r.sheet or f"{r.hospital} {r.study_type}", r.role): {
            "date": r.schedule_date.isoformat(), "window": r.sheet or f"{r.hospital} {r.study_type}", "role": r.role,
            "starts_at": r.starts_at.isoformat(), "ends_at": r.ends_at.isoformat(),
            "desired_coverage": r.desired_coverage, "mandatory": r.mandatory,
            "specialty_constraint": r.specialty_constraint,
        }
        for r in rows
    }  # fmt: skip


def assignments(session: Session, version_id: uuid.UUID) -> Keyed:
    effective = version_assignments.effective(version_id)
    rows = session.execute(
        select(effective.c.schedule_date, effective.c.role, Person.email, Person.name, effective.c.source).join(
            Person, Person.id == effective.c.person_id
        )
    ).all()
    return {
        (r.schedule_date, r.role, r.email): {
            "date": r.schedule_date.isoformat(), "role": r.role, "person": r.name, "source": r.source,
        }
        for r in rows
    }  # fmt: skip


def coverage_cells(session: Session, version_id: uuid.UUID) -> Keyed:
    latest = session.scalars(
        select(CoverageCalculation.id)
        .where(CoverageCalculation.version_id == version_id)
        .order_by(CoverageCalculation.created_at.desc())
        .limit(1)
    ).first()
    if latest is None:
        return {}
    cells = calculation_cells.c
    rows = session.execute(
        select(cells.schedule_date, cells.window, cells.worklist, cells.role, cells.people, cells.status)
        .where(cells.calculation_id == latest)
    ).all()  # fmt: skip
    return {
        (r.schedule_date, r.window, r.worklist): {
            "date": r.schedule_date.isoformat(), "window": r.window, "worklist": r.worklist, "role": r.role,
            "people": sorted(r.people), "status": r.status,
        }
        for r in rows
    }  # fmt: skip


@dataclass(frozen=True)
class Table:
    """One kind of item's changes as rows of text under `columns`; a changed value reads `old → new`."""

    title: str
    columns: list[str]
    rows: dict[str, list[list[str]]]  # "added", "removed", "changed" -> rows


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def tables(changes: Mapping[str, Changes]) -> list[Table]:
    """`diff`'s changes as tables, one per kind of item."""
    found = []
    for what, c in changes.items():
        columns = list(dict.fromkeys(k for item in [*c.added, *c.removed, *(x["to"] for x in c.changed)] for k in item))

        def row(item: Mapping[str, Any], columns: list[str] = columns) -> list[str]:
            return [_text(item.get(k)) for k in columns]

        changed = [
            [
                _text(x["to"].get(k))
                if x["from"].get(k) == x["to"].get(k)
                else f"{_text(x['from'].get(k))} → {_text(x['to'].get(k))}"
                for k in columns
            ]
            for x in c.changed
        ]
        rows = {"added": [row(x) for x in c.added], "removed": [row(x) for x in c.removed], "changed": changed}
        found.append(Table(what.replace("_", " "), [k.replace("_", " ") for k in columns], rows))
    return found


def diff(session: Session, a: uuid.UUID, b: uuid.UUID) -> dict[str, Changes]:
    return {
        "shift_instances": compare(shift_instances(session, a), shift_instances(session, b)),
        "assignments": compare(assignments(session, a), assignments(session, b)),
        "coverage_cells": compare(coverage_cells(session, a), coverage_cells(session, b)),
    }
