"""Manual corrections of a version's assignments (`schedcu assignments add|remove`), each one audited.

- `add` creates an assignment with source `MANUAL`, the reason in `note`. With `replace`, the role's other
  assignments that date are removed first; the new assignment is then an `OVERRIDE` when one of them came
  from Amion, else `MANUAL`.
- `remove` deletes the person's assignment to the role that date.
- Every assignment added or removed writes one `audit_log` row (entity `assignment`): action `add`,
  `remove`, or `override` when the removed assignment came from Amion; `from_state`/`to_state` are the
  assignment's source before and after (None when there is none); the reason; and the version, date,
  role and person in `details`.
- A person is named by email, or by exact name or alias (case and spacing folded); a name that fits two
  people is refused. Only active people can be added. Archived or deleted versions, dates outside the
  version's period and unknown roles are refused.
- A later Amion scrape of the version replaces its `AMION` assignments only: manual and override
  assignments stay, and an Amion assignment removed by hand comes back if Amion still has it.
- Coverage is not recalculated here: `schedcu coverage recalc` does that.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.db.models import Assignment, AuditRecord, Person, ScheduleVersion
from shared.people import fold_name
from shared.roles import normalize_role

MANUAL, OVERRIDE, AMION = "MANUAL", "OVERRIDE", "AMION"
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
    version = session.scalars(select(ScheduleVersion).where(ScheduleVersion.id == version_id).with_for_update()).first()
    if version is None:
        raise CorrectionError(f"Schedule version {version_id} does not exist.")
    if version.deleted_at is not None or version.state == "ARCHIVED":
        raise CorrectionError(f"Schedule version {version_id} is {'deleted' if version.deleted_at else 'archived'}.")
    if not version.period_start <= day <= version.period_end:
        raise CorrectionError(
            f"{day.isoformat()} is outside the version's period "
            f"{version.period_start.isoformat()} .. {version.period_end.isoformat()}."
        )
    return version


def _audit(session: Session, actor: str, reason: str, version_id: uuid.UUID, change: Change, email: str) -> None:
    session.add(
        AuditRecord(
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
    )


def _remove_rows(
    session: Session, actor: str, reason: str, version_id: uuid.UUID, rows: Sequence[tuple[Assignment, Person]]
) -> list[Change]:
    changes = []
    for row, person in rows:
        change = Change(
            action="override" if row.source == AMION else "remove",
            person=person.name,
            role=row.role,
            schedule_date=row.schedule_date,
            from_source=row.source,
            to_source=None,
        )
        _audit(session, actor, reason, version_id, change, person.email)
        changes.append(change)
    if rows:
        session.execute(delete(Assignment).where(Assignment.id.in_([row.id for row, _ in rows])))
    return changes


def _assigned(session: Session, version_id: uuid.UUID, day: date, role: str) -> list[tuple[Assignment, Person]]:
    return [
        (a, p)
        for a, p in session.execute(
            select(Assignment, Person)
            .join(Person, Person.id == Assignment.person_id)
            .where(Assignment.version_id == version_id, Assignment.schedule_date == day, Assignment.role == role)
            .order_by(Assignment.id)
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
) -> list[Change]:
    role, reason = _role(role_text), _reason(reason_text)
    _version(session, version_id, day)
    person = find_person(session.scalars(select(Person)).all(), person_text)
    if not person.active:
        raise CorrectionError(f"{person.name} ({person.email}) is inactive in the roster.")
    assigned = _assigned(session, version_id, day, role)
    if any(p.id == person.id for _, p in assigned):
        raise CorrectionError(f"{person.name} is already on {role} on {day.isoformat()}.")
    replaced = assigned if replace else []
    changes = _remove_rows(session, actor, reason, version_id, replaced)
    source = OVERRIDE if any(row.source == AMION for row, _ in replaced) else MANUAL
    session.add(
        Assignment(version_id=version_id, schedule_date=day, role=role, person_id=person.id, source=source, note=reason)
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
    rows = [(a, p) for a, p in _assigned(session, version_id, day, role) if p.id == person.id]
    if not rows:
        raise CorrectionError(f"{person.name} is not on {role} on {day.isoformat()}.")
    return _remove_rows(session, actor, reason, version_id, rows)
