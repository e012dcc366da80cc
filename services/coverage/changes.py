"""What changed between two coverage calculations of a version: the cells whose status or people differ, and
the gaps opened and closed. Pure.

Cells are compared as stored: keyed by (date, window, worklist), with the responsible people by name. A cell
in one calculation only (the night's Body/Neuro variant switched sheets) is a change with no old or no new
side. A gap is a cell the summary counts as a critical gap (shared/kernel/coverage_rules.py `gap_severity`);
opened and closed are compared on (date, window, worklist, role, status), so a gap whose status changed
(`UNCOVERED` to `SPECIALTY_MISMATCH`) closes as the one and opens as the other.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from shared.kernel.coverage_rules import Gap, gap_severity
from shared.kernel.states import CellStatus

COVERING = frozenset({CellStatus.COVERED, CellStatus.FULL})


@dataclass(frozen=True, slots=True)
class StoredCell:
    schedule_date: date
    window: str
    worklist: str
    hospital: str
    role: str
    people: tuple[str, ...]
    status: CellStatus
    mandatory: bool

    @property
    def key(self) -> tuple[date, str, str]:
        return self.schedule_date, self.window, self.worklist


@dataclass(frozen=True)
class CellChange:
    schedule_date: date
    window: str
    worklist: str
    role: str
    old: StoredCell | None
    new: StoredCell | None


@dataclass(frozen=True)
class Changes:
    cells: tuple[CellChange, ...]
    opened: tuple[Gap, ...]
    closed: tuple[Gap, ...]

    def __bool__(self) -> bool:
        return bool(self.cells)


def gaps_of(cells: Sequence[StoredCell]) -> list[Gap]:
    return [
        Gap(c.schedule_date, c.window, c.worklist, c.role, c.status, severity)
        for c in cells
        if c.status not in COVERING and (severity := gap_severity(c.status, c.mandatory)) is not None
    ]


def _gap_key(gap: Gap) -> tuple[date, str, str, str, CellStatus]:
    return gap.schedule_date, gap.window, gap.worklist, gap.role, gap.status


def changes(old: Sequence[StoredCell], new: Sequence[StoredCell]) -> Changes:
    """The changes from `old` to `new` (each one calculation's cells, or the cells of the same dates of both),
    in date order, then in the new calculation's cell order (cells gone last within their date)."""
    before = {c.key: c for c in old}
    after = {c.key: c for c in new}
    found: list[CellChange] = []
    for cell in new:
        was = before.get(cell.key)
        if was is None or (was.status, was.people, was.role) != (cell.status, cell.people, cell.role):
            found.append(CellChange(cell.schedule_date, cell.window, cell.worklist, cell.role, was, cell))
    found += [CellChange(c.schedule_date, c.window, c.worklist, c.role, c, None) for c in old if c.key not in after]
    found.sort(key=lambda change: change.schedule_date)
    old_gaps, new_gaps = gaps_of(old), gaps_of(new)
    old_keys, new_keys = {_gap_key(g) for g in old_gaps}, {_gap_key(g) for g in new_gaps}
    opened = tuple(sorted((g for g in new_gaps if _gap_key(g) not in old_keys), key=lambda g: g.schedule_date))
    closed = tuple(sorted((g for g in old_gaps if _gap_key(g) not in new_keys), key=lambda g: g.schedule_date))
    return Changes(tuple(found), opened, closed)
