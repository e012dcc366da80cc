"""Map Amion rows to roles (per-group label patterns) and to people (roster aliases). Pure."""

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from shared.kernel.findings import (
    AMBIGUOUS_PERSON,
    INVALID_ROLE_MAPPING,
    UNKNOWN_PEOPLE,
    UNMAPPED_LABEL,
    Finding,
)
from shared.kernel.people import PersonRef, fold_name
from shared.kernel.roles import normalize_role

from .rows import AmionRow, amion_interval, split_label


@dataclass(frozen=True)
class MatchedAssignment:
    schedule_date: date
    role: str
    person_id: int
    label: str  # the whole label as Amion prints it
    name: str
    start: time | None  # local wall-clock, as Amion gives it; None when Amion gives no hours
    end: time | None
    note: str | None = None

    def interval(self, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        """Start and end instants in the group's zone `tz` (`rows.amion_interval`), or None without hours."""
        if self.start is None or self.end is None:
            return None
        return amion_interval(self.schedule_date, self.start, self.end, tz)


def _compile_mapping(mapping: Sequence[tuple[str, str]]) -> tuple[list[tuple[re.Pattern[str], str]], list[Finding]]:
    compiled: list[tuple[re.Pattern[str], str]] = []
    findings: list[Finding] = []
    for pattern, role in mapping:
        canonical = normalize_role(role)
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            why = f"is not a valid regular expression ({exc})"
        else:
            if canonical is not None:
                compiled.append((regex, canonical))
                continue
            why = f"maps to {role!r}, which is not a known role"
        findings.append(INVALID_ROLE_MAPPING(f"Amion label pattern {pattern!r} {why}; it is ignored", pattern))
    return compiled, findings


def map_roles(
    rows: Iterable[AmionRow], mapping: Sequence[tuple[str, str]]
) -> tuple[list[tuple[AmionRow, str]], list[Finding]]:
    """Role of each row: first (regex, role) pair whose regex is found in the label (case-insensitive).

    With an empty mapping the label itself, hours at its end aside (`ON1 10p-8a`), must name a role
    (`normalize_role`). Rows whose label maps to no role are dropped and reported once per label (its whole
    text), with their count.
    """
    compiled, findings = _compile_mapping(mapping)
    mapped: list[tuple[AmionRow, str]] = []
    unmapped: Counter[str] = Counter()
    for row in rows:
        if mapping:
            role = next((r for regex, r in compiled if regex.search(row.label)), None)
        else:
            role = normalize_role(split_label(row.label)[0])
        if role is None:
            unmapped[row.label] += 1
        else:
            mapped.append((row, role))
    for label, count in unmapped.items():
        findings.append(
            UNMAPPED_LABEL(f"Amion label {label!r} maps to no role; {count} row{'s' * (count != 1)} skipped", label)
        )
    return mapped, findings


def match_people(
    rows_with_roles: Iterable[tuple[AmionRow, str]], people: Iterable[PersonRef]
) -> tuple[list[MatchedAssignment], list[Finding]]:
    """Person of each row by exact name or alias (case and spacing folded).

    Unknown names are reported together in one UNKNOWN_PEOPLE warning; a name that folds to two people is
    reported as AMBIGUOUS_PERSON. Rows of both are skipped.
    """
    by_key: dict[str, set[int]] = {}
    for person in people:
        for written in (person.name, *person.aliases):
            by_key.setdefault(fold_name(written), set()).add(person.id)

    matched: list[MatchedAssignment] = []
    unknown: dict[str, str] = {}
    ambiguous: dict[str, str] = {}
    for row, role in rows_with_roles:
        key = fold_name(row.name)
        ids = by_key.get(key, set())
        if not ids:
            unknown.setdefault(key, row.name)
            continue
        if len(ids) > 1:
            ambiguous.setdefault(key, row.name)
            continue
        matched.append(
            MatchedAssignment(
                schedule_date=row.schedule_date,
                role=role,
                person_id=next(iter(ids)),
                label=row.label,
                name=row.name,
                start=row.start,
                end=row.end,
                note=row.note,
            )
        )

    findings: list[Finding] = []
    if unknown:
        findings.append(UNKNOWN_PEOPLE("Unknown people in Amion: " + ", ".join(unknown.values())))
    for name in ambiguous.values():
        findings.append(
            AMBIGUOUS_PERSON(
                f"Amion name {name!r} matches more than one person in the roster; its rows are skipped", name
            )
        )
    return matched, findings
