"""Input the command line used to take without a word, refused in one line that says what to do instead: the real
`schedcu` command in its own process."""

import os
import pty
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from schedcu.testing.sample_template import sample_template
from services.versions import intake
from shared.db.models import Workflow
from shared.kernel import ids
from shared.kernel.contracts import ImportRequested
from shared.messaging.consumer import Delivery
from shared.settings import get_settings
from tests.conftest import Services, provisioned
from tests.schedcu.test_cli_mistakes import assert_one_line
from tests.support import amqp_client
from tests.versions.test_lifecycle import new_version

pytestmark = pytest.mark.integration

VERSION = str(uuid.uuid4())


def schedcu(services: Services, *args: str, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    return subprocess.run(
        schedcu_command(*args), env=env, stdin=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("fairness", VERSION, "--from", "2026-03-20", "--to", "2026-03-10"),
         ("--from 2026-03-20 is after --to 2026-03-10", "give a --from on or before the --to")),
        (("gaps", VERSION, "--top", "-3"), ("--top", "'-3' is not a count", "0 or more")),
        (("workflows", "list", "--limit", "-1"), ("--limit", "'-1' is not a count")),
        (("status", "--watch", "--every", "0"), ("--every", "'0' is not a duration", "more than 0")),
        (("worker", "coverage", "--port", "70000"), ("--port", "'70000' is not a port", "1 to 65535")),
        (("workflows", "cancel", str(uuid.uuid4()), "--yes"), ("the following arguments are required: --reason",)),
        (("workflows", "cancel", str(uuid.uuid4()), "--reason", " ", "--yes"), ("give a reason in words",)),
    ],
)  # fmt: skip
def test_a_value_out_of_range_is_refused_before_anything_runs(
    services: Services, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    assert_one_line(schedcu(services, *args), 2, *words)


@pytest.mark.parametrize("command", [("versions", "list"), ("workflows", "list")])
def test_an_unknown_group_is_refused_with_the_known_groups(services: Services, command: tuple[str, ...]) -> None:
    known = f"north-{uuid.uuid4().hex[:8]}"
    version_id = new_version(services, known, date(2026, 3, 1), date(2026, 3, 31), cells=None)
    workflow_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        session.add(Workflow(id=workflow_id, request_id=f"r-{known}", group_name=known, state="FAILED", request={}))
    try:
        line = assert_one_line(schedcu(services, *command, "--group", "nosuch"), 2, "no hospital group 'nosuch'")
    finally:
        with Session(services.engine) as session, session.begin():
            session.execute(delete(Workflow).where(Workflow.id == workflow_id))

    assert line.split("; the known groups: ")[1].split(", ").count(known) == 1
    assert str(version_id) in schedcu(services, "versions", "list", "--group", known).stdout


@pytest.mark.parametrize("command", ["gaps", "coverage show"])
def test_a_date_outside_the_version_is_refused_with_its_period(services: Services, command: str) -> None:
    version_id = new_version(services, "dates", date(2026, 3, 1), date(2026, 3, 31), cells=None)

    done = schedcu(services, *command.split(), str(version_id), "--date", "2026-04-15")

    assert_one_line(done, 2, f"--date 2026-04-15 is outside the period of version {version_id}, 2026-03-01..2026-03-31")


@pytest.mark.parametrize(
    ("at", "status", "words"),
    [
        ("2026-03-08T02:30", 2, ("2026-03-08T02:30 does not exist in America/New_York", "2026-03-08T03:30-04:00")),
        ("2026-11-01T01:30", 2,
         ("2026-11-01T01:30 happens twice", "2026-11-01T01:30-04:00 (EDT) or 2026-11-01T01:30-05:00 (EST)")),
        # with the offset, the time is taken: the answer is about the versions, not the time
        ("2026-11-01T01:30-05:00", 1, ("no production version of group 'nosuch' covers 2026-11-01",)),
    ],
)  # fmt: skip
def test_oncall_refuses_a_local_time_that_does_not_exist_and_asks_which_for_one_that_happens_twice(
    services: Services, at: str, status: int, words: tuple[str, ...]
) -> None:
    done = schedcu(services, "oncall", "CPMC US", "--at", at, "--group", "nosuch")
    assert_one_line(done, status, *words)


@pytest.fixture(scope="module")
def quiet() -> Iterator[Services]:
    """A database and vhost of their own that no worker serves: a workflow started there stays RUNNING."""
    with provisioned(f"schedcu_test_cli_inputs_{os.getpid()}") as services, pytest.MonkeyPatch.context() as env:
        env.setenv("SCHEDCU_DATABASE_URL", services.database_url)
        env.setenv("SCHEDCU_AMQP_URL", services.amqp_url)
        get_settings.cache_clear()
        yield services
    get_settings.cache_clear()


@pytest.fixture
def running(quiet: Services) -> uuid.UUID:
    request_id = f"cancel-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, sample_template(), "2026-03-02", "2026-03-08")
    intake.start_workflow(
        ImportRequested.model_validate(body),
        Delivery(message_id=f"m-{request_id}", correlation_id=None, routing_key="import.requested", redelivered=False),
        get_settings(),
    )
    return ids.workflow_id_for(request_id)


def state(services: Services, workflow_id: uuid.UUID) -> str:
    with Session(services.engine) as session:
        found = session.get(Workflow, workflow_id)
        assert found is not None
        return found.state


def test_cancel_without_yes_from_a_script_is_refused_and_with_yes_cancels(quiet: Services, running: uuid.UUID) -> None:
    refused = schedcu(quiet, "workflows", "cancel", str(running), "--reason", "wrong month", stdin=subprocess.DEVNULL)
    assert_one_line(refused, 2, f"cancelling workflow {running} cannot be undone: add --yes to confirm")
    assert state(quiet, running) == "RUNNING"

    done = schedcu(quiet, "workflows", "cancel", str(running), "--reason", "wrong month", "--yes")
    assert (done.returncode, done.stdout) == (0, f"workflow {running}: cancelled\n"), done.stderr
    assert state(quiet, running) == "FAILED"


def answered(services: Services, workflow_id: uuid.UUID, answer: bytes) -> subprocess.CompletedProcess[str]:
    """`workflows cancel` at a terminal whose user types `answer`."""
    terminal, its_side = pty.openpty()
    try:
        os.write(terminal, answer)  # typed ahead: the terminal keeps it until the command reads
        return schedcu(services, "workflows", "cancel", str(workflow_id), "--reason", "wrong month", stdin=its_side)
    finally:
        os.close(its_side)
        os.close(terminal)


def test_cancel_at_a_terminal_asks_first(quiet: Services, running: uuid.UUID) -> None:
    declined = answered(quiet, running, b"n\n")
    assert declined.stdout.startswith(f"Cancel workflow {running} (request cancel-")
    assert "It ends FAILED. [y/N]" in declined.stdout
    assert_one_line(declined, 1, "not confirmed: nothing done")
    assert state(quiet, running) == "RUNNING"

    confirmed = answered(quiet, running, b"y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.endswith(f"workflow {running}: cancelled\n")
    assert state(quiet, running) == "FAILED"
