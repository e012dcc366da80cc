"""`schedcu roster import FILE` (YAML and CSV) against the real database, as an operator runs it."""

import csv
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from schedcu.testing.demo_data import ROSTER
from services.amion_scraper.roster import RosterEntry, reconcile
from shared.db.models import Person
from tests.conftest import Services

pytestmark = pytest.mark.integration

NEWCOMER = {"name": "Zhou, Zoe", "email": "Zoe.Zhou@example.org", "specialty": "NEURO_ONLY", "aliases": ["Zhou Z"]}


@pytest.fixture
def roster_restored(services: Services) -> Iterator[None]:
    """The pipeline's roster again afterwards: other tests match Amion names against it."""
    yield
    with Session(services.engine) as session, session.begin():
        reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])


def _import(services: Services, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url}
    return subprocess.run(
        schedcu_command("roster", "import", str(path)), env=env, capture_output=True, text=True, timeout=60
    )


def _people(services: Services) -> dict[str, tuple[str, str, list[str], bool]]:
    with Session(services.engine) as session:
        found = session.execute(select(Person.email, Person.name, Person.specialty, Person.aliases, Person.active))
        return {email: (name, specialty, aliases, active) for email, name, specialty, aliases, active in found}


def test_yaml_then_csv_reconcile_the_roster_and_people_missing_become_inactive(
    services: Services, tmp_path: Path, roster_restored: None
) -> None:
    with Session(services.engine) as session, session.begin():
        reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])
    departed, *staying = ROSTER
    changed = {**staying[0], "specialty": "BOTH", "aliases": ["B. Baker", "Baker B"]}
    yaml_file = tmp_path / "roster.yaml"
    yaml_file.write_text(yaml.safe_dump({"people": [changed, *staying[1:], NEWCOMER]}), encoding="utf-8")

    done = _import(services, yaml_file)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"roster: {len(ROSTER)} people; 1 added, 1 updated, 1 made inactive"
    people = _people(services)
    assert people[departed["email"]][3] is False
    assert people["zoe.zhou@example.org"] == ("Zhou, Zoe", "NEURO_ONLY", ["Zhou Z"], True)
    assert people[changed["email"]] == (changed["name"], "BOTH", ["B. Baker", "Baker B"], True)
    assert all(people[p["email"]][3] for p in staying)

    csv_file = tmp_path / "roster.csv"
    with csv_file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, ["name", "email", "specialty", "aliases"])
        writer.writeheader()
        writer.writerows({**p, "aliases": ";".join(p["aliases"])} for p in ROSTER)

    done = _import(services, csv_file)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"roster: {len(ROSTER)} people; 0 added, 2 updated, 1 made inactive"
    people = _people(services)
    assert people["zoe.zhou@example.org"][3] is False
    for p in ROSTER:
        assert people[p["email"]] == (p["name"], p["specialty"], p["aliases"], True)


def test_an_invalid_roster_changes_nothing_and_says_why(services: Services, tmp_path: Path) -> None:
    before = _people(services)
    bad = tmp_path / "roster.csv"
    bad.write_text("name,email,specialty,aliases\nSmith,smith@example.org,CARDIO,\n", encoding="utf-8")

    done = _import(services, bad)

    assert done.returncode == 1
    assert "not a valid roster" in done.stderr and "specialty" in done.stderr
    assert _people(services) == before


@pytest.mark.parametrize("email", ["../../../../tmp/x/pwned@x", "pwned@x", "a/b@hospital.local"])
def test_an_email_that_is_not_a_real_address_is_refused(services: Services, tmp_path: Path, email: str) -> None:
    before = _people(services)
    bad = tmp_path / "roster.csv"
    with bad.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["name", "email", "specialty", "aliases"], ["Pwned, Pat", email, "BOTH", ""]])

    done = _import(services, bad)

    assert done.returncode == 1
    assert "not a valid roster" in done.stderr and "value is not a valid email address" in done.stderr
    assert _people(services) == before
