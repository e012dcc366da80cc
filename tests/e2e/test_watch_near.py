"""The near-term watch through the whole pipeline (real RabbitMQ and PostgreSQL, every worker its own process,
the fake Amion): tonight's assignment removed in Amion is announced by `CoverageChanged` within the near-term
interval, while the full watch keeps its 15 minutes; the fake's request log shows the account's requests never
closer than its politeness.

The module runs its own pipeline over a week from today, with a near-term interval of a few seconds."""

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = pytest.mark.integration

TONIGHT = datetime.now(ZoneInfo("America/New_York")).date()
PERIOD = (TONIGHT.isoformat(), (TONIGHT + timedelta(days=6)).isoformat())
MONTHS = tuple(sorted({TONIGHT.replace(day=1), (TONIGHT + timedelta(days=6)).replace(day=1)}))
NEAR_INTERVAL_S, NEAR_JITTER_S, TICK_S = 4.0, 0.5, 0.5
POLITENESS_S = 1.0  # the account's requests_per_s is the default, 1
PROCESSING_S = 30.0  # the check's request, the re-scrape and the coverage phase, on a loaded 2-core machine
EVENTS = "watch-near-test-events"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    settings = {  # the full watch keeps its default interval (900 s): only a near-term check can see the change
        "watch_near_interval_s": str(NEAR_INTERVAL_S),
        "watch_near_jitter_s": str(NEAR_JITTER_S),
        "watch_tick_s": str(TICK_S),
    }
    with (
        provisioned(f"schedcu_test_{os.getpid()}_watch_near") as services,
        running_pipeline(services, tmp_path_factory.mktemp("watch-near"), months=MONTHS, **settings) as running,
    ):
        yield running


def last_check_at(pipeline: Pipeline) -> Any:
    rows = pipeline.query("SELECT last_check_at FROM amion_watches")
    return rows[0][0] if rows else None


def edit_truth(pipeline: Pipeline, day: date) -> dict[str, Any]:
    """Remove `day`'s ON1 assignment from the fake Amion's truth file at once; returns it."""
    path = pipeline.log_dir.parent / "truth.yaml"
    truth = yaml.safe_load(path.read_text(encoding="utf-8"))
    (on1,) = [a for a in truth["assignments"] if a["date"] == day.isoformat() and a["label"].startswith("ON1")]
    truth["assignments"].remove(on1)
    aside = path.with_suffix(".new")
    aside.write_text(yaml.safe_dump(truth), encoding="utf-8")
    aside.replace(path)
    return dict(on1)


def request_times(pipeline: Pipeline) -> list[float]:
    stats = httpx.get(f"{pipeline.amion_root}/stats", timeout=5).json()
    times: list[float] = stats["request_times"]
    return times


def test_tonights_change_is_seen_within_the_near_term_interval_and_amion_is_asked_politely(
    pipeline: Pipeline,
) -> None:
    request_id = f"watch-near-{uuid.uuid4()}"
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, *PERIOD))
    completed = amqp_client.publish_and_receive(
        pipeline.services.amqp_url, body.encode(), binding="event.workflow.completed",
        match={"workflow_id": str(ids.workflow_id_for(request_id))},
    )  # fmt: skip
    version_id = completed["version_id"]
    promote = schedcu_command("versions", "promote", version_id, "--force", "--reason", "near-term watch test")
    promoted = subprocess.run(promote, env=pipeline.env, capture_output=True, text=True, timeout=60, check=False)
    assert promoted.returncode == 0, promoted.stderr
    amqp_client.subscribe(pipeline.services.amqp_url, EVENTS, ["event.coverage.changed"])
    first = eventually(lambda: last_check_at(pipeline), 60, "a first near-term check")
    eventually(lambda: (later := last_check_at(pipeline)) and later > first, 60, "a second near-term check")

    removed = edit_truth(pipeline, TONIGHT)
    changed_at = time.monotonic()
    deadline = NEAR_INTERVAL_S + NEAR_JITTER_S + TICK_S + PROCESSING_S
    routing_key, changed = amqp_client.take(pipeline.services.amqp_url, EVENTS, deadline) or ("", {})
    seen_s = time.monotonic() - changed_at
    assert routing_key == "event.coverage.changed", f"no CoverageChanged within {deadline:.0f} s"
    assert seen_s <= deadline
    assert changed["version_id"] == version_id
    tonight = [c for c in changed["changed_cells"] if c["date"] == TONIGHT.isoformat()]
    assert any(c["old"] and removed["name"] in c["old"]["people"] for c in tonight), changed["changed_cells"]
    ((rescrape,),) = pipeline.query("SELECT request_id FROM workflows WHERE kind = 'RESCRAPE'")
    assert ":near:" in rescrape  # started by a near-term check, not by the full watch (every 900 s)

    times = request_times(pipeline)
    assert len(times) >= 4
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert min(gaps) >= POLITENESS_S, f"two requests of the account {min(gaps):.3f} s apart"
