"""Drafting through the real workers: a version imported by the pipeline (a period Amion has nothing for, so that
nothing is kept), a standing rotation and a time off stored with `schedcu draft ...`, then
`schedcu draft new --wait`: the run completes, its rows honor the rotation, the person on time off holds nothing
those dates, and every role is filled or listed as unfilled with each person's reason. A month drafted as the
DRAFT workflow: DraftProposed, the coverage worker's own check of the draft, approval, and the exports."""

import csv
import io
import json
import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ezodf
import icalendar
import pytest

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline, eventually
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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


def imported(pipeline: Pipeline, start: date = START, end: date = END) -> uuid.UUID:
    request_id = f"draft-{uuid.uuid4()}"
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, start.isoformat(), end.isoformat()))
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


MONTH_START, MONTH_END = date(2026, 9, 1), date(2026, 9, 30)  # the demo roster and template; Amion has nothing
EVENTS = f"e2e-drafting-{uuid.uuid4().hex[:8]}"
RULE_BREAKS = {"REST_VIOLATION", "DOUBLE_BOOKED", "DUPLICATE_ASSIGNMENT"}


def events_until(pipeline: Pipeline, wanted: set[str], version_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """The subscriber's events of the version, by routing key, until every one of `wanted` has come (the events of
    earlier tests' drafts are passed over)."""
    found: dict[str, dict[str, Any]] = {}
    while not wanted <= found.keys():
        event = amqp_client.take(pipeline.services.amqp_url, EVENTS, timeout_s=180)
        assert event is not None, f"no {wanted - found.keys()} within 180 s"
        if event[1]["version_id"] == str(version_id):
            found[event[0]] = event[1]
    return found


def test_the_demo_month_is_drafted_checked_by_coverage_approved_and_exported(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    bindings = ["event.draft.proposed", "event.coverage.draft_checked", "event.coverage.changed"]
    amqp_client.subscribe(pipeline.services.amqp_url, EVENTS, bindings)
    version_id = imported(pipeline, MONTH_START, MONTH_END)
    month = ("--start", MONTH_START.isoformat(), "--end", MONTH_END.isoformat())

    done = cli(pipeline, "draft", "new", GROUP, *month, "--time-limit", "20", "--wait", ok=False)
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stdout.split("run ", 1)[1].split()[0]
    events = events_until(pipeline, {"event.draft.proposed", "event.coverage.draft_checked"}, version_id)
    proposed, checked = events["event.draft.proposed"], events["event.coverage.draft_checked"]
    assert (proposed["run_id"], proposed["version_id"]) == (run_id, str(version_id))
    assert (proposed["to_fill"], proposed["filled"], proposed["unfilled"], proposed["kept"]) == (30 * 5, 150, 0, 0)
    assert (checked["run_id"], checked["workflow_id"]) == (run_id, proposed["workflow_id"])
    assert checked["summary"]["critical_gaps"] == 0 and checked["summary"]["unknown_cells"] == 0
    assert not [f for f in checked["findings"] if f["code"] in RULE_BREAKS]
    assert "workflow " in done.stdout and done.stdout.rstrip().endswith("COMPLETED")

    approved = cli(pipeline, "draft", "approve", run_id, "--actor", "chief")
    calculation = approved.stdout.rsplit("calculation ", 1)[1].split()[0]
    assert "approved 150 rows as DRAFT assignments" in approved.stdout
    eventually(lambda: pipeline.query("SELECT 1 FROM coverage_calculations WHERE id = :c", c=calculation),
               what="the recalculation after the approval")  # fmt: skip
    assert pipeline.query(
        "SELECT source, count(*) FROM assignment_corrections WHERE version_id = :v GROUP BY source", v=version_id
    ) == [("DRAFT", 150)]
    assert (
        events_until(pipeline, {"event.coverage.changed"}, version_id)["event.coverage.changed"]["calculation_id"]
        == calculation
    )

    cli(pipeline, "draft", "export", run_id, "--format", "csv", "--out", str(tmp_path / "draft.csv"))
    cli(pipeline, "draft", "export", run_id, "--format", "ods", "--out", str(tmp_path / "draft.ods"))
    cli(pipeline, "draft", "export", run_id, "--format", "ics", "--out", str(tmp_path / "calendars"))
    table = list(csv.reader(io.StringIO((tmp_path / "draft.csv").read_text(encoding="utf-8"))))
    assert table[0] == ["schedule_date", "role", "person", "email", "starts_at", "ends_at"]
    assert len(table) == 151 and {row[0] for row in table[1:]} == {
        (MONTH_START + timedelta(days=n)).isoformat() for n in range(30)
    }
    assert all(row[4] and row[5] for row in table[1:])
    sheet = ezodf.opendoc(str(tmp_path / "draft.ods")).sheets["2026-09"]
    assert sheet.nrows() == 31 and sheet[0, 0].value == "date"
    events_in = [
        component
        for path in (tmp_path / "calendars").glob("*.ics")
        for component in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")
    ]
    assert len(events_in) == 150
