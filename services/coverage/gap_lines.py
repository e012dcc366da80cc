"""Gaps the way a scheduler fixes them: one line per date and role as written, naming the worklists it leaves
uncovered (and those whose reader may not read them), with the people who could fill it. Pure.

A missing Mid3 person leaves every Mid3 worklist of every Mid3 window that night: one line, not a row per
cell. One person on the role as written fills the whole line, so the line spans the role's windows that date
(from the earliest start to the latest end). A line's candidates are the people who are candidates for at
least one of its gaps, best first: those who fill the most of its gaps, then by fairness as
`services/coverage/candidates.py` orders them. `plan` is what a proposal puts forward for a line: one person,
the gaps they fill and the gaps that stay open, with why."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.coverage.candidates import Candidate, GapCandidates, LeftOut
from shared.kernel.coverage_rules import Person
from shared.kernel.states import CellStatus

GapKey = tuple[str, str, str, str]  # (schedule date ISO, window, worklist, role), as the summary names a gap


@dataclass(frozen=True)
class GroupCandidate:
    person: Person
    fills: int  # how many of the group's gaps they are a candidate for
    nights: int
    weekends: int
    holidays: int


@dataclass(frozen=True)
class OpenCell:
    """A gap of a line that its proposal leaves open, and why."""

    window: str
    worklist: str
    status: CellStatus
    reason: str


@dataclass(frozen=True)
class LinePlan:
    """One person on a line's role: the gaps (window, worklist, status) they fill, those that stay open."""

    person: Person
    fills: tuple[tuple[str, str, CellStatus], ...]
    stays_open: tuple[OpenCell, ...]


@dataclass(frozen=True)
class GapGroup:
    schedule_date: date
    role: str  # the cells' responsible role, or the role as written when they name several
    assign_role: str  # the role as written a candidate would be assigned to
    start: datetime
    end: datetime
    windows: tuple[str, ...]
    uncovered: tuple[str, ...]  # worklists nobody on the role covers, by their window's hours, then template order
    mismatched: tuple[str, ...]  # worklists whose people on the role may not read them
    gaps: int  # cells
    candidates: tuple[GroupCandidate, ...]  # best first
    members: tuple[GapCandidates, ...]  # the line's gaps, by start, then in template order

    def hours(self, tz: ZoneInfo) -> str:
        return f"{self.start.astimezone(tz):%H:%M}-{self.end.astimezone(tz):%H:%M}"

    def worklists_text(self) -> str:
        parts = []
        if self.uncovered:
            parts.append(f"uncovered: {', '.join(self.uncovered)}")
        if self.mismatched:
            parts.append(f"mismatched: {', '.join(self.mismatched)}")
        return "; ".join(parts)

    def text(self, tz: ZoneInfo) -> str:
        """E.g. `2026-03-14 Mid3 17:00-01:00 uncovered: CPMC US, Allen US`."""
        return f"{self.schedule_date.isoformat()} {self.role} {self.hours(tz)} {self.worklists_text()}"

    def candidate_text(self, c: GroupCandidate) -> str:
        fills = "all its gaps" if c.fills == self.gaps else f"{c.fills} of its {self.gaps} gaps"
        return (
            f"{c.person.name}: fills {fills}; {c.nights} nights, {c.weekends} weekend nights, "
            f"{c.holidays} holiday nights in the period"
        )

    def to_dict(self, tz: ZoneInfo, top: int | None = None) -> dict[str, Any]:
        return {
            "date": self.schedule_date.isoformat(),
            "role": self.role,
            "assign_role": self.assign_role,
            "start": self.start.astimezone(tz).isoformat(),
            "end": self.end.astimezone(tz).isoformat(),
            "windows": list(self.windows),
            "uncovered": list(self.uncovered),
            "mismatched": list(self.mismatched),
            "gaps": self.gaps,
            "candidates": [
                {
                    "person_id": c.person.id,
                    "name": c.person.name,
                    "fills": c.fills,
                    "nights": c.nights,
                    "weekends": c.weekends,
                    "holidays": c.holidays,
                }
                for c in self.candidates[:top]
            ],
        }

    def plan(self, person_id: int | None = None) -> LinePlan | None:
        """What putting the person forward does (None: the line's best candidate); None when they are no
        candidate for any of the line's gaps."""
        chosen = next((c for c in self.candidates if person_id in (None, c.person.id)), None)
        if chosen is None:
            return None
        person = chosen.person
        fills: list[tuple[str, str, CellStatus]] = []
        stays_open: list[OpenCell] = []
        for g in self.members:
            slot = g.slot
            if any(c.person.id == person.id for c in g.candidates):
                fills.append((slot.window, slot.worklist, slot.status))
                continue
            why = _reasons(person, g.left_out)
            others = sum(c.person.id != person.id for c in g.candidates)
            if others:
                why += f"; {others} other candidate{'' if others == 1 else 's'} could, none of whom fills all the line"
            stays_open.append(OpenCell(slot.window, slot.worklist, slot.status, f"{person.name}: {why}"))
        return LinePlan(person, tuple(fills), tuple(stays_open))


def _reasons(person: Person, left_out: Sequence[LeftOut]) -> str:
    found = next((o.reasons for o in left_out if o.person.id == person.id), ("not an active person",))
    return "; ".join(found)


def lines_text(n: int) -> str:
    """`1 line`, `3 lines`: how many groups."""
    return f"{n} line{'' if n == 1 else 's'}"


def critical_keys(summary: Mapping[str, Any]) -> frozenset[GapKey]:
    """The critical gaps a stored calculation summary lists (optional windows left uncovered are not)."""
    return frozenset(
        (day, g["window"], g["worklist"], g["role"])
        for day, gaps in summary["critical_gaps_by_date"].items()
        for g in gaps
    )


def _key(g: GapCandidates) -> GapKey:
    s = g.slot
    return (s.schedule_date.isoformat(), s.window, s.worklist, s.role)


def _start(g: GapCandidates) -> datetime:
    return g.slot.hours[0][0]


def _end(g: GapCandidates) -> datetime:
    return g.slot.hours[-1][1]


def group_gaps(gaps: Sequence[GapCandidates], only: Collection[GapKey] | None = None) -> list[GapGroup]:
    """The lines of `gaps` (those in `only`, when given), by date, then start, then role."""
    by_role: dict[tuple[date, str], list[GapCandidates]] = {}
    for g in gaps:
        if only is None or _key(g) in only:
            by_role.setdefault((g.slot.schedule_date, g.assign_role), []).append(g)
    groups = [_group(sorted(members, key=_start)) for members in by_role.values()]
    groups.sort(key=lambda x: (x.schedule_date, x.start, x.role))
    return groups


def _group(members: Sequence[GapCandidates]) -> GapGroup:
    """`members`: by start, then in calculation (template) order."""
    first = members[0]
    fills: dict[int, int] = {}
    fairness: dict[int, Candidate] = {}
    for g in members:
        for c in g.candidates:
            fills[c.person.id] = fills.get(c.person.id, 0) + 1
            fairness[c.person.id] = c
    candidates = sorted(
        (GroupCandidate(c.person, fills[pid], c.nights, c.weekends, c.holidays) for pid, c in fairness.items()),
        key=lambda c: (-c.fills, c.nights, c.weekends, c.holidays, c.person.name.casefold(), c.person.id),
    )

    def worklists(status: CellStatus) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.slot.worklist for g in members if g.slot.status is status))

    roles = {g.slot.role for g in members}
    return GapGroup(
        first.slot.schedule_date,
        first.slot.role if len(roles) == 1 else first.assign_role,
        first.assign_role,
        min(_start(g) for g in members),
        max(_end(g) for g in members),
        tuple(dict.fromkeys(g.slot.window for g in members)),
        worklists(CellStatus.UNCOVERED),
        worklists(CellStatus.SPECIALTY_MISMATCH),
        len(members),
        tuple(candidates),
        tuple(members),
    )
