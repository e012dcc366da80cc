"""The drafting inputs: what is refused (one line each), what is stored, and the audit record of each change,
through the store and through `schedcu draft ...`."""

import os
import subprocess
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from services.drafting import inputs
from services.drafting.inputs import InputError
from tests.conftest import Services
from tests.drafting.stored import GROUP, draft_version


def test_hours_are_read_as_amion_labels_them() -> None:
    assert inputs.parse_hours("10p-8a") == (time(22), time(8))
    assert inputs.parse_hours("5p-12mn") == (time(17), time(0))
    assert inputs.parse_hours("17:00-01:30") == (time(17), time(1, 30))
    assert inputs.parse_hours("12a-8am") == (time(0), time(8))


@pytest.mark.parametrize(
    ("hours", "why"),
    [
        ("10p", "write START-END"),
        ("10p-10p", "start and end at the same time"),
        ("13p-8a", "an am/pm hour is 1 to 12"),
        ("25:00-8a", "not a time of day"),
        ("11mn-8a", "go with 12 only"),
        ("ten-8a", "not a time of day"),
    ],
)
def test_hours_that_are_refused(hours: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        inputs.parse_hours(hours)


def test_weekdays_roles_and_spans() -> None:
    assert [inputs.weekday(w) for w in ("mon", "Tuesday", "6", "SAT")] == [0, 1, 6, 5]
    for wrong in ("7", "mo", "someday"):
        with pytest.raises(InputError, match="not a weekday"):
            inputs.weekday(wrong)
    assert inputs.drafted_role("mid 3") == "Mid3"
    with pytest.raises(InputError, match="DAY is never drafted"):
        inputs.drafted_role("DAY")
    with pytest.raises(InputError, match="not a known role"):
        inputs.drafted_role("ON9")


def audit_rows(services: Services, entity_id: str) -> list[tuple[Any, ...]]:
    with services.engine.connect() as conn:
        found = conn.execute(
            text("SELECT actor, action, from_state, to_state, reason FROM audit_log WHERE entity = 'draft_input' "
                 "AND entity_id = :id ORDER BY id"), {"id": entity_id},
        )  # fmt: skip
        return [tuple(r) for r in found]


def refused(services: Services, change: Any) -> str:
    with Session(services.engine) as session, session.begin(), pytest.raises(InputError) as error:
        change(session)
    return str(error.value)


@pytest.mark.integration
def test_each_input_is_validated_stored_and_audited(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        draft_version(session, date(2026, 5, 1), date(2026, 5, 31))
        limits = inputs.set_group_limits(session, GROUP, {"nights": 8, "consecutive": 3}, "chief", "the rules")
        person = inputs.set_person(session, GROUP, "ada.adams@example.org", {"fte": 0.5}, "chief")
        rotation = inputs.add_rotation(
            session, GROUP, "mon", "ON1", "Chen, Cleo", date(2026, 5, 1), date(2026, 6, 30), "chief"
        )
        hours = inputs.set_hours(session, GROUP, "on1", "10p-8a", "chief")
        nobody = inputs.set_exception(session, GROUP, date(2026, 5, 11), "ON1", None, "chief")
        off = inputs.add_time_off(session, "Evans, Eve", date(2026, 5, 4), date(2026, 5, 6), "chief", "holiday")
        request = inputs.add_request(session, GROUP, "Gray, Gia", False, 3, "chief", weekday_text="fri")
    assert limits == {"nights": 8, "consecutive": 3, "free_between": None, "weekends": None}
    assert person["fte"] == 0.5 and person["nights"] is None
    assert hours == "ON1 in drafting-tests: 22:00-08:00"
    assert nobody == "2026-05-11 ON1: nobody (the role is drafted)"
    assert audit_rows(services, f"limits:{GROUP}") == [
        ("chief", "set", "nights=None, consecutive=None, free_between=None, weekends=None",
         "nights=8, consecutive=3, free_between=None, weekends=None", "the rules"),
    ]  # fmt: skip
    assert audit_rows(services, f"rotation:{rotation}")[0][1] == "add"
    assert (
        audit_rows(services, f"time_off:{off}")[0][3]
        == "person=eve.evans@example.org, first=2026-05-04, last=2026-05-06"
    )
    assert audit_rows(services, f"request:{request}")[0][1] == "add"

    assert "already holds ON1 on mon" in refused(
        services,
        lambda s: inputs.add_rotation(s, GROUP, "monday", "ON1", "Evans, Eve", date(2026, 6, 1), date(2026, 6, 8), "x"),
    )
    assert "is before" in refused(
        services, lambda s: inputs.add_time_off(s, "Evans, Eve", date(2026, 5, 6), date(2026, 5, 4), "x")
    )
    assert "No person is called" in refused(
        services, lambda s: inputs.add_time_off(s, "Nobody, N", date(2026, 5, 6), date(2026, 5, 6), "x")
    )
    assert "No hospital group" in refused(services, lambda s: inputs.group_limits(s, "elsewhere"))
    assert "at least 1" in refused(services, lambda s: inputs.set_group_limits(s, GROUP, {"consecutive": 0}, "x"))
    assert "FTE share" in refused(services, lambda s: inputs.set_person(s, GROUP, "Gray, Gia", {"fte": 1.5}, "x"))
    assert "weight is 1 to 100" in refused(services, lambda s: inputs.add_request(s, GROUP, "Gray, Gia", True, 0, "x"))
    assert "not both" in refused(
        services, lambda s: inputs.add_request(s, GROUP, "Gray, Gia", True, 1, "x", date(2026, 5, 1), "fri")
    )
    assert "There is no rotation 999999" in refused(services, lambda s: inputs.remove_rotation(s, 999999, "x"))

    with Session(services.engine) as session, session.begin():
        inputs.remove_rotation(session, rotation, "chief", "rota changed")
        assert inputs.rotations(session, GROUP) == []
    removed = audit_rows(services, f"rotation:{rotation}")[1]
    assert (removed[1], removed[3], removed[4]) == ("remove", None, "rota changed")
    assert "role=ON1" in removed[2]


@pytest.mark.integration
def test_the_commands_refuse_in_one_line_and_list_what_they_stored(services: Services) -> None:
    with Session(services.engine) as session, session.begin():
        draft_version(session, date(2026, 7, 1), date(2026, 7, 31))
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}

    def schedcu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(schedcu_command("draft", *args), env=env, capture_output=True, text=True, check=False)

    added = schedcu("rotation", "add", GROUP, "tue", "MidC", "Fox, Finn", "--from", "2026-07-01", "--to", "2026-07-31")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added rotation ")
    listed = schedcu("rotation", "list", GROUP)
    assert "tue  MidC     Fox, Finn" in listed.stdout
    wrong = schedcu("hours", GROUP, "ON2", "22-8x")
    assert (wrong.returncode, wrong.stderr) == (1, "'8x' is not a time of day: write 10p, 8a, 12mn or 22:00.\n")
    usage = schedcu("exception", "add", GROUP, "2026-07-07", "MidC")
    assert usage.returncode == 2 and "--nobody" in usage.stderr
    nobody = schedcu("exception", "add", GROUP, "2026-07-07", "MidC", "--nobody", "--reason", "Fox away")
    assert nobody.stdout == "2026-07-07 MidC: nobody (the role is drafted)\n", nobody.stderr
    exception_id = schedcu("exception", "list", GROUP).stdout.split()[0]
    assert schedcu("exception", "remove", exception_id).stdout == f"removed exception {exception_id}\n"
    off = schedcu("timeoff", "add", "Hill, Hal", "--from", "2026-07-10", "--to", "2026-07-12", "--note", "course")
    assert off.returncode == 0, off.stderr
    assert (
        "Hill, Hal                2026-07-10 .. 2026-07-12  (course)" in schedcu("timeoff", "list", "Hill, Hal").stdout
    )
    request = schedcu("request", "add", GROUP, "Hill, Hal", "on", "--weekday", "fri", "--role", "ON2", "--weight", "4")
    assert request.returncode == 0, request.stderr
    assert "Hill, Hal                on ON2 fri (weight 4)" in schedcu("request", "list", GROUP).stdout
    person = schedcu("person", GROUP, "Hill, Hal", "--fte", "0.8", "--to", "2026-07-20")
    assert person.stdout.startswith("Hill, Hal: fte 0.8, active from -, active to 2026-07-20"), person.stderr
    limits = schedcu("limits", GROUP, "--weekends", "2", "--nights", "none")
    assert limits.stdout.strip().endswith("weekends 2")
