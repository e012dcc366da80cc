"""Manual corrections of a version's assignments (`schedcu assignments add|remove`), each one audited.

They are this service's own table, `assignment_corrections`; Amion's `assignments` stay as the scraper
stored them, and shared/db/assignments.py combines the two.
- `add` adds a person with source `MANUAL`, the reason in `note`. With `replace`, the role's other
  assignments that date are removed first; the new one is then an `OVERRIDE` when one of them came from
  Amion, else `MANUAL`. An approved proposal (services/coverage/proposals.py) adds an `OVERRIDE` without
  removing anyone; an approved draft row (services/drafting/approval.py) adds a `DRAFT` one.
- `remove` removes the person's assignment to the role that date: a manual one is deleted, an Amion one is
  hidden by a correction naming its row.
- Every assignment added or removed writes one `audit_log` row (entity `assignment`): action `add`,
  `remove`, or `override` when the removed assignment came from Amion; `from_state`/`to_state` are the
  assignment's source before and after (None when there is none); the reason; and the version, date,
  role and person in `details`.
- A person is named by email, or by exact name or alias (case and spacing folded); a name that fits two
  people is refused. Only active people can be added. Archived or deleted versions, dates outside the
  version's period and unknown roles are refused.
- A later Amion scrape of the version replaces its `AMION` assignments only: manual and override
  assignments stay, and an Amion assignment removed by hand comes back if Amion still has it (the new
  scrape's rows are not the hidden ones).
- Coverage is not recalculated here: `schedcu coverage recalc` does that.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from shared import audit
from shared.db import version_state
from shared.db.assignments import FROM_AMION, effective
from shared.db.models import AssignmentCorrection, Person, ScheduleVersion
from shared.kernel.people import fold_name
from shared.kernel.roles import normalize_role
from shared.kernel.states import AssignmentSource, VersionState

MAX_REASON_CHARS = 2000


class CorrectionError(Exception):
    """A correction that cannot be made; the text says why, for the operator."""


@dataclass(frozen=True)
class Change:
    action: str  # add | remove | override
    person: str
    role: str
    schedule_date: date
    from_source: str | None
    to_source: str | None

    def __str__(self) -> str:
        verb = {"add": "added", "remove": "removed", "override": "removed (overriding Amion)"}[self.action]
        source = f" as {self.to_source}" if self.to_source else ""
        return f"{verb}: {self.person} on {self.role} on {self.schedule_date.isoformat()}{source}"


def find_person(people: Sequence[Person], text: str) -> Person:
    """The one person whose email is `text`, or whose name or an alias equals it (case and spacing folded)."""
    wanted = fold_name(text)
    by_email = [p for p in people if p.email.lower() == wanted]
    matches = by_email or [
        p for p in people if fold_name(p.name) == wanted or any(fold_name(a) == wanted for a in p.aliases)
    ]
    if not matches:
        raise CorrectionError(f"No person is called {text!r} (give an email, a name or an Amion alias).")
    if len(matches) > 1:
        raise CorrectionError(
            f"{text!r} fits several people: {', '.join(sorted(p.email for p in matches))}; give the email."
        )
    return matches[0]


def _role(text: str) -> str:
    role = normalize_role(text)
    if role is None:
        raise CorrectionError(f"{text!r} is not a known role.")
    return role


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise CorrectionError("A reason is required.")
    if len(reason) > MAX_REASON_CHARS:
        raise CorrectionError(f"The reason is longer than {MAX_REASON_CHARS} characters.")
    return reason


def _version(session: Session, version_id: uuid.UUID, day: date) -> ScheduleVersion:
    """The version, locked so that corrections of one version never interleave."""
    found = session.execute(
        version_state.with_lifecycle(
            select(ScheduleVersion, version_state.state(), version_state.not_deleted())
            .where(ScheduleVersion.id == version_id)
            .with_for_update(of=ScheduleVersion)
        )
    ).first()
    if found is None:
        raise CorrectionError(f"Schedule version {version_id} does not exist.")
    version, state, not_deleted = found
    if not not_deleted or state == VersionState.ARCHIVED:
        raise CorrectionError(f"Schedule version {version_id} is {'archived' if not_deleted else 'deleted'}.")
    if not version.period_start <= day <= version.period_end:
        raise CorrectionError(
            f"{day.isoformat()} is outside the version's period "
            f"{version.period_start.isoformat()} .. {version.period_end.isoformat()}."
        )
    return version


def _audit(session: Session, actor: str, reason: str, version_id: uuid.UUID, change: Change, email: str) -> None:
    audit.record(
        session,
        actor=actor,
        entity="assignment",
        entity_id=f"{version_id}:{change.schedule_date.isoformat()}:{change.role}",
        action=change.action,
        from_state=change.from_source,
        to_state=change.to_source,
        reason=reason,
        details={
            "version_id": str(version_id),
            "date": change.schedule_date.isoformat(),
            "role": change.role,
            "person": change.person,
            "email": email,
        },
    )


@dataclass(frozen=True)
class Assigned:
    """One of the role's assignments that date: an Amion row (`from_amion`) or a correction, by its id."""

    id: int
    from_amion: bool
    source: str
    person: Person


def _remove(
    session: Session, actor: str, reason: str, version_id: uuid.UUID, day: date, role: str, rows: Sequence[Assigned]
) -> list[Change]:
    changes = []
    for row in rows:
        change = Change(
            action="override" if row.from_amion else "remove",
            person=row.person.name,
            role=role,
            schedule_date=day,
            from_source=row.source,
            to_source=None,
        )
        _audit(session, actor, reason, version_id, change, row.person.email)
        changes.append(change)
    hidden = [
        {"version_id": version_id, "schedule_date": day, "role": role, "person_id": row.person.id,
         "hides_assignment_id": row.id, "note": reason}
        for row in rows
        if row.from_amion
    ]  # fmt: skip
    if hidden:
        session.execute(insert(AssignmentCorrection), hidden)
    added = [row.id for row in rows if not row.from_amion]
    if added:
        session.execute(delete(AssignmentCorrection).where(AssignmentCorrection.id.in_(added)))
    return changes


def assigned(session: Session, version_id: uuid.UUID, day: date, role: str) -> list[Assigned]:
    """The role's assignments that date, as coverage counts them."""
    rows = effective(version_id)
    return [
        Assigned(row_id, kind == FROM_AMION, source, person)
        for kind, row_id, source, person in session.execute(
            select(rows.c.kind, rows.c.id, rows.c.source, Person)
            .join(Person, Person.id == rows.c.person_id)
            .where(rows.c.schedule_date == day, rows.c.role == role)
            .order_by(rows.c.kind, rows.c.id)
        )
    ]


def add(
    session: Session,
    version_id: uuid.UUID,
    day: date,
    role_text: str,
    person_text: str,
    reason_text: str,
    actor: str,
    replace: bool = False,
    source: AssignmentSource | None = None,
) -> list[Change]:
    """`source`: the new assignment's whatever it replaces (`OVERRIDE` for an approved proposal, `DRAFT` for an
    approved draft row); else `OVERRIDE` when it replaces Amion's, `MANUAL` otherwise."""
    role, reason = _role(role_text), _reason(reason_text)
    _version(session, version_id, day)
    person = find_person(session.scalars(select(Person)).all(), person_text)
    if not person.active:
        raise CorrectionError(f"{person.name} ({person.email}) is inactive in the roster.")
    present = assigned(session, version_id, day, role)
    if any(row.person.id == person.id for row in present):
        raise CorrectionError(f"{person.name} is already on {role} on {day.isoformat()}.")
    replaced = present if replace else []
    changes = _remove(session, actor, reason, version_id, day, role, replaced)
    if source is None:
        overrides = any(row.from_amion for row in replaced)
        source = AssignmentSource.OVERRIDE if overrides else AssignmentSource.MANUAL
    session.execute(
        insert(AssignmentCorrection).values(
            version_id=version_id, schedule_date=day, role=role, person_id=person.id, source=source, note=reason
        )
    )
    added = Change("add", person.name, role, day, None, source)
    _audit(session, actor, reason, version_id, added, person.email)
    return [*changes, added]


def remove(
    session: Session,
    version_id: uuid.UUID,
    day: date,
    role_text: str,
    person_text: str,
    reason_text: str,
    actor: str,
) -> list[Change]:
    role, reason = _role(role_text), _reason(reason_text)
    _version(session, version_id, day)
    person = find_person(session.scalars(select(Person)).all(), person_text)
    rows = [row for row in assigned(session, version_id, day, role) if row.person.id == person.id]
    if not rows:
        raise CorrectionError(f"{person.name} is not on {role} on {day.isoformat()}.")
    return _remove(session, actor, reason, version_id, day, role, rows)
