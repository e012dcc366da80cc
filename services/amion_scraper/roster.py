"""The roster of people, kept by operators as YAML or CSV, reconciled into the database."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter, ValidationError, field_validator
from pydantic_core import ErrorDetails
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db.models import Person
from shared.kernel.states import Specialty


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
COLUMNS = ("name", "email", "specialty", "aliases")  # aliases may be left out
REQUIRED_COLUMNS = COLUMNS[:3]


class RosterError(ValueError):
    """A roster that cannot be read: one line per problem, naming the row (or entry) and the column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_roster(path: Path) -> list[RosterEntry]:
    """YAML (a list, or a mapping with `people:`) or CSV with columns name,email,specialty,aliases
    (aliases separated by `;`)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        unknown = [c for c in columns if c not in COLUMNS]
        if missing or unknown:
            wrong = ", ".join([*(f"missing {c}" for c in missing), *(f"unknown {c!r}" for c in unknown)])
            raise RosterError([f"columns: {wrong}; expected the header {','.join(COLUMNS)} (aliases may be left out)"])
        rows, lines = [], []
        for row in reader:
            rows.append({**row, "aliases": [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]})
            lines.append(f"row {reader.line_num}")  # the file's line: the header is row 1
        return _validated(rows, lambda i: lines[i], "column")
    data = yaml.safe_load(text)
    if isinstance(data, dict):
        data = data.get("people")
    return _validated(data, lambda i: f"entry {i + 1}", "field")


def _validated(data: object, row: Callable[[int], str], column: str) -> list[RosterEntry]:
    try:
        return _ENTRIES.validate_python(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            where = [row(e["loc"][0]) if isinstance(e["loc"][0], int) else str(e["loc"][0])] if e["loc"] else []
            where += [f"{column} {'.'.join(str(part) for part in e['loc'][1:])}"] if len(e["loc"]) > 1 else []
            problems.append(f"{', '.join(where) or 'the file'}: {_problem(e)}")
        raise RosterError(problems) from None


def _problem(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown, expected {', '.join(COLUMNS)}"
    shown = f" (got {error['input']!r})" if error["type"] != "missing" and isinstance(error["input"], str) else ""
    return error["msg"] + shown


@dataclass(frozen=True)
class RosterChange:
    added: int
    updated: int
    deactivated: int


def reconcile(session: Session, entries: list[RosterEntry]) -> RosterChange:
    """Make the people table match the roster; people missing from it become inactive (never deleted:
    past assignments keep pointing at them)."""
    existing = {p.email: p for p in session.scalars(select(Person))}
    added = updated = 0
    for entry in entries:
        person = existing.get(entry.email)
        values = {"name": entry.name, "specialty": entry.specialty, "aliases": entry.aliases, "active": True}
        if person is None:
            session.add(Person(email=entry.email, **values))
            added += 1
        elif any(getattr(person, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(person, key, value)
            updated += 1
    listed = {e.email for e in entries}
    gone = [email for email, p in existing.items() if email not in listed and p.active]
    if gone:
        session.execute(update(Person).where(Person.email.in_(gone)).values(active=False))
    return RosterChange(added=added, updated=updated, deactivated=len(gone))
