"""Drafting through the real drafting worker: a version imported by the pipeline (a fortnight Amion has nothing
for, so that nothing is kept), a standing rotation and a time off stored with `schedcu draft ...`, then
`schedcu draft new --wait`: the run completes, its rows honor the rotation, the person on time off holds nothing
those dates, and every role is filled or listed as unfilled with each person's reason."""

import json
import subprocess
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from schedcu.processes import schedcu_command
from shared import ids
from tests.conftest import Pipeline, eventually
from tests.support import amqp_client

pytestmark = pytest.mark.integration

START, END = date(2026, 5, 4), date(2026, 5, 17)  # Amion's truth holds March only
GROUP = "test-group"  # amqp_client.import_requested's
PERIOD = ("--start", START.isoformat(), "--end", END.isoformat())
ROTATION = ("mon", "ON1", "Adams, Ada")
OFF = ("Evans, Eve", date(2026, 5, 6), date(2026, 5, 8))


def cli(pipeline: Pipeline, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        schedcu_command(*args), env=pipeline.env, capture_output=True, text=True, timeout=300, check=False
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def imported(pipeline: Pipeline) -> uuid.UUID:
    request_id = f"draft-{uuid.uuid4()}"
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, START.isoformat(), END.isoformat()))
    amqp_client.publish(pipeline.services.amqp_url, body.encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) in ("COMPLETED", "COMPLETED_WITH_WARNINGS")
    return ids.version_id_for(workflow_id)


def test_a_draft_run_honors_rotations_and_time_off_and_explains_what_stays_unfilled(pipeline: Pipeline) -> None:
    version_id = imported(pipeline)
    weekday, role, person = ROTATION
    cli(pipeline, "draft", "rotation", "add", GROUP, weekday, role, person,
        "--from", START.isoformat(), "--to", END.isoformat(), "--actor", "e2e")  # fmt: skip
    who, first, last = OFF
    cli(pipeline, "draft", "timeoff", "add", who, "--from", first.isoformat(), "--to", last.isoformat())

    done = cli(pipeline, "draft", "new", GROUP, *PERIOD, "--time-limit", "15", "--wait", "--reason", "e2e", ok=False)
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stdout.split("run ", 1)[1].split()[0]
    assert "nights: sum of deviations" in done.stdout
    show: dict[str, Any] = json.loads(cli(pipeline, "draft", "show", run_id, "--json").stdout)

    assert (show["state"], show["version_id"], show["reason"], show["attempts"]) == (
        "completed", str(version_id), "e2e", 1
    )  # fmt: skip
    assert show["outcome"] in ("OPTIMAL", "FEASIBLE")
    assert show["kept"] == 0 and show["kept_rows"] == []
    assert show["to_fill"] == 14 * 5
    rows = {(r["date"], r["role"]): r["person"] for r in show["rows"]}
    assert {r["state"] for r in show["rows"]} == {"PROPOSED"}
    mondays = [START + timedelta(days=7 * k) for k in range(2)]
    assert [rows.get((d.isoformat(), role)) for d in mondays] == [person, person]
    off_days = {(first + timedelta(days=k)).isoformat() for k in range((last - first).days + 1)}
    assert not [key for key, name in rows.items() if name == who and key[0] in off_days]
    unfilled = show["explanations"]["unfilled"]
    assert show["filled"] == len(rows) and show["filled"] + len(unfilled) == show["to_fill"]
    for u in unfilled:
        assert u["people"] and all(p["reasons"] for p in u["people"]), u
        assert (u["date"], u["role"]) not in rows
    levels = [level["level"] for level in show["levels"]]
    assert levels[0] == "unfilled mandatory roles" and levels[-1] == "consecutive nights and weekends"

    listed = cli(pipeline, "draft", "runs", "--version", str(version_id)).stdout
    assert run_id in listed and "completed" in listed
    grid = cli(pipeline, "draft", "show", run_id).stdout
    monday = next(line for line in grid.splitlines() if line.startswith(f"  {mondays[0].isoformat()} "))
    assert person in monday


def run_state(pipeline: Pipeline, run_id: str) -> tuple[str, int] | None:
    found = pipeline.query("SELECT state, attempts FROM draft_runs WHERE id = :r", r=run_id)
    return found[0] if found else None


def solving(pipeline: Pipeline, run_id: str) -> bool:
    """The drafting worker has read the problem and started the solver on the run."""
    return any(f"draft run {run_id}:" in log.read_text(encoding="utf-8") for log in pipeline.log_dir.glob("drafting-*"))


def test_a_worker_killed_mid_solve_leaves_no_rows_and_the_run_is_solved_again(pipeline: Pipeline) -> None:
    imported(pipeline)
    done = cli(pipeline, "draft", "new", GROUP, *PERIOD, "--time-limit", "30", "--workers", "1")
    run_id = done.stdout.split("run ", 1)[1].split()[0]
    eventually(lambda: solving(pipeline, run_id), what="the solver to start on the run")
    pipeline.workers["drafting"].kill()

    assert run_state(pipeline, run_id) == ("running", 1)
    assert pipeline.query("SELECT count(*) FROM draft_rows WHERE run_id = :r", r=run_id) == [(0,)]
    pipeline.restart("drafting")
    state = eventually(lambda: (s := run_state(pipeline, run_id)) and s[0] != "running" and s, 120, "the retried run")
    assert state == ("completed", 2)
    retried = pipeline.query(
        "SELECT action, from_state, to_state FROM audit_log WHERE entity = 'draft_run' AND entity_id = :r", r=run_id
    )
    assert retried == [("retry", "crashed", "running")]
    rows = pipeline.query(
        "SELECT count(*), count(DISTINCT (schedule_date, role)) FROM draft_rows WHERE run_id = :r", r=run_id
    )
    filled = pipeline.query("SELECT filled FROM draft_runs WHERE id = :r", r=run_id)
    assert rows == [(filled[0][0], filled[0][0])]
