"""Manual corrections (`schedcu assignments add|remove`), audited, and `schedcu coverage recalc`, which makes
the coverage worker publish a new `CoverageCalculated`."""

import asyncio
import json
import os
import re
import subprocess
import uuid
from datetime import date
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schedcu.runtime.processes import schedcu_command
from services.coverage import corrections
from shared.db import assignments
from shared.db.models import Person, VersionLifecycle
from shared.kernel import ids
from tests.conftest import Pipeline, Services
from tests.schedcu.test_coverage_queries import template_version
from tests.support import amqp_client

pytestmark = pytest.mark.integration

MON, TUE = date(2026, 3, 2), date(2026, 3, 3)


def schedcu(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(schedcu_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)


def services_env(services: Services) -> dict[str, str]:
    return {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}


def rows(services: Services, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with services.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def assigned(services: Services, version_id: uuid.UUID, day: date, *roles: str) -> list[tuple[Any, ...]]:
    """The version's assignments of `roles` that day as coverage counts them (Amion's and the corrections)."""
    effective = assignments.effective(version_id)
    with Session(services.engine) as session:
        found = session.execute(
            select(effective.c.role, Person.name, effective.c.source, effective.c.note)
            .join(Person, Person.id == effective.c.person_id)
            .where(effective.c.schedule_date == day, effective.c.role.in_(roles))
            .order_by(effective.c.kind, effective.c.id)
        )
        return [tuple(r) for r in found]


def week(services: Services) -> uuid.UUID:
    with Session(services.engine) as session, session.begin():
        return template_version(session, MON, date(2026, 3, 8))


def test_add_and_remove_write_the_assignment_and_an_audit_record(services: Services) -> None:
    version_id = week(services)
    env = services_env(services)
    # Monday: ON1 Adams (AMION), ON2 Baker, ...; Lopez is free. "Lopez,  LU" is her name, folded
    added = schedcu(
        env, "assignments", "add", str(version_id), "2026-03-02", "Mid 3", "Lopez,  LU",
        "--reason", "covers the Mid3 gap", "--actor", "scheduler-1",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added: Lopez, Lu on Mid3 on 2026-03-02 as MANUAL" in added.stdout
    removed = schedcu(
        env, "assignments", "remove", str(version_id), "2026-03-02", "ON1", "ada.adams@example.org",
        "--reason", "sick", "--actor", "scheduler-1",
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    assert "removed (overriding Amion): Adams, Ada on ON1 on 2026-03-02" in removed.stdout

    assert assigned(services, version_id, MON, "Mid3", "ON1") == [
        ("Mid3", "Evans, Eve", "AMION", None),
        ("Mid3", "Lopez, Lu", "MANUAL", "covers the Mid3 gap"),
    ]
    audit = rows(
        services,
        "SELECT actor, action, from_state, to_state, reason, details->>'person', details->>'role' FROM audit_log "
        "WHERE entity = 'assignment' AND details->>'version_id' = :v ORDER BY id",
        v=str(version_id),
    )
    assert audit == [
        ("scheduler-1", "add", None, "MANUAL", "covers the Mid3 gap", "Lopez, Lu", "Mid3"),
        ("scheduler-1", "override", "AMION", None, "sick", "Adams, Ada", "ON1"),
    ]


def test_add_with_replace_over_amion_is_an_override(services: Services) -> None:
    version_id = week(services)
    with Session(services.engine) as session, session.begin():
        changes = corrections.add(session, version_id, TUE, "ON1", "lu.lopez@example.org", "swap", "ops", True)
    assert [str(c) for c in changes] == [
        "removed (overriding Amion): Fox, Finn on ON1 on 2026-03-03",
        "added: Lopez, Lu on ON1 on 2026-03-03 as OVERRIDE",
    ]
    assert assigned(services, version_id, TUE, "ON1") == [("ON1", "Lopez, Lu", "OVERRIDE", "swap")]


@pytest.mark.parametrize(
    ("day", "role", "person", "reason", "message"),
    [
        (date(2026, 3, 9), "ON1", "lu.lopez@example.org", "r", "2026-03-09 is outside the version's period"),
        (MON, "ON3", "lu.lopez@example.org", "r", "'ON3' is not a known role"),
        (MON, "ON1", "ada.adams@example.org", "r", "Adams, Ada is already on ON1 on 2026-03-02"),
        (MON, "ON1", "nobody@example.org", "r", "No person is called 'nobody@example.org'"),
        (MON, "ON1", "lu.lopez@example.org", "  ", "A reason is required"),
    ],
)
def test_refused_corrections_change_nothing(
    services: Services, day: date, role: str, person: str, reason: str, message: str
) -> None:
    version_id = week(services)
    with pytest.raises(corrections.CorrectionError, match=re.escape(message)), Session(services.engine) as session:
        corrections.add(session, version_id, day, role, person, reason, "ops")
    assert rows(services, "SELECT count(*) FROM audit_log WHERE details->>'version_id' = :v", v=str(version_id)) == [
        (0,)
    ]


def test_archived_version_is_never_corrected(services: Services) -> None:
    version_id = week(services)
    with Session(services.engine) as session, session.begin():
        session.add(VersionLifecycle(version_id=version_id, state="ARCHIVED"))
    with pytest.raises(corrections.CorrectionError, match="is archived"), Session(services.engine) as session:
        corrections.remove(session, version_id, MON, "ON1", "ada.adams@example.org", "r", "ops")


async def recalc_and_receive(pipeline: Pipeline, version_id: uuid.UUID, timeout_s: float = 90.0) -> dict[str, Any]:
    """Bind a private queue to `event.coverage.calculated` (a plain aio-pika client, as a downstream
    subscriber), run `schedcu coverage recalc`, return the event of the calculation it announced."""
    async with await aio_pika.connect(pipeline.services.amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(amqp_client.EXCHANGE, routing_key="event.coverage.calculated")
        done = await asyncio.to_thread(schedcu, pipeline.env, "coverage", "recalc", str(version_id))
        assert done.returncode == 0, done.stderr
        announced = re.search(r"calculation ([0-9a-f-]{36})", done.stdout)
        assert announced, done.stdout
        calculation_id = announced.group(1)

        async def first_match() -> dict[str, Any]:
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        event = json.loads(message.body)
                        if event["calculation_id"] == calculation_id:
                            return event
            raise AssertionError("queue iterator ended")

        return await asyncio.wait_for(first_match(), timeout_s)


@pytest.mark.slow
def test_manual_assignment_fills_a_gap_and_recalc_publishes_new_coverage(pipeline: Pipeline) -> None:
    request_id = f"corrections-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    # the demo's Amion leaves Mid3 empty every 9th of the month
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, "2026-03-09", "2026-03-15"))
    amqp_client.publish(pipeline.services.amqp_url, body.encode())
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    version_id = ids.version_id_for(workflow_id)

    [(first,)] = pipeline.query("SELECT summary FROM coverage_calculations WHERE version_id = :v", v=version_id)
    mid3_gaps = [g for g in first["critical_gaps_by_date"]["2026-03-09"] if g["role"] == "Mid3"]
    assert mid3_gaps and {g["status"] for g in mid3_gaps} == {"UNCOVERED"}
    assert len(first["critical_gaps_by_date"]["2026-03-09"]) < 50, "the event's first 50 gaps hold all of the 9th"
    [(free,)] = pipeline.query(
        "SELECT email FROM people WHERE specialty = 'BOTH' AND active AND id NOT IN "
        "(SELECT person_id FROM assignments WHERE version_id = :v AND schedule_date = '2026-03-09') "
        "ORDER BY email LIMIT 1",
        v=version_id,
    )
    added = schedcu(
        pipeline.env, "assignments", "add", str(version_id), "2026-03-09", "Mid3", free, "--reason", "fills Mid3"
    )
    assert added.returncode == 0, added.stderr

    event = asyncio.run(recalc_and_receive(pipeline, version_id))

    assert event["version_id"] == str(version_id) and event["workflow_id"] is None
    assert event["critical_gaps_total"] == first["critical_gaps_total"] - len(mid3_gaps)
    assert event["summary"]["critical_gaps"] == event["critical_gaps_total"]
    assert len(event["critical_gaps"]) == min(50, event["critical_gaps_total"])
    assert not [g for g in event["critical_gaps"] if g["date"] == "2026-03-09" and g["role"] == "Mid3"]
    assert pipeline.query("SELECT count(*) FROM coverage_calculations WHERE version_id = :v", v=version_id) == [(2,)]
    # a recalculation is not part of the import workflow: the saga leaves it as it was
    assert pipeline.workflow_state(workflow_id) == "COMPLETED"
