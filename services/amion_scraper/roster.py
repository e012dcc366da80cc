"""The roster of people, kept by operators as YAML or CSV, reconciled into the database."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db.models import PersonRow
from shared.states import Specialty


class RosterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    # a real address (email-validator's syntax rules): it names the person's calendar file
    email: EmailStr
    specialty: Specialty
    aliases: list[str] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


_ENTRIES = TypeAdapter(list[RosterEntry])


def read_roster(path: Path) -> list[RosterEntry]:
    """YAML (a list, or a mapping with `people:`) or CSV with columns name,email,specialty,aliases
    (aliases separated by `;`)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        rows = [
            {**row, "aliases": [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]}
            for row in csv.DictReader(io.StringIO(text))
        ]
        return _ENTRIES.validate_python(rows)
    data = yaml.safe_load(text)
    if isinstance(data, dict):
        data = data.get("people")
    return _ENTRIES.validate_python(data)


@dataclass(frozen=True)
class RosterChange:
    added: int
    updated: int
    deactivated: int


def reconcile(session: Session, entries: list[RosterEntry]) -> RosterChange:
    """Make the people table match the roster; people missing from it become inactive (never deleted:
    past assignments keep pointing at them)."""
    existing = {p.email: p for p in session.scalars(select(PersonRow))}
    added = updated = 0
    for entry in entries:
        person = existing.get(entry.email)
        values = {"name": entry.name, "specialty": entry.specialty, "aliases": entry.aliases, "active": True}
        if person is None:
            session.add(PersonRow(email=entry.email, **values))
            added += 1
        elif any(getattr(person, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(person, key, value)
            updated += 1
    listed = {e.email for e in entries}
    gone = [email for email, p in existing.items() if email not in listed and p.active]
    if gone:
        session.execute(update(PersonRow).where(PersonRow.email.in_(gone)).values(active=False))
    return RosterChange(added=added, updated=updated, deactivated=len(gone))
