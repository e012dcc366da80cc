"""The problem builder: a version's draft `Problem` from PostgreSQL.

It reads the version's template windows (services/ods_importer's tables), its kept assignments as coverage counts
them (shared/db/assignments.py), the roster (`people`), this service's
inputs (services/drafting/inputs.py) and the history: the group's PRODUCTION versions whose period ends in the
`history_days` before this one starts, each worked out as a problem of its own, whose kept assignments are the
nights held and whose role-dates earn the shares (domain §6).

The flat layout is not drafted yet: `DraftRefused` says so.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.drafting.facts import Facts
from services.drafting.model import (
    SHARE_UNIT,
    Category,
    History,
    Kept,
    Limits,
    Problem,
    Reader,
    Request,
    Rotation,
    RotationException,
    TimeOff,
)
from services.drafting.template import kept_night_ok, night_kind, role_dates
from shared.db import version_state
from shared.db.assignments import effective
from shared.db.models import (
    DraftException,
    DraftGroup,
    DraftPerson,
    DraftRequest,
    DraftRoleHours,
    DraftRotation,
    DraftTimeOff,
    Person,
    ScheduleVersion,
)
from shared.db.templates import template_windows
from shared.kernel.schedule_days import dates_between
from shared.kernel.states import Layout, Specialty, VersionState

DEFAULT_HISTORY_DAYS = 365


class DraftRefused(Exception):
    """The version cannot be drafted; the text says why."""


@dataclass(frozen=True)
class Options:
    tz: ZoneInfo
    holidays: frozenset[date] = frozenset()
    rest: timedelta = timedelta(hours=10)
    history_days: int = DEFAULT_HISTORY_DAYS


def kept_of(session: Session, version_id: uuid.UUID) -> list[Kept]:
    """The version's assignments as coverage counts them, Amion's with their own hours where Amion gives them."""
    rows = effective(version_id)
    found = session.execute(
        select(rows.c.schedule_date, rows.c.role, rows.c.person_id, rows.c.starts_at, rows.c.ends_at).order_by(
            rows.c.kind, rows.c.id
        )
    )
    return [
        Kept(day, role, pid, ((starts, ends),) if starts is not None and ends is not None else ())
        for day, role, pid, starts, ends in found
    ]


def _limits(row: DraftGroup | DraftPerson | None) -> Limits:
    if row is None:
        return Limits()
    return Limits(row.nights, row.consecutive, row.free_between, row.weekends)


def _readers(session: Session, group_id: int, holding: Collection[int]) -> tuple[list[Reader], dict[int, Limits]]:
    """The active roster and whoever holds a kept assignment, with the group's settings for each."""
    settings = {p.person_id: p for p in session.scalars(select(DraftPerson).where(DraftPerson.group_id == group_id))}
    people = session.execute(
        select(Person.id, Person.name, Person.specialty)
        .where(Person.active | Person.id.in_(list(holding)))
        .order_by(Person.id)
    )
    readers = []
    for pid, name, specialty in people:
        s = settings.get(pid)
        readers.append(
            Reader(
                pid,
                name,
                Specialty(specialty),
                s.fte if s else 1.0,
                s.active_from if s else None,
                s.active_to if s else None,
            )
        )
    return readers, {pid: _limits(s) for pid, s in settings.items()}


@dataclass(frozen=True)
class GroupInputs:
    """A group's inputs over a period."""

    rotations: tuple[Rotation, ...]
    exceptions: tuple[RotationException, ...]
    time_off: tuple[TimeOff, ...]
    requests: tuple[Request, ...]
    limits: Limits
    hours: Mapping[str, tuple[time, time]]


def group_inputs(session: Session, group_id: int, start: date, end: date, with_wishes: bool = True) -> GroupInputs:
    """`with_wishes`: rotations, exceptions and requests too (history needs only time off and hours)."""
    off: dict[int, set[date]] = defaultdict(set)
    for pid, first, last in session.execute(
        select(DraftTimeOff.person_id, DraftTimeOff.first_date, DraftTimeOff.last_date).where(
            DraftTimeOff.first_date <= end, DraftTimeOff.last_date >= start
        )
    ):
        off[pid].update(dates_between(max(first, start), min(last, end)))
    hours = {
        r.role: (r.start_time, r.end_time)
        for r in session.scalars(select(DraftRoleHours).where(DraftRoleHours.group_id == group_id))
    }
    time_off = tuple(TimeOff(pid, frozenset(days)) for pid, days in sorted(off.items()))
    if not with_wishes:
        return GroupInputs((), (), time_off, (), Limits(), hours)
    rotations = tuple(
        Rotation(r.weekday, r.role, r.person_id, max(r.first_date, start), min(r.last_date, end))
        for r in session.scalars(
            select(DraftRotation)
            .where(
                DraftRotation.group_id == group_id, DraftRotation.first_date <= end, DraftRotation.last_date >= start
            )
            .order_by(DraftRotation.id)
        )
    )
    exceptions = tuple(
        RotationException(e.schedule_date, e.role, e.person_id)
        for e in session.scalars(
            select(DraftException)
            .where(DraftException.group_id == group_id, DraftException.schedule_date.between(start, end))
            .order_by(DraftException.id)
        )
    )
    requests = tuple(
        Request(r.person_id, r.wants_on, r.weight, r.schedule_date, r.weekday, r.role)
        for r in session.scalars(
            select(DraftRequest)
            .where(
                DraftRequest.group_id == group_id,
                DraftRequest.schedule_date.is_(None) | DraftRequest.schedule_date.between(start, end),
            )
            .order_by(DraftRequest.id)
        )
    )
    limits = _limits(session.get(DraftGroup, group_id))
    return GroupInputs(rotations, exceptions, time_off, requests, limits, hours)


def _problem(
    session: Session, version: ScheduleVersion, options: Options, with_wishes: bool, history: Mapping[int, History]
) -> Problem:
    windows = template_windows(session, version.id)
    start, end = version.period_start, version.period_end
    inputs = group_inputs(session, version.group_id, start, end, with_wishes)
    kept = kept_of(session, version.id)
    readers, person_limits = _readers(session, version.group_id, {k.person_id for k in kept})
    return Problem(
        start=start,
        end=end,
        role_dates=role_dates(windows, start, end, options.holidays, options.tz, inputs.hours),
        readers=tuple(readers),
        night_ok=kept_night_ok(tuple(windows), options.holidays, options.tz),
        tz=options.tz,
        kept=tuple(kept),
        rotations=inputs.rotations,
        exceptions=inputs.exceptions,
        time_off=inputs.time_off,
        requests=inputs.requests,
        limits=inputs.limits,
        person_limits=person_limits,
        rest=options.rest,
        holidays=options.holidays,
        history=history,
        night_kind=night_kind(options.holidays),
    )


def held_and_earned(problem: Problem) -> dict[int, History]:
    """Per person: the nights their kept assignments hold on the problem's role-dates and the shares those
    role-dates earn them, per category."""
    facts = Facts(problem)
    held: dict[int, dict[Category, set[date]]] = defaultdict(lambda: defaultdict(set))
    for slot, rows in facts.kept_on.items():
        day = facts.slots[slot].day
        for k in rows:
            for category in facts.categories(day):
                held[k.person_id][category].add(day)
    people = set(held) | set(facts.shares)
    return {
        pid: History(
            held={c: len(held[pid][c]) for c in Category},
            share={c: facts.shares.get(pid, {}).get(c, 0) / SHARE_UNIT for c in Category},
        )
        for pid in people
    }


def history_of(session: Session, version: ScheduleVersion, options: Options) -> dict[int, History]:
    """The group's PRODUCTION versions (not deleted) whose period ends in the `history_days` before this one
    starts, summed."""
    earliest = version.period_start - timedelta(days=options.history_days)
    earlier = session.scalars(
        version_state.with_lifecycle(select(ScheduleVersion))
        .where(
            ScheduleVersion.group_id == version.group_id,
            ScheduleVersion.id != version.id,
            ScheduleVersion.layout == Layout.TEMPLATE.value,
            ScheduleVersion.period_end < version.period_start,
            ScheduleVersion.period_end >= earliest,
            version_state.state() == VersionState.PRODUCTION.value,
            version_state.not_deleted(),
        )
        .order_by(ScheduleVersion.period_start)
    ).all()
    held: dict[int, dict[Category, int]] = defaultdict(lambda: defaultdict(int))
    share: dict[int, dict[Category, float]] = defaultdict(lambda: defaultdict(float))
    for past in earlier:
        for pid, h in held_and_earned(_problem(session, past, options, False, {})).items():
            for c in Category:
                held[pid][c] += h.held.get(c, 0)
                share[pid][c] += h.share.get(c, 0.0)
    return {pid: History(dict(held[pid]), dict(share[pid])) for pid in set(held) | set(share)}


def load_problem(session: Session, version_id: uuid.UUID, options: Options) -> Problem:
    version = session.get(ScheduleVersion, version_id)
    if version is None:
        raise DraftRefused(f"Schedule version {version_id} does not exist.")
    if version.layout != Layout.TEMPLATE:
        raise DraftRefused(f"Version {version_id} has the flat layout, which drafting does not support yet.")
    return _problem(session, version, options, True, history_of(session, version, options))
