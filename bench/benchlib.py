"""What several bench scripts set up: a fresh database, and a synthetic year of coverage in memory."""

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import make_url

from schedcu.runtime.infra import ensure_database_exists
from schedcu.testing.demo_data import ROSTER
from schedcu.testing.sample_template import sample_template
from services.coverage.candidates import GapCandidates, rank_candidates, template_slots
from services.ods_importer.workbook import parse_workbook
from shared.db.migrate import upgrade
from shared.kernel.coverage_rules import (
    Assignment,
    CoverageResult,
    Person,
    Specialty,
    booked_shifts,
    calculate,
    template_role_hours,
    worklist_specialties,
)
from shared.kernel.schedule_days import dates_between
from shared.kernel.states import WorklistSpecialty
from shared.kernel.template_model import Window
from shared.settings import get_settings

ROLES = ("ON1", "ON2", "MidC", "MidL", "Mid3")
START, END = date(2026, 1, 1), date(2026, 12, 31)


def fresh_database(name: str) -> str:
    """The URL of database `name` on the server of SCHEDCU_DATABASE_URL, dropped, created and migrated."""
    url = make_url(get_settings().database_url).set(database=name)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    target = url.render_as_string(hide_password=False)
    ensure_database_exists(target)
    upgrade(target)
    return target


@dataclass(frozen=True)
class Year:
    """The sample template's windows, the demo roster, five people on call every date from START to END, and
    the coverage the pure rules calculate for them; no holidays, a rest period of 10 hours."""

    windows: tuple[Window, ...]
    people: dict[int, Person]
    assignments: list[Assignment]
    result: CoverageResult
    specialties: Mapping[str, WorklistSpecialty]
    tz: ZoneInfo
    holidays: frozenset[date] = frozenset()
    rest: timedelta = timedelta(hours=10)

    def ranked(self) -> list[GapCandidates]:
        """The candidates of every gap, ranked, as `schedcu gaps` finds them after its reads."""
        slots = template_slots(self.result.cells, self.windows, self.specialties, self.tz)
        shifts = booked_shifts(self.windows, self.assignments, self.holidays, self.tz)
        hours = template_role_hours(self.windows, self.holidays, self.tz)
        return rank_candidates(
            slots, self.assignments, shifts, self.people, self.people, hours, self.holidays, self.rest, self.tz
        )


def synthetic_year(removed: float) -> Year:
    """The people on call drawn at random from the roster (the same draw every time), then the fraction
    `removed` of the assignments removed to open gaps."""
    windows = parse_workbook(sample_template()).windows
    people = {i: Person(i, p["name"], Specialty(p["specialty"])) for i, p in enumerate(ROSTER, start=1)}
    rng = random.Random(2026)
    assignments = [
        Assignment(day, role, pid)
        for day in dates_between(START, END)
        for role, pid in zip(ROLES, rng.sample(sorted(people), len(ROLES)), strict=True)
        if rng.random() >= removed
    ]
    tz = get_settings().tz
    result = calculate(windows, START, END, assignments, people, frozenset(), tz=tz)
    specialties, _ = worklist_specialties(windows)
    return Year(windows, people, assignments, result, specialties, tz)
