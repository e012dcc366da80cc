"""The drafting inputs in PostgreSQL (this service's tables): a group's limits and role hours, per person FTE,
active dates and limits, standing rotations, one-time exceptions, time off and weighted requests.

Every change is validated first (a refusal is an `InputError` whose text is one line for the operator) and
writes one `audit_log` row (entity `draft_input`) in the caller's transaction: the action, what it was and
what it is now, and the reason. People are named by email, or by exact name or alias (case and spacing
folded); a group by its name.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared import audit
from shared.db.models import (
    DraftException,
    DraftGroup,
    DraftPerson,
    DraftRequest,
    DraftRoleHours,
    DraftRotation,
    DraftTimeOff,
    HospitalGroup,
    Person,
)
from shared.kernel.people import fold_name
from shared.kernel.roles import DAY, normalize_role

LIMITS = ("nights", "consecutive", "free_between", "weekends")
LIMIT_LEAST = {"nights": 0, "consecutive": 1, "free_between": 0, "weekends": 0}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SPAN_DAYS = 800
MAX_WEIGHT = 100
_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*(a|am|p|pm|mn|n)?\s*$", re.IGNORECASE)


class InputError(Exception):
    """An input that cannot be stored; the text says why, for the operator."""


@dataclass(frozen=True)
class Named:
    id: int
    name: str
    email: str


def group_id(session: Session, name: str) -> int:
    found = session.scalar(select(HospitalGroup.id).where(HospitalGroup.name == name))
    if found is None:
        known = ", ".join(session.scalars(select(HospitalGroup.name).order_by(HospitalGroup.name))) or "none yet"
        raise InputError(f"No hospital group is called {name!r} (known: {known}).")
    return found


def find_person(session: Session, text: str) -> Named:
    """The one person whose email is `text`, or whose name or an alias equals it (case and spacing folded)."""
    wanted = fold_name(text)
    people = session.execute(select(Person.id, Person.name, Person.email, Person.aliases)).all()
    matches = [p for p in people if p.email.lower() == wanted] or [
        p for p in people if fold_name(p.name) == wanted or any(fold_name(a) == wanted for a in p.aliases)
    ]
    if not matches:
        raise InputError(f"No person is called {text!r} (give an email, a name or an Amion alias).")
    if len(matches) > 1:
        raise InputError(
            f"{text!r} fits several people: {', '.join(sorted(p.email for p in matches))}; give the email."
        )
    return Named(matches[0].id, matches[0].name, matches[0].email)


def drafted_role(text: str) -> str:
    role = normalize_role(text)
    if role is None:
        raise InputError(f"{text!r} is not a known role.")
    if role == DAY:
        raise InputError("DAY is never drafted: name a night role (ON1, ON2, MidC, MidL, Mid3, ...).")
    return role


def weekday(text: str) -> int:
    """`mon`..`sun` (or the full name), or 0 (Monday) to 6."""
    folded = text.strip().lower()
    if folded.isdigit() and int(folded) < 7:
        return int(folded)
    for i, name in enumerate(WEEKDAYS):
        if len(folded) >= 3 and (name.startswith(folded) or folded.startswith(name)):
            return i
    raise InputError(f"{text!r} is not a weekday: give mon, tue, wed, thu, fri, sat or sun.")


def _clock(text: str) -> time:
    match = _HOURS.match(text)
    if match is None:
        raise InputError(f"{text!r} is not a time of day: write 10p, 8a, 12mn or 22:00.")
    hour, minute, suffix = int(match[1]), int(match[2] or 0), (match[3] or "").lower()
    if suffix in ("mn", "n"):
        if hour != 12 or minute:
            raise InputError(f"{text!r}: `mn` and `n` go with 12 only (12mn midnight, 12n noon).")
        return time(0) if suffix == "mn" else time(12)
    if suffix:
        if not 1 <= hour <= 12:
            raise InputError(f"{text!r}: an am/pm hour is 1 to 12.")
        hour = hour % 12 + (12 if suffix.startswith("p") else 0)
    if hour > 23 or minute > 59:
        raise InputError(f"{text!r} is not a time of day.")
    return time(hour, minute)


def parse_hours(text: str) -> tuple[time, time]:
    """`10p-8a`, `5p-1a`, `17:00-00:00`: the start and the end (at or before the start: the next day)."""
    start, dash, end = text.partition("-")
    if not dash:
        raise InputError(f"{text!r} is not hours: write START-END, e.g. 10p-8a or 17:00-01:00.")
    first, last = _clock(start), _clock(end)
    if first == last:
        raise InputError(f"{text!r}: the hours start and end at the same time.")
    return first, last


def hours_label(start: time, end: time) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


def _span(first: date, last: date) -> None:
    if last < first:
        raise InputError(f"{last.isoformat()} is before {first.isoformat()}: give the first date, then the last.")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise InputError(f"{first.isoformat()} .. {last.isoformat()} is longer than {MAX_SPAN_DAYS} days.")


def _limits(values: Mapping[str, int | None]) -> dict[str, int | None]:
    for name, value in values.items():
        if name not in LIMITS:
            raise InputError(f"{name!r} is not a limit (limits: {', '.join(LIMITS)}).")
        if value is not None and value < LIMIT_LEAST[name]:
            raise InputError(f"the {name.replace('_', ' ')} limit is at least {LIMIT_LEAST[name]} (got {value}).")
    return dict(values)


def _record(
    session: Session,
    actor: str,
    action: str,
    what: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str | None,
) -> None:
    audit.record(
        session,
        actor=actor,
        entity="draft_input",
        entity_id=what,
        action=action,
        from_state=None if before is None else _text(before),
        to_state=None if after is None else _text(after),
        reason=reason,
        details={"before": _plain(before), "after": _plain(after)},
    )


def _plain(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, date | time) else v for k, v in values.items()}


def _text(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in (_plain(values) or {}).items())


def _row(obj: object, columns: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(obj, c) for c in columns}


# group limits and person settings


def set_group_limits(
    session: Session, group: str, values: Mapping[str, int | None], actor: str, reason: str | None = None
) -> dict[str, int | None]:
    """Set (a value) or clear (None) some of the group's limits; the group's limits after."""
    gid, changes = group_id(session, group), _limits(values)
    current = session.get(DraftGroup, gid, with_for_update=True)
    before = _row(current, LIMITS) if current else dict.fromkeys(LIMITS)
    after = {**before, **changes}
    session.execute(
        pg_insert(DraftGroup)
        .values(group_id=gid, **after)
        .on_conflict_do_update(index_elements=[DraftGroup.group_id], set_=after)
    )
    _record(session, actor, "set", f"limits:{group}", before, after, reason)
    return after


def group_limits(session: Session, group: str) -> dict[str, int | None]:
    current = session.get(DraftGroup, group_id(session, group))
    return _row(current, LIMITS) if current else dict.fromkeys(LIMITS)


PERSON_COLUMNS = ("fte", "active_from", "active_to", *LIMITS)


def set_person(
    session: Session, group: str, person: str, values: Mapping[str, Any], actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Set some of a person's settings in the group: `fte` (0 < fte <= 1), `active_from`/`active_to` (None:
    open) and limits (None: the group's); the settings after."""
    gid, who = group_id(session, group), find_person(session, person)
    unknown = set(values) - set(PERSON_COLUMNS)
    if unknown:
        raise InputError(f"{', '.join(sorted(unknown))}: not a person's drafting setting.")
    _limits({k: v for k, v in values.items() if k in LIMITS})
    if "fte" in values and not 0 < values["fte"] <= 1:
        raise InputError(f"an FTE share is more than 0 and at most 1 (got {values['fte']}).")
    current = session.get(DraftPerson, (gid, who.id), with_for_update=True)
    before = _row(current, PERSON_COLUMNS) if current else {"fte": 1.0, **dict.fromkeys(PERSON_COLUMNS[1:])}
    after = {**before, **values}
    if after["active_from"] and after["active_to"]:
        _span(after["active_from"], after["active_to"])
    session.execute(
        pg_insert(DraftPerson)
        .values(group_id=gid, person_id=who.id, **after)
        .on_conflict_do_update(index_elements=[DraftPerson.group_id, DraftPerson.person_id], set_=after)
    )
    _record(session, actor, "set", f"person:{group}:{who.email}", before, after, reason)
    return after


def people_settings(session: Session, group: str) -> list[tuple[str, dict[str, Any]]]:
    gid = group_id(session, group)
    rows = session.execute(
        select(Person.name, DraftPerson)
        .join(Person, Person.id == DraftPerson.person_id)
        .where(DraftPerson.group_id == gid)
        .order_by(Person.name)
    )
    return [(name, _row(p, PERSON_COLUMNS)) for name, p in rows]


# role hours


def set_hours(
    session: Session, group: str, role_text: str, hours: str | None, actor: str, reason: str | None = None
) -> str:
    """The role's hours in the group (`10p-8a`), or None: the template's span again."""
    gid, role = group_id(session, group), drafted_role(role_text)
    current = session.get(DraftRoleHours, (gid, role), with_for_update=True)
    before = {"hours": hours_label(current.start_time, current.end_time)} if current else None
    if hours is None:
        if current is None:
            raise InputError(f"{role} has the template's hours in {group} already.")
        session.execute(delete(DraftRoleHours).where(DraftRoleHours.group_id == gid, DraftRoleHours.role == role))
        _record(session, actor, "remove", f"hours:{group}:{role}", before, None, reason)
        return f"{role} in {group}: the template's hours"
    start, end = parse_hours(hours)
    session.execute(
        pg_insert(DraftRoleHours)
        .values(group_id=gid, role=role, start_time=start, end_time=end)
        .on_conflict_do_update(
            index_elements=[DraftRoleHours.group_id, DraftRoleHours.role], set_={"start_time": start, "end_time": end}
        )
    )
    _record(session, actor, "set", f"hours:{group}:{role}", before, {"hours": hours_label(start, end)}, reason)
    return f"{role} in {group}: {hours_label(start, end)}"


def role_hours(session: Session, group: str) -> list[tuple[str, str]]:
    gid = group_id(session, group)
    rows = session.scalars(select(DraftRoleHours).where(DraftRoleHours.group_id == gid).order_by(DraftRoleHours.role))
    return [(r.role, hours_label(r.start_time, r.end_time)) for r in rows]


# rotations


def add_rotation(
    session: Session,
    group: str,
    weekday_text: str,
    role_text: str,
    person: str,
    first: date,
    last: date,
    actor: str,
    reason: str | None = None,
) -> int:
    gid, day, role, who = (
        group_id(session, group),
        weekday(weekday_text),
        drafted_role(role_text),
        find_person(session, person),
    )
    _span(first, last)
    clash = session.scalar(
        select(Person.name)
        .join(DraftRotation, DraftRotation.person_id == Person.id)
        .where(
            DraftRotation.group_id == gid,
            DraftRotation.weekday == day,
            DraftRotation.role == role,
            DraftRotation.first_date <= last,
            DraftRotation.last_date >= first,
        )
    )
    if clash is not None:
        raise InputError(
            f"{clash} already holds {role} on {WEEKDAYS[day]} within those dates: remove that rotation first."
        )
    rotation_id = session.scalar(
        insert(DraftRotation)
        .values(group_id=gid, weekday=day, role=role, person_id=who.id, first_date=first, last_date=last)
        .returning(DraftRotation.id)
    )
    assert rotation_id is not None
    after = {"weekday": WEEKDAYS[day], "role": role, "person": who.email, "first": first, "last": last}
    _record(session, actor, "add", f"rotation:{rotation_id}", None, after, reason)
    return rotation_id


@dataclass(frozen=True)
class RotationLine:
    id: int
    weekday: int
    role: str
    person: str
    first: date
    last: date

    def __str__(self) -> str:
        return f"{self.id:>5}  {WEEKDAYS[self.weekday]}  {self.role:<8} {self.person:<24} {self.first} .. {self.last}"


def rotations(session: Session, group: str) -> list[RotationLine]:
    gid = group_id(session, group)
    rows = session.execute(
        select(DraftRotation, Person.name)
        .join(Person, Person.id == DraftRotation.person_id)
        .where(DraftRotation.group_id == gid)
        .order_by(DraftRotation.weekday, DraftRotation.role, DraftRotation.first_date)
    )
    return [RotationLine(r.id, r.weekday, r.role, name, r.first_date, r.last_date) for r, name in rows]


def _remove(
    session: Session, table: Any, row_id: int, what: str, columns: Sequence[str], actor: str, reason: str | None
) -> None:
    current = session.get(table, row_id, with_for_update=True)
    if current is None:
        raise InputError(f"There is no {what.split(':')[0].replace('_', ' ')} {row_id}.")
    session.execute(delete(table).where(table.id == row_id))
    _record(session, actor, "remove", what, _row(current, columns), None, reason)


def remove_rotation(session: Session, rotation_id: int, actor: str, reason: str | None = None) -> None:
    columns = ("group_id", "weekday", "role", "person_id", "first_date", "last_date")
    _remove(session, DraftRotation, rotation_id, f"rotation:{rotation_id}", columns, actor, reason)


# exceptions


def set_exception(
    session: Session, group: str, day: date, role_text: str, person: str | None, actor: str, reason: str | None = None
) -> str:
    """The role that date goes to `person`, or (None) to nobody: the rotation is suspended and the role drafted."""
    gid, role = group_id(session, group), drafted_role(role_text)
    who = None if person is None else find_person(session, person)
    current = session.scalar(
        select(DraftException)
        .where(DraftException.group_id == gid, DraftException.schedule_date == day, DraftException.role == role)
        .with_for_update()
    )
    before = None if current is None else {"person_id": current.person_id}
    values = {"person_id": None if who is None else who.id}
    session.execute(
        pg_insert(DraftException)
        .values(group_id=gid, schedule_date=day, role=role, **values)
        .on_conflict_do_update(
            index_elements=[DraftException.group_id, DraftException.schedule_date, DraftException.role], set_=values
        )
    )
    _record(session, actor, "set", f"exception:{group}:{day.isoformat()}:{role}", before, values, reason)
    return f"{day.isoformat()} {role}: {'nobody (the role is drafted)' if who is None else who.name}"


def exceptions(session: Session, group: str) -> list[tuple[int, date, str, str | None]]:
    gid = group_id(session, group)
    rows = session.execute(
        select(DraftException.id, DraftException.schedule_date, DraftException.role, Person.name)
        .outerjoin(Person, Person.id == DraftException.person_id)
        .where(DraftException.group_id == gid)
        .order_by(DraftException.schedule_date, DraftException.role)
    )
    return [(i, day, role, name) for i, day, role, name in rows]


def remove_exception(session: Session, exception_id: int, actor: str, reason: str | None = None) -> None:
    columns = ("group_id", "schedule_date", "role", "person_id")
    _remove(session, DraftException, exception_id, f"exception:{exception_id}", columns, actor, reason)


# time off


def add_time_off(
    session: Session,
    person: str,
    first: date,
    last: date,
    actor: str,
    note: str | None = None,
    reason: str | None = None,
) -> int:
    who = find_person(session, person)
    _span(first, last)
    row_id = session.scalar(
        insert(DraftTimeOff)
        .values(person_id=who.id, first_date=first, last_date=last, note=note)
        .returning(DraftTimeOff.id)
    )
    assert row_id is not None
    _record(
        session, actor, "add", f"time_off:{row_id}", None, {"person": who.email, "first": first, "last": last}, reason
    )
    return row_id


def time_off(session: Session, person: str | None = None) -> list[tuple[int, str, date, date, str | None]]:
    query = select(
        DraftTimeOff.id, Person.name, DraftTimeOff.first_date, DraftTimeOff.last_date, DraftTimeOff.note
    ).join(Person, Person.id == DraftTimeOff.person_id)
    if person is not None:
        query = query.where(DraftTimeOff.person_id == find_person(session, person).id)
    rows = session.execute(query.order_by(DraftTimeOff.first_date, Person.name))
    return [(i, name, first, last, note) for i, name, first, last, note in rows]


def remove_time_off(session: Session, row_id: int, actor: str, reason: str | None = None) -> None:
    _remove(
        session, DraftTimeOff, row_id, f"time_off:{row_id}", ("person_id", "first_date", "last_date"), actor, reason
    )


# requests


def add_request(
    session: Session,
    group: str,
    person: str,
    on: bool,
    weight: int,
    actor: str,
    day: date | None = None,
    weekday_text: str | None = None,
    role_text: str | None = None,
    reason: str | None = None,
) -> int:
    """A request for a date, a weekday or (neither) every date of a period, optionally one role."""
    gid, who = group_id(session, group), find_person(session, person)
    if day is not None and weekday_text is not None:
        raise InputError("a request names a date or a weekday, not both.")
    if not 1 <= weight <= MAX_WEIGHT:
        raise InputError(f"a request's weight is 1 to {MAX_WEIGHT} (got {weight}).")
    day_of_week = None if weekday_text is None else weekday(weekday_text)
    role = None if role_text is None else drafted_role(role_text)
    row_id = session.scalar(
        insert(DraftRequest)
        .values(
            group_id=gid,
            person_id=who.id,
            wants_on=on,
            weight=weight,
            schedule_date=day,
            weekday=day_of_week,
            role=role,
        )
        .returning(DraftRequest.id)
    )
    assert row_id is not None
    after = {"person": who.email, "on": on, "weight": weight, "date": day, "weekday": day_of_week, "role": role}
    _record(session, actor, "add", f"request:{row_id}", None, after, reason)
    return row_id


@dataclass(frozen=True)
class RequestLine:
    id: int
    person: str
    on: bool
    weight: int
    day: date | None
    weekday: int | None
    role: str | None

    def __str__(self) -> str:
        when = (
            self.day.isoformat() if self.day else WEEKDAYS[self.weekday] if self.weekday is not None else "every date"
        )
        role = f" {self.role}" if self.role else ""
        return f"{self.id:>5}  {self.person:<24} {'on' if self.on else 'off'}{role} {when} (weight {self.weight})"


def requests(session: Session, group: str) -> list[RequestLine]:
    gid = group_id(session, group)
    rows = session.execute(
        select(DraftRequest, Person.name)
        .join(Person, Person.id == DraftRequest.person_id)
        .where(DraftRequest.group_id == gid)
        .order_by(Person.name, DraftRequest.id)
    )
    return [RequestLine(r.id, name, r.wants_on, r.weight, r.schedule_date, r.weekday, r.role) for r, name in rows]


def remove_request(session: Session, row_id: int, actor: str, reason: str | None = None) -> None:
    columns = ("group_id", "person_id", "wants_on", "weight", "schedule_date", "weekday", "role")
    _remove(session, DraftRequest, row_id, f"request:{row_id}", columns, actor, reason)
