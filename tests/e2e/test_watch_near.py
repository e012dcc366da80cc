"""The near-term watch through the whole pipeline (real RabbitMQ and PostgreSQL, every worker its own process,
the fake Amion): tonight's assignment removed in Amion is announced by `CoverageChanged` within the near-term
interval, while the full watch keeps its 15 minutes; the fake's request log shows the account's requests never
closer than its politeness.

The module runs its own pipeline over a week from today, with a near-term interval of a few seconds."""

import os
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Pipeline, eventually, provisioned, running_pipeline
from tests.support import amqp_client
from tests.support.amion_watch import edit_truth, import_and_promote

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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


def remove_on1(pipeline: Pipeline, day: date) -> dict[str, Any]:
    """Remove `day`'s ON1 assignment from the fake Amion at once; returns it."""
    removed: list[dict[str, Any]] = []

    def remove(assignments: list[dict[str, Any]]) -> None:
        (on1,) = [a for a in assignments if a["date"] == day.isoformat() and a["label"].startswith("ON1")]
        assignments.remove(on1)
        removed.append(on1)

    edit_truth(pipeline, remove)
    return removed[0]


def request_times(pipeline: Pipeline) -> list[float]:
    stats = httpx.get(f"{pipeline.amion_root}/stats", timeout=5).json()
    times: list[float] = stats["request_times"]
    return times


def test_tonights_change_is_seen_within_the_near_term_interval_and_amion_is_asked_politely(
    pipeline: Pipeline,
) -> None:
    version_id = str(import_and_promote(pipeline, f"watch-near-{uuid.uuid4()}", PERIOD, "near-term watch test"))
    amqp_client.subscribe(pipeline.services.amqp_url, EVENTS, ["event.coverage.changed"])
    first = eventually(lambda: last_check_at(pipeline), 60, "a first near-term check")
    eventually(lambda: (later := last_check_at(pipeline)) and later > first, 60, "a second near-term check")

    removed = remove_on1(pipeline, TONIGHT)
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
