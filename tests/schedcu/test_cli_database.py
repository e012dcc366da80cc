"""`schedcu status`, `roster import` and `workflows list` against a real database, as an operator runs them."""

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from schedcu.runtime.registries import QUEUE_NAMES
from schedcu.testing.demo_data import ROSTER
from services.amion_scraper.roster import RosterEntry, reconcile
from shared.db.models import Person, Workflow
from shared.kernel.states import WorkflowState
from tests.conftest import Services, isolated_vhost
from tests.schedcu.test_cli_mistakes import UNREACHABLE_BROKER, assert_one_line

pytestmark = pytest.mark.integration


def schedcu(services: Services, *args: str, amqp_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCHEDCU_DATABASE_URL": services.database_url,
        "SCHEDCU_AMQP_URL": amqp_url or services.amqp_url,
    }
    return subprocess.run(schedcu_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("vhost", "problem"),
    [(None, "cannot reach RabbitMQ at 127.0.0.1:1"), ("no-such-vhost", 'refused vhost "no-such-vhost"')],
)
def test_status_with_the_broker_down_shows_the_database_side_and_exits_1(
    services: Services, vhost: str | None, problem: str
) -> None:
    url = urlsplit(services.amqp_url)
    amqp_url = UNREACHABLE_BROKER if vhost is None else urlunsplit(url._replace(path=f"/{vhost}"))

    done = schedcu(services, "status", amqp_url=amqp_url)

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert problem in next(line for line in done.stdout.splitlines() if line.startswith("UNHEALTHY: "))
    assert "SCHEDCU_AMQP_URL" in done.stdout and "s3cret" not in done.stdout
    assert "outbox: " in done.stdout and "workflows: " in done.stdout and "latest failures" in done.stdout


@pytest.fixture
def roster(services: Services) -> Iterator[None]:
    """The pipeline's roster before and after: other tests match Amion names against it."""
    with Session(services.engine) as session, session.begin():
        reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])
    yield
    with Session(services.engine) as session, session.begin():
        reconcile(session, [RosterEntry.model_validate(p) for p in ROSTER])


def _active(services: Services) -> set[str]:
    with Session(services.engine) as session:
        return set(session.scalars(select(Person.email).where(Person.active)))


def test_a_roster_that_drops_most_people_is_refused_without_yes_and_shown_by_dry_run(
    services: Services, tmp_path: Path, roster: None
) -> None:
    kept, *dropped = ROSTER
    one_line = tmp_path / "roster.yaml"
    one_line.write_text(yaml.safe_dump({"people": [kept]}), encoding="utf-8")
    before = _active(services)

    shown = schedcu(services, "roster", "import", str(one_line), "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert {line.split()[-1] for line in shown.stdout.splitlines() if "- inactive" in line} == {
        p["email"].lower() for p in dropped
    }
    assert f"{len(dropped)} made inactive (dry run)" in shown.stdout
    assert _active(services) == before

    refused = schedcu(services, "roster", "import", str(one_line))
    assert_one_line(refused, 1, f"{len(dropped)} of {len(ROSTER)} active people inactive", "--yes")
    assert _active(services) == before

    confirmed = schedcu(services, "roster", "import", str(one_line), "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert _active(services) == {kept["email"].lower()}


def test_workflows_list_filters_by_group_and_by_request(services: Services) -> None:
    mark = uuid.uuid4().hex[:8]
    rows = [(f"north-{mark}", f"req-a-{mark}"), (f"north-{mark}", f"req-b-{mark}"), (f"south-{mark}", f"req-c-{mark}")]
    with Session(services.engine) as session, session.begin():
        for group, request_id in rows:
            session.add(
                Workflow(
                    id=uuid.uuid4(), request_id=request_id, group_name=group, state=WorkflowState.RUNNING, request={}
                )
            )
    try:
        by_group = schedcu(services, "workflows", "list", "--group", f"north-{mark}")
        by_request = schedcu(services, "workflows", "list", "--request", f"req-c-{mark}")
    finally:
        with Session(services.engine) as session, session.begin():
            session.execute(delete(Workflow).where(Workflow.request_id.in_([r for _, r in rows])))

    assert by_group.returncode == 0, by_group.stderr
    assert sorted(line.split()[-1] for line in by_group.stdout.splitlines()[1:]) == [f"req-a-{mark}", f"req-b-{mark}"]
    assert [line.split()[-1] for line in by_request.stdout.splitlines()[1:]] == [f"req-c-{mark}"]


def test_control_characters_from_outside_are_printed_as_escapes_not_sent_to_the_terminal(services: Services) -> None:
    mark = uuid.uuid4().hex[:8]
    request_id = f"evil-{mark}\x1b[2J\x1b]0;owned\x07\r\u202eexe.pdf\x9b31m"
    with Session(services.engine) as session, session.begin():
        session.add(
            Workflow(
                id=uuid.uuid4(), request_id=request_id, group_name=f"g-{mark}", state=WorkflowState.RUNNING, request={}
            )
        )
    try:
        listed = schedcu(services, "workflows", "list", "--group", f"g-{mark}")
        as_json = schedcu(services, "workflows", "list", "--group", f"g-{mark}", "--json")
    finally:
        with Session(services.engine) as session, session.begin():
            session.execute(delete(Workflow).where(Workflow.request_id == request_id))

    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()[1:]
    assert line.endswith(f"evil-{mark}\\x1b[2J\\x1b]0;owned\\x07\\r\\u202eexe.pdf\\x9b31m")
    assert not {"\x1b", "\x07", "\r", "\u202e", "\x9b"} & set(listed.stdout)
    assert json.loads(as_json.stdout)[0]["request_id"] == request_id  # JSON keeps the value, escaped


def test_status_counts_the_declared_queues_and_names_each_missing_one(services: Services) -> None:
    """On a vhost where one queue holds messages and the others were never declared, the count of the one and
    every other as not declared (a missing queue closes the channel it was asked on; the next queue is asked on
    a new one)."""
    with ExitStack() as stack:
        amqp_url = isolated_vhost(services.amqp_url, f"schedcu_test_status_{uuid.uuid4().hex[:8]}", stack)

        async def two_messages_on_coverage() -> None:
            async with await aio_pika.connect(amqp_url) as connection:
                channel = await connection.channel()
                await channel.declare_queue("schedcu.coverage", durable=True)
                for _ in range(2):
                    await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key="schedcu.coverage")

        asyncio.run(two_messages_on_coverage())
        done = schedcu(services, "status", "--json", amqp_url=amqp_url)

    assert done.returncode == 1, done.stderr  # no worker runs, queues are missing
    queues = {q["queue"]: q for q in json.loads(done.stdout)["queues"]}
    assert queues.keys() == set(QUEUE_NAMES)
    assert queues["schedcu.coverage"]["messages"] == 2
    assert [name for name, q in queues.items() if q.get("missing")] == [
        n for n in QUEUE_NAMES if n != "schedcu.coverage"
    ]
