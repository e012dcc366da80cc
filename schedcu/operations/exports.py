"""A version's data for other tools: its coverage cells as CSV, each person's assignments as iCalendar, its
coverage as an ODS workbook, and who is on call for a worklist at a time (`schedcu export`, `schedcu oncall`);
an approved draft as CSV, iCalendar and ODS (`schedcu draft export`).

Plain functions over a session that return bytes or JSON-able data; a version, person or worklist that does not
exist is a `Mistake` (one line, see schedcu/errors.py)."""

import csv
import hashlib
import io
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schedcu.errors import Mistake, UsageMistake
from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
from schedcu.views.ods_writer import Cell, Styled, write_ods
from services.coverage.gap_lines import GapGroup
from services.coverage.gaps import flat_booked_shifts
from services.coverage.store import VersionInputs, load_inputs
from shared.db import version_state
from shared.db.models import DraftRowRecord, DraftRun, HospitalGroup, Person, ScheduleVersion
from shared.kernel.coverage_rules import Assignment, booked_shifts, window_interval
from shared.kernel.rest import Interval, Shift
from shared.kernel.states import AssignmentSource, CellStatus, DraftRowState, VersionState
from shared.settings import Settings

CSV_COLUMNS = ("schedule_date", "window", "worklist", "hospital", "role", "people", "status", "mandatory")
# worst first: a worklist's square on a date shows its worst window, as the HTML report does
_WORST_FIRST = (
    CellStatus.UNCOVERED,
    CellStatus.SPECIALTY_MISMATCH,
    CellStatus.PARTIAL,
    CellStatus.NO_DATA,
    CellStatus.COVERED,
    CellStatus.FULL,
)
STATUS_COLOURS = {
    CellStatus.UNCOVERED: "#e53935",
    CellStatus.SPECIALTY_MISMATCH: "#ce93d8",
    CellStatus.PARTIAL: "#ffb74d",
    CellStatus.NO_DATA: "#e0e0e0",
    CellStatus.COVERED: "#81c784",
    CellStatus.FULL: "#81c784",
}


def _calculation(session: Session, version_id: uuid.UUID) -> dict[str, Any]:
    calc = latest_calculation(session, version_id)
    if calc is None:
        if session.get(ScheduleVersion, version_id) is None:
            raise Mistake(f"schedule version {version_id} does not exist (see `schedcu versions list`)")
        raise Mistake(f"no coverage calculated for version {version_id} (`schedcu coverage recalc {version_id}`)")
    return calc


# a spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A text that a spreadsheet would read as a formula, prefixed with `'` so that it stays text."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def csv_bytes(rows: Iterable[Sequence[object]]) -> bytes:
    """CSV (UTF-8, CRLF) with every text cell safe to open in a spreadsheet: every CSV export writes through it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue().encode("utf-8")


def cells_csv(session: Session, version_id: uuid.UUID) -> bytes:
    """The cells of the version's latest coverage calculation, one row each; people joined by `; `."""
    calc = _calculation(session, version_id)
    rows = (
        [*(c[k] for k in CSV_COLUMNS[:5]), "; ".join(c["people"]), c["status"], c["mandatory"]]
        for c in cells(session, uuid.UUID(calc["calculation_id"]))
    )
    return csv_bytes([CSV_COLUMNS, *rows])


# --- iCalendar -----------------------------------------------------------------------------------------------


def _inputs(session: Session, version_id: uuid.UUID) -> VersionInputs:
    inputs = load_inputs(session, version_id)
    if inputs is None:
        raise Mistake(f"schedule version {version_id} does not exist (see `schedcu versions list`)")
    return inputs


def _shifts(inputs: VersionInputs, settings: Settings) -> dict[tuple[date, str, int], Shift]:
    """Every assignment with hours, by (date, role, person)."""
    if inputs.flat:
        shifts = flat_booked_shifts(inputs.flat_shifts, inputs.assignments)
    else:
        shifts = booked_shifts(inputs.windows, inputs.assignments, frozenset(settings.holidays), settings.tz)
    return {(s.schedule_date, s.role, s.person_id): s for s in shifts}


def _group_name(session: Session, version: ScheduleVersion) -> str:
    return session.scalars(select(HospitalGroup.name).where(HospitalGroup.id == version.group_id)).one()


def calendars(
    session: Session, version_id: uuid.UUID, settings: Settings, email: str | None = None
) -> dict[str, bytes]:
    """email -> that person's iCalendar: one VEVENT per assignment of the version, its times with the TZID of
    the configured zone (whose VTIMEZONE the calendar carries); an assignment whose role has no hours that date
    is an all-day event. `email`: only that person (a UsageMistake when nobody has it)."""
    inputs = _inputs(session, version_id)
    query = select(Person.id, Person.email, Person.name)
    if email is not None:
        query = query.where(func.lower(Person.email) == email.strip().lower())
    people = {pid: (address, name) for pid, address, name in session.execute(query)}
    if email is not None and not people:
        raise UsageMistake(f"nobody has the email {email!r}: check the roster (`schedcu roster import`)")
    group = _group_name(session, inputs.version)
    shifts = _shifts(inputs, settings)
    events: dict[int, list[Event]] = defaultdict(list)
    for a in inputs.assignments:
        if a.person_id in people:
            shift = shifts.get((a.schedule_date, a.role, a.person_id))
            events[a.person_id].append(_event(version_id, group, a.schedule_date, a.role, a.person_id, shift, settings))
    chosen = people if email is not None else {pid: people[pid] for pid in events}
    return _calendars(chosen, events, group, inputs.version)


def _calendars(
    people: Mapping[int, tuple[str, str]], events: Mapping[int, list[Event]], group: str, version: ScheduleVersion
) -> dict[str, bytes]:
    return {
        address: _calendar(f"{name}, {group}", events.get(pid, []), version)
        for pid, (address, name) in sorted(people.items(), key=lambda item: item[1][0])
    }


def _event(
    version_id: uuid.UUID, group: str, day: date, role: str, person_id: int, shift: Shift | None, settings: Settings
) -> Event:
    event = Event()
    event.add("uid", f"{version_id}-{day.isoformat()}-{role}-{person_id}@schedcu")
    event.add("dtstamp", datetime.now(UTC))
    event.add("summary", f"{role} ({group})")
    if shift is None:
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("description", f"{role} on schedule date {day.isoformat()}: no hours known")
        return event
    event.add("dtstart", shift.start.astimezone(settings.tz))
    event.add("dtend", shift.end.astimezone(settings.tz))
    event.add("description", f"{shift.describe(settings.tz)}, schedule date {day.isoformat()}")
    return event


def _calendar(name: str, events: Sequence[Event], version: ScheduleVersion) -> bytes:
    """With the VTIMEZONE of every zone the events name, its rules for the version's period only."""
    calendar = Calendar()
    calendar.add("prodid", "-//schedcu//assignments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones(version.period_start - timedelta(days=1), version.period_end + timedelta(days=2))
    return bytes(calendar.to_ical())


# --- an approved draft ----------------------------------------------------------------------------------------

DRAFT_CSV_COLUMNS = ("schedule_date", "role", "person", "email", "starts_at", "ends_at")


@dataclass(frozen=True)
class ApprovedDraft:
    """A run's APPROVED rows with their hours (the version's windows, as coverage reads them) and people."""

    run_id: uuid.UUID
    inputs: VersionInputs
    group: str
    rows: list[Assignment]
    people: dict[int, tuple[str, str]]  # id -> (email, name)
    shifts: dict[tuple[date, str, int], Shift]


def approved_draft(session: Session, run_id: uuid.UUID, settings: Settings) -> ApprovedDraft:
    run = session.get(DraftRun, run_id)
    if run is None:
        raise Mistake(f"draft run {run_id} does not exist (see `schedcu draft runs`)")
    rows = [
        Assignment(schedule_date=day, role=role, person_id=pid, source=AssignmentSource.DRAFT)
        for day, role, pid in session.execute(
            select(DraftRowRecord.schedule_date, DraftRowRecord.role, DraftRowRecord.person_id)
            .where(DraftRowRecord.run_id == run_id, DraftRowRecord.state == DraftRowState.APPROVED)
            .order_by(DraftRowRecord.schedule_date, DraftRowRecord.role)
        )
    ]
    if not rows:
        raise Mistake(f"draft run {run_id} has no approved row (`schedcu draft approve {run_id}`)")
    inputs = _inputs(session, run.version_id)
    people = {
        pid: (email, name)
        for pid, email, name in session.execute(
            select(Person.id, Person.email, Person.name).where(Person.id.in_({r.person_id for r in rows}))
        )
    }
    shifts = booked_shifts(inputs.windows, rows, frozenset(settings.holidays), settings.tz)
    return ApprovedDraft(
        run_id, inputs, _group_name(session, inputs.version), rows, people,
        {(s.schedule_date, s.role, s.person_id): s for s in shifts},
    )  # fmt: skip


def draft_csv(draft: ApprovedDraft, settings: Settings) -> bytes:
    """One row per date, role and person; the hours as local ISO times (empty when the role has none that date)."""
    rows = []
    for a in draft.rows:
        email, name = draft.people[a.person_id]
        shift = draft.shifts.get((a.schedule_date, a.role, a.person_id))
        hours = ("", "") if shift is None else (
            shift.start.astimezone(settings.tz).isoformat(), shift.end.astimezone(settings.tz).isoformat()
        )  # fmt: skip
        rows.append([a.schedule_date.isoformat(), a.role, name, email, *hours])
    return csv_bytes([DRAFT_CSV_COLUMNS, *rows])


def draft_calendars(draft: ApprovedDraft, settings: Settings) -> dict[str, bytes]:
    """email -> that person's approved draft rows as iCalendar, as `calendars` writes a version's."""
    events: dict[int, list[Event]] = defaultdict(list)
    for a in draft.rows:
        shift = draft.shifts.get((a.schedule_date, a.role, a.person_id))
        events[a.person_id].append(
            _event(draft.inputs.version.id, draft.group, a.schedule_date, a.role, a.person_id, shift, settings)
        )
    return _calendars(draft.people, events, draft.group, draft.inputs.version)


def draft_workbook(draft: ApprovedDraft) -> bytes:
    """One sheet per month: dates down, the drafted roles across, each square the person approved there."""
    roles = list(dict.fromkeys(sorted(a.role for a in draft.rows)))
    held = {(a.schedule_date, a.role): draft.people[a.person_id][1] for a in draft.rows}
    version = draft.inputs.version
    months: dict[str, list[list[Cell | Styled]]] = {}
    for n in range((version.period_end - version.period_start).days + 1):
        day = version.period_start + timedelta(days=n)
        sheet = months.setdefault(f"{day:%Y-%m}", [["date", *roles]])
        sheet.append([day, *(held.get((day, role), "") for role in roles)])
    return write_ods(list(months.items()), {})


# --- who is on call ------------------------------------------------------------------------------------------


def _cell_hours(
    inputs: VersionInputs, days: Sequence[date], settings: Settings
) -> dict[tuple[date, str, str], Interval]:
    """(schedule date, window, worklist) -> the hours of that cell, for `days`."""
    tz = settings.tz
    if inputs.flat:
        return {
            (s.schedule_date, s.label(tz), s.worklist): (s.starts_at, s.ends_at)
            for s in inputs.flat_shifts
            if s.schedule_date in days
        }
    return {
        (day, window.sheet, r.worklist): window_interval(window, day, tz)
        for window in inputs.windows
        for r in window.responsibilities
        for day in days
    }


def production_version(session: Session, group: str | None, day: date) -> tuple[uuid.UUID, str]:
    """The production version (and its group) whose period holds `day` or the day before; `group` is needed
    when several groups have one."""
    query = version_state.with_lifecycle(
        select(ScheduleVersion.id, HospitalGroup.name).join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
    ).where(
        version_state.state() == VersionState.PRODUCTION.value,
        version_state.not_deleted(),
        ScheduleVersion.period_start <= day,
        ScheduleVersion.period_end >= day - timedelta(days=1),  # the last night reaches into the next morning
    )
    if group is not None:
        query = query.where(HospitalGroup.name == group)
    found = session.execute(query.order_by(HospitalGroup.name)).all()
    where = f" of group {group!r}" if group else ""
    if not found:
        raise Mistake(f"no production version{where} covers {day.isoformat()} (see `schedcu versions list`)")
    if len(found) > 1:
        groups = ", ".join(name for _, name in found)
        raise UsageMistake(f"several groups have a production version for {day.isoformat()} ({groups}): give --group")
    return found[0][0], found[0][1]


def local_instant(at: datetime, tz: ZoneInfo) -> datetime:
    """`at` as an instant: as given with an offset, else read on the wall clock of `tz`. A wall time the clocks
    skip (spring forward) names no instant and one they pass twice (fall back) names two: both are a
    UsageMistake that says so, the second with both instants to choose from."""
    if at.tzinfo is not None:
        return at
    first, second = at.replace(tzinfo=tz, fold=0), at.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    wall = at.isoformat(timespec="minutes")
    moved = first.astimezone(UTC).astimezone(tz)
    if moved.replace(tzinfo=None) != at:
        raise UsageMistake(
            f"{wall} does not exist in {tz.key}: the clocks skip it when they go forward; give a time outside "
            f"the gap, or with its offset (e.g. {moved.isoformat(timespec='minutes')})"
        )
    raise UsageMistake(
        f"{wall} happens twice in {tz.key}, when the clocks go back: give which one, "
        f"{first.isoformat(timespec='minutes')} ({first.tzname()}) or {second.isoformat(timespec='minutes')} "
        f"({second.tzname()})"
    )


def on_call(
    session: Session, worklist: str, at: datetime, settings: Settings, group: str | None = None
) -> dict[str, Any]:
    """Who reads `worklist` at instant `at`, as the latest coverage of the production version says: every
    window of the worklist whose hours hold `at` (its schedule date is `at`'s date or the day before), with
    its role, people and status. `on_call` is empty when no window of the worklist is open then."""
    local = at.astimezone(settings.tz)
    version_id, group_name = production_version(session, group, local.date())
    inputs = _inputs(session, version_id)
    calc = _calculation(session, version_id)
    known = {c["worklist"] for c in cells(session, uuid.UUID(calc["calculation_id"]), local.date())}
    wanted = next((w for w in sorted(known) if w.casefold() == worklist.strip().casefold()), None)
    if wanted is None:
        listed = ", ".join(sorted(known)) or "none"
        raise UsageMistake(f"no worklist {worklist!r} in the production version of {group_name} (worklists: {listed})")
    days = (local.date() - timedelta(days=1), local.date())
    hours = _cell_hours(inputs, days, settings)
    answer = []
    for day in days:
        for c in cells(session, uuid.UUID(calc["calculation_id"]), day):
            interval = hours.get((day, c["window"], c["worklist"]))
            if c["worklist"] == wanted and interval is not None and interval[0] <= at < interval[1]:
                answer.append(
                    {
                        "schedule_date": c["schedule_date"],
                        "window": c["window"],
                        "role": c["role"],
                        "people": c["people"],
                        "status": c["status"],
                        "from": interval[0].astimezone(settings.tz).isoformat(),
                        "to": interval[1].astimezone(settings.tz).isoformat(),
                    }
                )
    return {
        "worklist": wanted,
        "at": local.isoformat(),
        "group": group_name,
        "version_id": str(version_id),
        "calculation_id": calc["calculation_id"],
        "on_call": answer,
    }


# --- ODS workbook --------------------------------------------------------------------------------------------


def _month_sheets(all_cells: Sequence[Mapping[str, Any]], start: date, end: date) -> list[tuple[str, list[list[Any]]]]:
    """Per month: worklists down, dates across, each square the worst status of its windows, coloured."""
    worst: dict[tuple[str, str], CellStatus] = {}
    worklists: dict[str, None] = {}
    for c in all_cells:
        key, status = (c["schedule_date"], c["worklist"]), CellStatus(c["status"])
        worklists[c["worklist"]] = None
        if key not in worst or _WORST_FIRST.index(status) < _WORST_FIRST.index(worst[key]):
            worst[key] = status
    months: dict[str, list[date]] = defaultdict(list)
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        months[f"{day:%Y-%m}"].append(day)
    sheets = []
    for month, days in months.items():
        rows: list[list[Cell | Styled]] = [["worklist", *days]]
        for worklist in worklists:
            row: list[Cell | Styled] = [worklist]
            for day in days:
                status = worst.get((day.isoformat(), worklist))
                row.append("" if status is None else Styled(str(status), str(status)))
            rows.append(row)
        sheets.append((month, rows))
    return sheets


def _gap_rows(groups: Sequence[GapGroup], settings: Settings) -> list[list[Any]]:
    header = ["date", "role", "hours", "uncovered", "mismatched", "gaps", "candidate 1", "candidate 2", "candidate 3"]
    rows: list[list[Any]] = [header]
    for g in groups:
        best = [g.candidate_text(c) for c in g.candidates[:3]]
        rows.append(
            [
                g.schedule_date,
                g.role,
                g.hours(settings.tz),
                ", ".join(g.uncovered),
                ", ".join(g.mismatched),
                g.gaps,
                *best,
                *[""] * (3 - len(best)),
            ]
        )
    return rows


def coverage_workbook(session: Session, version_id: uuid.UUID, settings: Settings) -> bytes:
    """The version's latest coverage as ODS: one sheet per month (worklists x dates, each square named and
    coloured by its worst status), then a sheet `Gaps`: the critical gaps by date, role and hours with the
    three best candidates."""
    calc = _calculation(session, version_id)
    all_cells = cells(session, uuid.UUID(calc["calculation_id"]))
    groups = critical_gap_groups(session, version_id, calc["summary"], settings)
    start, end = date.fromisoformat(calc["period"]["start"]), date.fromisoformat(calc["period"]["end"])
    sheets = [*_month_sheets(all_cells, start, end), ("Gaps", _gap_rows(groups, settings))]
    return write_ods(sheets, {str(status): colour for status, colour in STATUS_COLOURS.items()})


def calendar_name(email: str) -> str:
    """`EMAIL.ics` as a file name (see `calendar_path`)."""
    name = re.sub(r"[^A-Za-z0-9@._+-]", "_", email).lstrip(".")[:200]
    if name != email:
        name = f"{name}-{hashlib.sha256(email.encode()).hexdigest()[:12]}"
    return f"{name}.ics"


def calendar_path(folder: Path, email: str) -> Path:
    """`FOLDER/EMAIL.ics`, always inside FOLDER: a character other than a letter, digit, `@`, `.`, `_`, `+` or
    `-` becomes `_`, a leading dot goes, and a name changed so ends in a hash of the email (two emails never
    share a file). A path that still resolves outside FOLDER (a symbolic link there) is refused."""
    root = folder.resolve()
    path = (root / calendar_name(email)).resolve()
    if path.parent != root:
        raise UsageMistake(f"the calendar of {email!r} would be written outside {folder} ({path}): nothing written")
    return path
