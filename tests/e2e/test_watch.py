"""The watch of Amion through the whole pipeline (real RabbitMQ and PostgreSQL, every worker its own process):
after promotion, one Mid 3 assignment removed in the fake Amion opens exactly the gaps the rules say, announced
by `CoverageChanged` after one watch interval; putting it back closes them; with no change there is no event,
no calculation, no scrape batch and no workflow, only the time of the check. Operators see each group's watch
and pause it.

The module runs its own pipeline with a watch interval of a few seconds, over the first week of next month
(the watch checks the months from today's on)."""

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client
from tests.support.amion_watch import cli, edit_truth, import_and_promote

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MONTH = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)
PERIOD = (MONTH.isoformat(), MONTH.replace(day=7).isoformat())
DAY = MONTH.replace(day=3)  # a weekday or not, Mid 3 is on call (the demo leaves it empty every 9th day only)
GROUP = "test-group"
INTERVAL_S = 3.0
EVENTS = "watch-test-events"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    settings = {"watch_interval_s": str(INTERVAL_S), "watch_jitter_s": "0.5", "watch_tick_s": "0.5"}
    with (
        provisioned(f"schedcu_test_{os.getpid()}_watch") as services,
        running_pipeline(services, tmp_path_factory.mktemp("watch"), months=(MONTH,), **settings) as running,
    ):
        yield running


def counts(pipeline: Pipeline) -> tuple[int, int, int]:
    """Coverage calculations, scrape batches and workflows."""
    ((calculations, batches, workflows),) = pipeline.query(
        "SELECT (SELECT count(*) FROM coverage_calculations), (SELECT count(*) FROM scrape_batches), "
        "(SELECT count(*) FROM workflows)"
    )
    return calculations, batches, workflows


def watch_row(pipeline: Pipeline) -> dict[str, Any]:
    rows = pipeline.query(
        "SELECT paused, last_check_at, next_check_at, last_change_at, last_outcome, clock_timestamp() "
        "FROM amion_watches WHERE group_name = :g",
        g=GROUP,
    )
    keys = ("paused", "last_check_at", "next_check_at", "last_change_at", "last_outcome", "now")
    return dict(zip(keys, rows[0], strict=True)) if rows else {}


def a_check_after(pipeline: Pipeline, moment: Any) -> dict[str, Any]:
    return eventually(
        lambda: (row := watch_row(pipeline)).get("last_check_at") and row["last_check_at"] > moment and row,
        90,
        "a watch check",
    )


def gap_keys(gaps: list[dict[str, Any]]) -> set[tuple[str, str, str, str, str]]:
    return {(g["date"], g["window"], g["worklist"], g["role"], g["status"]) for g in gaps}


@pytest.fixture(scope="module")
def promoted(pipeline: Pipeline) -> uuid.UUID:
    version_id = import_and_promote(pipeline, f"watch-{uuid.uuid4()}", PERIOD, "watch test")
    amqp_client.subscribe(pipeline.services.amqp_url, EVENTS, ["event.coverage.changed"])
    return version_id


def mid3_cells(pipeline: Pipeline, version_id: uuid.UUID, day: date) -> set[tuple[str, str, str, str, str]]:
    """Every cell of `day` that Mid3 reads in the version's latest calculation, as a gap would name it."""
    rows = pipeline.query(
        'SELECT c.schedule_date, c."window", c.worklist, c.role FROM calculation_cells c '
        "WHERE c.calculation_id = (SELECT id FROM coverage_calculations WHERE version_id = :v "
        "ORDER BY created_at DESC LIMIT 1) AND c.schedule_date = :d AND c.role = 'Mid3'",
        v=version_id,
        d=day,
    )
    return {(d.isoformat(), window, worklist, role, "UNCOVERED") for d, window, worklist, role in rows}


def test_a_removed_mid3_assignment_opens_exactly_its_gaps_and_putting_it_back_closes_them(
    pipeline: Pipeline, promoted: uuid.UUID
) -> None:
    first = a_check_after(pipeline, watch_row(pipeline).get("last_check_at") or EPOCH)
    assert first["last_outcome"] == "UNCHANGED"
    expected = mid3_cells(pipeline, promoted, DAY)
    assert expected  # the template has worklists Mid3 reads on that date
    removed: list[dict[str, Any]] = []

    def remove(assignments: list[dict[str, Any]]) -> None:
        (mid3,) = [a for a in assignments if a["date"] == DAY.isoformat() and a["label"].startswith("Mid 3")]
        removed.append(mid3)
        assignments.remove(mid3)

    edit_truth(pipeline, remove)
    routing_key, opened = amqp_client.take(pipeline.services.amqp_url, EVENTS, 90) or ("", {})
    assert routing_key == "event.coverage.changed", "no CoverageChanged after the Mid 3 assignment was removed"
    assert opened["version_id"] == str(promoted)
    assert gap_keys(opened["gaps_opened"]) == expected
    assert opened["gaps_closed"] == []
    assert {
        (c["date"], c["window"], c["worklist"], c["role"], c["new"]["status"]) for c in opened["changed_cells"]
    } == (expected)
    assert all(c["old"] == {"status": "COVERED", "people": [removed[0]["name"]]} for c in opened["changed_cells"])
    assert all(len(g["candidates"]) <= 3 for g in opened["gaps_opened"])
    assert any(g["candidates"] for g in opened["gaps_opened"])  # others of the roster are free that evening
    assert opened["previous_calculation_id"] != opened["calculation_id"]

    workflows = cli(pipeline, "workflows", "list", "--group", GROUP)
    assert any("RESCRAPE" in line and "watch" in line for line in workflows.stdout.splitlines()), workflows.stdout
    ((rescrape_request_id, has_template),) = pipeline.query(
        "SELECT request_id, request ? 'template' FROM workflows WHERE kind = 'RESCRAPE'"
    )
    assert not has_template  # only an import's first phase reads the template
    reused = json.dumps(amqp_client.import_requested(rescrape_request_id, pipeline.template, *PERIOD))
    rejected = amqp_client.publish_and_receive(
        pipeline.services.amqp_url, reused.encode(), binding="event.import.rejected",
        match={"request_id": rescrape_request_id},
    )  # fmt: skip
    assert rejected["code"] == "REQUEST_ID_REUSED"
    assert "a re-scrape started by the watch" in rejected["reason"]

    edit_truth(pipeline, lambda assignments: assignments.append(removed[0]))
    routing_key, closed = amqp_client.take(pipeline.services.amqp_url, EVENTS, 90) or ("", {})
    assert routing_key == "event.coverage.changed", "no CoverageChanged after the Mid 3 assignment came back"
    assert gap_keys(closed["gaps_closed"]) == expected
    assert closed["gaps_opened"] == []
    assert closed["previous_calculation_id"] == opened["calculation_id"]


def test_with_no_change_a_check_writes_only_its_time(pipeline: Pipeline, promoted: uuid.UUID) -> None:
    settled = eventually(
        lambda: not pipeline.query("SELECT 1 FROM workflows WHERE state = 'RUNNING'") and watch_row(pipeline),
        90,
        "no workflow running",
    )
    before = counts(pipeline)
    later = a_check_after(pipeline, settled["now"])
    again = a_check_after(pipeline, later["last_check_at"])
    assert again["last_outcome"] == "UNCHANGED"
    assert counts(pipeline) == before
    assert amqp_client.take(pipeline.services.amqp_url, EVENTS, 0) is None


def test_operators_see_each_groups_watch_and_pause_it(pipeline: Pipeline, promoted: uuid.UUID) -> None:
    a_check_after(pipeline, EPOCH)
    shown = cli(pipeline, "watch", "status", "--json")
    assert shown.returncode == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert row["group"] == GROUP and row["paused"] is False and row["last_check_at"] and row["next_check_at"]

    paused = cli(pipeline, "watch", "pause", GROUP, "--reason", "Amion maintenance")
    assert paused.returncode == 0, paused.stderr
    when = watch_row(pipeline)["next_check_at"] + timedelta(seconds=2)  # a check already sent has answered by then
    at_pause = eventually(lambda: (row := watch_row(pipeline))["now"] > when and row, 30, "the check in flight")
    passed = at_pause["now"] + timedelta(seconds=INTERVAL_S + 2)
    eventually(lambda: watch_row(pipeline)["now"] > passed, 30, "a watch interval to pass")
    assert watch_row(pipeline)["last_check_at"] == at_pause["last_check_at"]
    text = cli(pipeline, "watch", "status").stdout
    assert "paused" in text

    assert cli(pipeline, "watch", "resume", GROUP).returncode == 0
    a_check_after(pipeline, at_pause["last_check_at"])
    audit = pipeline.query(
        "SELECT action, from_state, to_state, reason FROM audit_log WHERE entity = 'amion_watch' ORDER BY id"
    )
    assert audit == [("pause", "RUNNING", "PAUSED", "Amion maintenance"), ("resume", "PAUSED", "RUNNING", None)]
    unknown = cli(pipeline, "watch", "pause", "no-such-group")
    assert unknown.returncode == 1 and unknown.stderr.startswith("schedcu: no watch for group")
