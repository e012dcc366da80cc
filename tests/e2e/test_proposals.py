"""The proposal lifecycle end to end (real RabbitMQ and PostgreSQL, every worker its own process, the watch of
Amion every few seconds): a production version of next month with Mid3 empty on the 9th and the 18th (the demo's
Amion), proposals for its gaps, one rejected (`ProposalRejected`), one edited and approved (an audited OVERRIDE,
`ProposalApproved`, and the coverage worker's recalculation where the cell is COVERED, announced by
`CoverageChanged` with the night's Mid3 gaps closed), each event received by a plain aio-pika subscriber. Each
proposal fills one gap line: Mid3 on one night, with one person. Then Amion changes: it fills the 9th itself, so
that night's open proposal becomes OBSOLETE, and puts someone else on the approved Mid3 of the 18th, so
coverage reports OVERRIDE_CONFLICTS_WITH_AMION and keeps the override. The watch finds the change and
re-scrapes, as it does in production."""

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import yaml

from schedcu.runtime.processes import schedcu_command
from schedcu.testing.demo_data import ROSTER
from shared.kernel import ids
from tests.conftest import Pipeline, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MONTH = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)  # the watch checks from today's month
START, END = MONTH.replace(day=9), MONTH.replace(day=18)
NINTH, EIGHTEENTH = START.isoformat(), END.isoformat()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    settings = {"watch_interval_s": "3.0", "watch_jitter_s": "0.5", "watch_tick_s": "0.5"}
    with (
        provisioned(f"schedcu_test_{os.getpid()}_proposals") as services,
        running_pipeline(services, tmp_path_factory.mktemp("proposals"), months=(MONTH,), **settings) as running,
    ):
        yield running


def cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        schedcu_command(*args), env=pipeline.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def cli_json(pipeline: Pipeline, *args: str) -> Any:
    return json.loads(cli(pipeline, *args, "--json").stdout)


class Subscriber:
    """A private queue bound to the proposal events, `CoverageCalculated` and `CoverageChanged`, read with
    aio-pika only."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def run(self, steps: Callable[[], None], done: Callable[[list[tuple[str, dict[str, Any]]]], bool]) -> None:
        """Bind, run the blocking `steps` in a thread, then read events until `done` says they are all in."""
        async with await aio_pika.connect(self.amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for key in ("event.proposal.*", "event.coverage.calculated", "event.coverage.changed"):
                await queue.bind(amqp_client.EXCHANGE, routing_key=key)
            await asyncio.to_thread(steps)

            async def read() -> None:
                async with queue.iterator() as messages:
                    async for message in messages:
                        async with message.process():
                            self.events.append((message.routing_key or "", json.loads(message.body)))
                            if done(self.events):
                                return

            await asyncio.wait_for(read(), 120)

    def of(self, routing_key: str) -> list[dict[str, Any]]:
        return [body for key, body in self.events if key == routing_key]


def latest_cells(pipeline: Pipeline, version_id: uuid.UUID, day: str, role: str) -> list[tuple[Any, ...]]:
    return pipeline.query(
        "SELECT \"window\", worklist, status, people FROM calculation_cells WHERE calculation_id = "
        "(SELECT id FROM coverage_calculations WHERE version_id = :v ORDER BY created_at DESC LIMIT 1) "
        "AND schedule_date = :d AND role = :r ORDER BY schedule_date, id",
        v=version_id, d=date.fromisoformat(day), r=role,
    )  # fmt: skip


def amion_truth(pipeline: Pipeline) -> Path:
    return pipeline.log_dir.parent / "truth.yaml"


def edit_amion(pipeline: Pipeline, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Rewrite the fake Amion's truth file at once (written aside, then renamed over it)."""
    path = amion_truth(pipeline)
    truth = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(truth["assignments"])
    aside = path.with_suffix(".new")
    aside.write_text(yaml.safe_dump(truth), encoding="utf-8")
    aside.replace(path)


def free_people(assignments: list[dict[str, Any]], day: str, *not_them: str) -> list[str]:
    """BOTH radiologists Amion has on no role on `day`, apart from `not_them`."""
    busy = {a["name"] for a in assignments if str(a["date"]) == day}
    return [p["name"] for p in ROSTER if p["specialty"] == "BOTH" and p["name"] not in busy | set(not_them)]


def test_proposals_from_gap_to_approval_obsolete_and_conflict_with_amion(pipeline: Pipeline, tmp_path: Path) -> None:
    request_id = f"proposals-{uuid.uuid4()}"
    workflow_id = ids.workflow_id_for(request_id)
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, START.isoformat(), END.isoformat()))
    amqp_client.publish(pipeline.services.amqp_url, body.encode())
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    version_id = ids.version_id_for(workflow_id)
    v = str(version_id)
    cli(pipeline, "versions", "promote", v, "--force", "--reason", "proposals test")  # the watch checks production

    # 1. one proposal per gap line: Mid3 on the 9th and on the 18th, each with one person for all its gaps
    created: list[str] = []
    subscriber = Subscriber(pipeline.services.amqp_url)
    asyncio.run(
        subscriber.run(
            lambda: created.extend(cli(pipeline, "proposals", "create", v, "--actor", "e2e").stdout.split()),
            lambda events: len([k for k, _ in events if k == "event.proposal.created"]) == len(created),
        )
    )
    proposals = cli_json(pipeline, "proposals", "list", v)
    assert sorted(p["proposal_id"] for p in proposals) == sorted(created)
    assert {p["state"] for p in proposals} == {"PROPOSED"}
    mid3 = [p for p in proposals if p["role"] == "Mid3"]
    assert sorted(p["date"] for p in mid3) == [NINTH, EIGHTEENTH]
    assert sorted(e["proposal_id"] for e in subscriber.of("event.proposal.created")) == sorted(created)
    gaps = cli_json(pipeline, "gaps", v)["gaps"]
    for p in mid3:
        line = [g for g in gaps if (g["date"], g["assign_role"]) == (p["date"], "Mid3")]
        assert sorted((c["window"], c["worklist"]) for c in p["fills"]) == sorted(
            (g["window"], g["worklist"]) for g in line
        )
        assert p["stays_open"] == [] and all(
            p["person"]["person_id"] in {c["person_id"] for c in g["candidates"]} for g in line
        )
    turned_down, chosen = sorted(mid3, key=lambda p: p["date"])
    # another candidate than the proposed one, of both specialties: Mid3 reads Body and Neuro worklists
    line_18th = [g for g in gaps if (g["date"], g["assign_role"]) == (EIGHTEENTH, "Mid3")]
    second_best = next(
        c["name"] for c in line_18th[0]["candidates"]
        if c["specialty"] == "BOTH" and c["person_id"] != chosen["person"]["person_id"]
    )  # fmt: skip

    # 2. reject the 9th's (a new one is made for it), edit and approve the 18th's; the worker recalculates
    approval: list[str] = []
    ninth: list[str] = []

    def steps() -> None:
        cli(
            pipeline,
            "proposals",
            "reject",
            turned_down["proposal_id"],
            "--reason",
            "a locum takes it",
            "--actor",
            "e2e",
        )
        cli(pipeline, "proposals", "edit", chosen["proposal_id"], "--candidate", second_best, "--actor", "e2e")
        approval.append(cli(pipeline, "proposals", "approve", chosen["proposal_id"], "--actor", "e2e").stdout)
        ninth.extend(cli(pipeline, "proposals", "create", v, "--date", NINTH, "--actor", "e2e").stdout.split())

    def all_in(events: list[tuple[str, dict[str, Any]]]) -> bool:
        keys = [k for k, _ in events]
        approved = [b for k, b in events if k == "event.proposal.approved"]
        recalculated = {b["calculation_id"] for k, b in events if k == "event.coverage.calculated"}
        changed = {b["calculation_id"] for k, b in events if k == "event.coverage.changed"}
        return (
            "event.proposal.rejected" in keys
            and bool(approved)
            and approved[0]["recalculation_id"] in recalculated & changed
        )

    subscriber = Subscriber(pipeline.services.amqp_url)
    asyncio.run(subscriber.run(steps, all_in))
    (rejected,) = subscriber.of("event.proposal.rejected")
    assert (rejected["proposal_id"], rejected["reason"], rejected["by"]) == (
        turned_down["proposal_id"], "a locum takes it", "e2e"
    )  # fmt: skip
    (approved,) = subscriber.of("event.proposal.approved")
    assert (approved["proposal_id"], approved["person"]["name"], approved["assign_role"], approved["version_id"]) == (
        chosen["proposal_id"], second_best, "Mid3", v
    )  # fmt: skip
    assert f"recalculation requested: calculation {approved['recalculation_id']}" in approval[0]
    (calculated,) = [e for e in subscriber.of("event.coverage.calculated")
                     if e["calculation_id"] == approved["recalculation_id"]]  # fmt: skip
    assert not [g for g in calculated["critical_gaps"] if (g["date"], g["role"]) == (EIGHTEENTH, "Mid3")]
    (coverage_changed,) = [e for e in subscriber.of("event.coverage.changed")
                           if e["calculation_id"] == approved["recalculation_id"]]  # fmt: skip
    closed = {(g["date"], g["window"], g["worklist"], g["role"]) for g in coverage_changed["gaps_closed"]}
    assert closed == {(EIGHTEENTH, c["window"], c["worklist"], "Mid3") for c in chosen["fills"]}
    assert coverage_changed["gaps_opened"] == []
    cells = latest_cells(pipeline, version_id, EIGHTEENTH, "Mid3")
    assert {(status, tuple(people)) for _, _, status, people in cells} == {("COVERED", (second_best,))}
    assert pipeline.query(
        "SELECT c.source, p.name FROM assignment_corrections c JOIN people p ON p.id = c.person_id "
        "WHERE c.version_id = :v",
        v=version_id,
    ) == [("OVERRIDE", second_best)]
    assert pipeline.query(
        "SELECT actor, action, to_state, reason FROM audit_log "
        "WHERE entity = 'assignment' AND details->>'version_id' = :v",
        v=v,
    ) == [("e2e", "add", "OVERRIDE", f"proposal {chosen['proposal_id']} approved")]
    states = {p["proposal_id"]: p["state"] for p in cli_json(pipeline, "proposals", "list", v)}
    assert states[chosen["proposal_id"]] == "APPROVED" and states[turned_down["proposal_id"]] == "REJECTED"
    assert len(ninth) == 1 and states[ninth[0]] == "PROPOSED"
    history = cli_json(pipeline, "proposals", "show", chosen["proposal_id"])["history"]
    assert [(h["action"], h["from_state"], h["to_state"], h["to_person"]) for h in history] == [
        ("create", None, "PROPOSED", chosen["person"]["name"]),
        ("edit", "PROPOSED", "EDITED", second_best),
        ("approve", "EDITED", "APPROVED", second_best),
    ]

    # 3. Amion changes: Mid3 filled on the 9th, and someone else than the override on Mid3 on the 18th; the
    # watch re-scrapes and coverage announces the change
    filled: dict[str, str] = {}

    def fill_mid3(assignments: list[dict[str, Any]]) -> None:
        filled[NINTH] = free_people(assignments, NINTH)[0]
        filled[EIGHTEENTH] = free_people(assignments, EIGHTEENTH, second_best)[0]
        for day, name in filled.items():
            assignments.append({"date": day, "label": "Mid 3 5p-1a", "name": name, "start": "1700", "end": "0100"})

    subscriber = Subscriber(pipeline.services.amqp_url)
    asyncio.run(
        subscriber.run(
            lambda: edit_amion(pipeline, fill_mid3),
            lambda events: any(k == "event.coverage.changed" for k, _ in events),
        )
    )
    (rescraped,) = subscriber.of("event.coverage.changed")
    on_18th = filled[EIGHTEENTH]
    assert {(g["date"], g["role"]) for g in rescraped["gaps_closed"]} == {(NINTH, "Mid3")}
    assert rescraped["workflow_id"] is not None  # the watch's re-scrape workflow, not an operator's recalculation

    ((calculation_id, findings),) = pipeline.query(
        "SELECT id, findings FROM coverage_calculations WHERE version_id = :v ORDER BY created_at DESC LIMIT 1",
        v=version_id,
    )
    assert str(calculation_id) == rescraped["calculation_id"]
    shown = cli_json(pipeline, "proposals", "show", ninth[0])
    assert shown["state"] == "OBSOLETE"
    last = shown["history"][-1]
    assert (last["actor"], last["from_state"], last["to_state"]) == ("coverage", "PROPOSED", "OBSOLETE")
    first = shown["fills"][0]
    assert last["reason"] == (
        f"coverage changed: calculation {calculation_id} finds {first['worklist']} in {first['window']} COVERED"
    )
    (conflict,) = [f for f in findings if f["code"] == "OVERRIDE_CONFLICTS_WITH_AMION"]
    assert conflict["location"] == EIGHTEENTH
    assert conflict["text"].startswith(
        f"The approved override of proposal {chosen['proposal_id']} ({second_best} on Mid3"
    )
    assert conflict["text"].endswith(f"conflicts with Amion, which now assigns {on_18th} to Mid3 on {EIGHTEENTH}.")
    # the override is kept and still counts, beside Amion's person
    assert pipeline.query("SELECT source FROM assignment_corrections WHERE version_id = :v", v=version_id) == [
        ("OVERRIDE",)
    ]
    assert {tuple(people) for *_, people in latest_cells(pipeline, version_id, EIGHTEENTH, "Mid3")} == {
        (on_18th, second_best)
    }
    assert "OVERRIDE_CONFLICTS_WITH_AMION 1" in cli(pipeline, "coverage", "show", v).stdout
    cli(pipeline, "verify", v)

    page = tmp_path / "coverage.html"
    cli(pipeline, "coverage", "report", v, "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert '<table class="counts" id="fairness">' in html and "OVERRIDE_CONFLICTS_WITH_AMION" in html
    fairness = cli_json(pipeline, "fairness", v)
    (person,) = [p for p in fairness["people"] if p["name"] == second_best]
    assert person["nights"] >= 1 and person["hours"] > 0
