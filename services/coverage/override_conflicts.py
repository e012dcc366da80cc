"""`OVERRIDE_CONFLICTS_WITH_AMION`: an approved proposal's override that Amion now contradicts. Pure.

An approved proposal added an `OVERRIDE` assignment: person P on role R on date D. Amion stays the source of
truth, so every calculation compares each such override that still exists with the version's current Amion
assignments. It conflicts when Amion
- assigns R on D to someone who is neither P nor one of the people Amion had there when the proposal was
  approved (Amion filled the role itself, differently), or
- assigns P to another role at hours overlapping R's that date (the hours P was found free at when proposed;
  touching ends do not overlap): Amion booked P elsewhere then.
Amion assigning P to R on D too is no conflict (Amion now agrees). The finding (WARNING, located at D) names
the override and the Amion assignment; the override stays and counts for coverage until an operator removes
it (`schedcu assignments remove`)."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from shared.kernel.coverage_rules import Assignment
from shared.kernel.findings import OVERRIDE_CONFLICTS_WITH_AMION, Finding
from shared.kernel.rest import Shift


@dataclass(frozen=True)
class Override:
    proposal_id: uuid.UUID
    schedule_date: date
    role: str
    person_id: int
    amion_at_approval: frozenset[int]
    shift: Shift | None  # the person on the role at its hours that date


@dataclass(frozen=True)
class AmionBooking:
    assignment: Assignment
    shift: Shift | None  # its hours: Amion's, else its role's template hours


def _overlaps(a: Shift, b: Shift) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.hours for s2, e2 in b.hours)


def _hours(shift: Shift | None, tz: ZoneInfo) -> str:
    if shift is None:
        return ""
    return " " + ", ".join(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}" for s, e in shift.hours)


def override_conflicts(
    overrides: Sequence[Override], amion: Sequence[AmionBooking], names: Mapping[int, str], tz: ZoneInfo
) -> list[Finding]:
    """One finding per (override, contradicting Amion assignment), in override order."""
    findings: list[Finding] = []
    for o in overrides:
        name = names.get(o.person_id, f"person {o.person_id}")
        day = o.schedule_date.isoformat()
        what = f"The approved override of proposal {o.proposal_id} ({name} on {o.role} on {day}{_hours(o.shift, tz)})"
        for booking in amion:
            a = booking.assignment
            if a.role == o.role and a.schedule_date == o.schedule_date:
                if a.person_id == o.person_id or a.person_id in o.amion_at_approval:
                    continue
                other = names.get(a.person_id, f"person {a.person_id}")
                text = f"{what} conflicts with Amion, which now assigns {other} to {o.role} on {day}."
            elif (
                a.person_id == o.person_id
                and o.shift is not None
                and booking.shift is not None
                and _overlaps(o.shift, booking.shift)
            ):
                text = (
                    f"{what} conflicts with Amion, which now assigns {name} to {a.role} on "
                    f"{a.schedule_date.isoformat()}{_hours(booking.shift, tz)} at overlapping hours."
                )
            else:
                continue
            findings.append(OVERRIDE_CONFLICTS_WITH_AMION(text, day))
    return findings
