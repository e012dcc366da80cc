"""Repair through the whole pipeline (real RabbitMQ and PostgreSQL, every worker its own process, the fake Amion):
after promotion, a Mid 3 assignment removed in Amion brings `RepairProposed` within the watch interval (plus the
stated processing allowance), with a fix that fills the gap, keeps every hard rule and changes the fewest
assignments (proven: the solver's bound equals the changes); approving it brings `CoverageChanged` closing the gap,
opening none, with no mandatory gap left anywhere in the version.
A sick call repaired from the command line whose role Amion gives to someone else meanwhile is refused on approval,
and nothing is applied.

The module runs its own pipeline with a watch interval of a few seconds over the first week of next month, and a
repair horizon long enough to reach it."""

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from schedcu.testing.demo_data import ROSTER
from shared.kernel import ids
from tests.conftest import Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client
from tests.support.amion_watch import cli, edit_truth, import_and_promote, truth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MONTH = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)
PERIOD = (MONTH.isoformat(), MONTH.replace(day=7).isoformat())
GAP_DAY = MONTH.replace(day=4)  # Mid 3 on call, no BODY_ONLY reader on ON1/ON2 (the demo's every 3rd day)
SICK_DAY = MONTH.replace(day=5)
GROUP = "test-group"
EVENTS = "repair-test-events"
INTERVAL_S, JITTER_S, TICK_S = 3.0, 0.5, 0.5
# the re-scrape, the coverage phase and the repair's solve, through the real workers on a loaded 2-core machine
PROCESSING_S = 15.0
HARD_RULE_FINDINGS = ("REST_VIOLATION", "DOUBLE_BOOKED", "DUPLICATE_ASSIGNMENT")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    settings = {
        "watch_interval_s": str(INTERVAL_S), "watch_jitter_s": str(JITTER_S), "watch_tick_s": str(TICK_S),
        "repair_horizon_days": "62",
    }  # fmt: skip
    with (
        provisioned(f"schedcu_test_{os.getpid()}_repair") as services,
        running_pipeline(services, tmp_path_factory.mktemp("repair"), months=(MONTH,), **settings) as running,
    ):
        yield running


def take(pipeline: Pipeline, routing_key: str, day: date | None = None) -> dict[str, Any]:
    """The next event with `routing_key` (and a gap on `day`) on the test's queue; others are passed over."""

    def next_one() -> dict[str, Any] | None:
        taken = amqp_client.take(pipeline.services.amqp_url, EVENTS, 5)
        if not taken or taken[0] != routing_key:
            return None
        gaps = taken[1].get("gaps", taken[1].get("gaps_opened", []))
        return taken[1] if day is None or any(g["date"] == day.isoformat() for g in gaps) else None

    return eventually(next_one, 90, routing_key)


def every_reader_on_call_reads_both(assignments: list[dict[str, Any]]) -> None:
    """The demo's BODY_ONLY readers on ON1/ON2 (every 3rd day, leaving neuro worklists open) replaced by BOTH readers
    free that night: the week is published with no mandatory gap."""
    both = [p["name"] for p in ROSTER if p["specialty"] == "BOTH"]
    body_only = {p["name"] for p in ROSTER if p["specialty"] == "BODY_ONLY"}
    for a in assignments:
        if a["name"] in body_only and PERIOD[0] <= a["date"] <= PERIOD[1]:
            on_call = {b["name"] for b in assignments if b["date"] == a["date"]}
            a["name"] = next(name for name in both if name not in on_call)


@pytest.fixture(scope="module")
def promoted(pipeline: Pipeline) -> uuid.UUID:
    edit_truth(pipeline, every_reader_on_call_reads_both)
    version_id = import_and_promote(pipeline, f"repair-{uuid.uuid4()}", PERIOD, "repair test")
    amqp_client.subscribe(pipeline.services.amqp_url, EVENTS, ["event.coverage.changed", "event.repair.proposed"])
    return version_id


def mandatory_gaps(pipeline: Pipeline, calculation_id: str) -> set[tuple[Any, ...]]:
    """The calculation's mandatory gap cells over the whole version: (date, window, worklist, role, status)."""
    return set(
        pipeline.query(
            'SELECT c.schedule_date, c."window", c.worklist, c.role, c.status FROM calculation_cells c '
            "WHERE c.calculation_id = :c AND c.status IN ('UNCOVERED', 'SPECIALTY_MISMATCH') AND c.mandatory",
            c=calculation_id,
        )
    )


def hard_rule_findings(pipeline: Pipeline, calculation_id: str) -> list[str]:
    """The calculation's findings of a broken hard rule (rest, double booking, the same role twice)."""
    return [
        text
        for (text,) in pipeline.query(
            "SELECT f->>'text' FROM coverage_calculations c, jsonb_array_elements(c.findings) f "
            "WHERE c.id = :c AND f->>'code' = ANY(:codes) ORDER BY 1",
            c=calculation_id, codes=list(HARD_RULE_FINDINGS),
        )
    ]  # fmt: skip


def test_a_gap_opened_in_amion_is_repaired_by_itself_and_approving_closes_it(
    pipeline: Pipeline, promoted: uuid.UUID
) -> None:
    def remove(assignments: list[dict[str, Any]]) -> None:
        (mid3,) = [a for a in assignments if a["date"] == GAP_DAY.isoformat() and a["label"].startswith("Mid 3")]
        assignments.remove(mid3)

    edit_truth(pipeline, remove)
    changed_at = time.monotonic()
    opened = take(pipeline, "event.coverage.changed")
    assert {(g["date"], g["role"]) for g in opened["gaps_opened"]} == {(GAP_DAY.isoformat(), "Mid3")}

    proposed = take(pipeline, "event.repair.proposed")
    proposed_s = time.monotonic() - changed_at
    # within the watch interval: the next check comes at most an interval (plus its jitter and tick) after the edit
    within_s = INTERVAL_S + JITTER_S + TICK_S + PROCESSING_S
    assert proposed_s <= within_s, f"RepairProposed {proposed_s:.1f} s after the edit in Amion (> {within_s} s)"
    assert proposed["version_id"] == str(promoted)
    assert proposed["gaps"] == [{"date": GAP_DAY.isoformat(), "role": "Mid3"}]
    assert proposed["unfilled"] == []
    # somebody of the roster is free that evening: one change, proven the fewest
    (move,) = proposed["moves"]
    assert (move["date"], move["role"], move["displaced_id"], move["rule"]) == (
        GAP_DAY.isoformat(),
        "Mid3",
        None,
        "gap",
    )
    assert move["person"] and move["text"].startswith(f"{move['person']} takes the open Mid3")
    # the fewest changes, proven: the solver's lower bound equals the change count
    assert (proposed["changes"], proposed["lower_bound"], proposed["proven"]) == (1, 1, True)
    published = opened["previous_calculation_id"]

    approved = cli(pipeline, "draft", "repair-approve", proposed["run_id"], "--actor", "chief")
    assert approved.returncode == 0, approved.stderr
    closed = take(pipeline, "event.coverage.changed")
    assert {(g["date"], g["role"]) for g in closed["gaps_closed"]} == {(GAP_DAY.isoformat(), "Mid3")}
    assert [g for g in closed["gaps_opened"] if g["severity"] == "ERROR"] == []
    # Over the whole version: published with no mandatory gap, Amion's edit opens GAP_DAY's, and after the approval
    # none is left anywhere
    assert mandatory_gaps(pipeline, published) == set()
    assert {cell[0] for cell in mandatory_gaps(pipeline, opened["calculation_id"])} == {GAP_DAY}
    assert mandatory_gaps(pipeline, closed["calculation_id"]) == set()
    # Every hard rule kept: the demo's Amion data is published with a few rest violations of its own; the approved
    # fix adds no rest, double-booking or duplicate-assignment finding to those.
    added = set(hard_rule_findings(pipeline, closed["calculation_id"])) - set(hard_rule_findings(pipeline, published))
    assert added == set()
    assert pipeline.query(
        "SELECT action FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r", r=proposed["run_id"]
    ) == [("approve",)]


def test_approving_a_repair_whose_row_changed_in_amion_meanwhile_is_refused(
    pipeline: Pipeline, promoted: uuid.UUID
) -> None:
    assignments = truth(pipeline)
    (midc,) = [a for a in assignments if a["date"] == SICK_DAY.isoformat() and a["label"].startswith("MidC")]
    on_call = {a["name"] for a in assignments if a["date"] == SICK_DAY.isoformat()}
    asked = cli(pipeline, "draft", "repair", str(promoted), "--person", midc["name"], "--from", SICK_DAY.isoformat(),
                "--reason", "sick call", "--wait")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    run_id = asked.stdout.split("run ", 1)[1].split()[0]
    assert f"takes {midc['name']}'s MidC on {SICK_DAY.isoformat()}: {midc['name']} is unavailable" in asked.stdout

    stand_in = next(name for name in ("Hill, Hal", "Jones, Jay", "King, Kim", "Lopez, Lu") if name not in on_call)

    def swap(assignments: list[dict[str, Any]]) -> None:
        for a in assignments:
            if a == midc:
                a["name"] = stand_in

    edit_truth(pipeline, swap)
    eventually(
        lambda: pipeline.query(
            "SELECT 1 FROM assignments a JOIN people p ON p.id = a.person_id WHERE a.version_id = :v "
            "AND a.schedule_date = :d AND a.role = 'MidC' AND p.name = :n",
            v=promoted, d=SICK_DAY, n=stand_in,
        ),
        90,
        "the re-scrape of Amion's change",
    )  # fmt: skip

    refused = cli(pipeline, "draft", "repair-approve", run_id, "--actor", "chief")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"Refused, nothing applied: MidC on {SICK_DAY.isoformat()} changed since the repair was proposed (it had "
        f"{midc['name']}, it now has {stand_in}). Start a new repair."
    )
    assert pipeline.query(
        "SELECT count(*) FROM assignment_corrections WHERE note = :n", n=f"repair {run_id} approved"
    ) == [(0,)]
    assert pipeline.query("SELECT DISTINCT state FROM draft_rows WHERE run_id = :r", r=run_id) == [("PROPOSED",)]


def test_a_gap_that_closes_by_itself_makes_its_open_repair_obsolete(pipeline: Pipeline, promoted: uuid.UUID) -> None:
    day = MONTH.replace(day=6)
    removed: list[dict[str, Any]] = []

    def remove(assignments: list[dict[str, Any]]) -> None:
        (mid3,) = [a for a in assignments if a["date"] == day.isoformat() and a["label"].startswith("Mid 3")]
        removed.append(mid3)
        assignments.remove(mid3)

    edit_truth(pipeline, remove)
    proposed = take(pipeline, "event.repair.proposed", day)
    assert proposed["gaps"] == [{"date": day.isoformat(), "role": "Mid3"}]

    edit_truth(pipeline, lambda assignments: assignments.append(removed[0]))  # Amion has it again
    eventually(
        lambda: (
            pipeline.query("SELECT DISTINCT state FROM draft_rows WHERE run_id = :r", r=proposed["run_id"])
            == [("OBSOLETE",)]
        ),
        90,
        "the repair made obsolete",
    )
    assert pipeline.query(
        "SELECT actor, action, reason FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r",
        r=proposed["run_id"],
    ) == [("drafting", "obsolete", "its gap closed by itself")]


def draft_state(pipeline: Pipeline, run_id: str) -> str | None:
    found = pipeline.query("SELECT state FROM draft_runs WHERE id = :r", r=run_id)
    return found[0][0] if found else None


def test_a_repair_asked_while_a_long_draft_solves_is_proposed_before_the_draft_ends(
    pipeline: Pipeline, promoted: uuid.UUID
) -> None:
    """The drafting worker answers a sick call within seconds while it solves a draft of another period."""
    start = (MONTH + timedelta(days=32)).replace(day=1)  # Amion has nothing then: the draft fills every role
    end = start + timedelta(days=90)  # a quarter: its later levels take the solver the whole time limit
    request_id = f"repair-draft-{uuid.uuid4()}"
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, start.isoformat(), end.isoformat()))
    amqp_client.publish(pipeline.services.amqp_url, body.encode())
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) in ("COMPLETED", "COMPLETED_WITH_WARNINGS")
    # a time limit long enough to outlast a repair on a loaded machine
    asked = cli(pipeline, "draft", "new", GROUP, "--start", start.isoformat(), "--end", end.isoformat(),
                "--time-limit", "90", "--workers", "2")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    draft_run = asked.stdout.split("run ", 1)[1].split()[0]
    eventually(
        lambda: any(f"draft run {draft_run}:" in log.read_text(encoding="utf-8")
                    for log in pipeline.log_dir.glob("drafting-*")),
        120, "the solver to start on the draft",
    )  # fmt: skip

    day = MONTH.replace(day=2)
    sick = next(a["name"] for a in truth(pipeline) if a["date"] == day.isoformat() and a["label"].startswith("ON"))
    # the repair shares the cores with the draft's solver: it is given time enough to prove its one change
    repair = cli(pipeline, "draft", "repair", str(promoted), "--person", sick, "--from", day.isoformat(),
                 "--reason", "sick call", "--time-limit", "30")  # fmt: skip
    assert repair.returncode == 0, repair.stderr
    repair_run = repair.stdout.split("run ", 1)[1].split()[0]

    def repair_proposed() -> dict[str, Any] | None:
        taken = amqp_client.take(pipeline.services.amqp_url, EVENTS, 5)
        found = taken is not None and taken[0] == "event.repair.proposed" and taken[1]["run_id"] == repair_run
        return taken[1] if found else None

    proposed = eventually(repair_proposed, 60, "the repair's RepairProposed")
    assert proposed["moves"] and proposed["unfilled"] == []
    assert draft_state(pipeline, draft_run) == "running"  # the draft still solves
    assert eventually(lambda: draft_state(pipeline, draft_run) != "running" and draft_state(pipeline, draft_run),
                      180, "the draft to end") == "completed"  # fmt: skip
