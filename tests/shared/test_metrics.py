"""The gauges read each interval: a value whose source cannot be read is absent from /metrics, not 0."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from schedcu.runtime.registries import all_queues
from shared import metrics
from shared.messaging import topology
from shared.settings import get_settings
from tests.conftest import Services, provisioned

pytestmark = pytest.mark.integration

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1/"
UNREACHABLE_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/postgres?connect_timeout=2"
READ_GAUGES = (
    "schedcu_outbox_backlog",
    "schedcu_outbox_oldest_age_seconds",
    "schedcu_workflows",
    "schedcu_dead_letters",
)


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    """A database and vhost of their own: the gauges read the whole outbox, which other tests of the session may
    leave rows in when no relay runs (`-m "not slow"`)."""
    with provisioned(f"schedcu_test_metrics_{uuid.uuid4().hex[:8]}") as own:
        yield own


@pytest.fixture(scope="module", autouse=True)
def dead_letter_queues(services: Services) -> None:
    asyncio.run(topology.declare(services.amqp_url, get_settings().delivery_limit, all_queues()))


def exposed() -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of /metrics' gauges read from a source, by metric name."""
    families = text_string_to_metric_families(generate_latest(metrics.REGISTRY).decode())
    return {f.name: [(s.labels, s.value) for s in f.samples] for f in families if f.name in READ_GAUGES}


def refresh(database_url: str, amqp_url: str) -> Exception | None:
    engine = create_engine(database_url)
    try:
        asyncio.run(
            metrics.refresh(amqp_url, engine, "test", "http://127.0.0.1:1/health", datetime.now(UTC), all_queues())
        )
    except Exception as error:
        return error
    finally:
        engine.dispose()
    return None


def test_read_gauges_have_samples_while_their_sources_answer(services: Services) -> None:
    assert refresh(services.database_url, services.amqp_url) is None

    samples = exposed()
    assert samples["schedcu_outbox_backlog"] == [({}, 0.0)]
    assert ({"state": "RUNNING"}, 0.0) in samples["schedcu_workflows"]
    assert {labels["queue"] for labels, _ in samples["schedcu_dead_letters"]} == {
        q.dead_letter_name for q in all_queues()
    }


def test_an_unreachable_broker_drops_the_dead_letter_gauges_and_keeps_the_database_ones(services: Services) -> None:
    assert refresh(services.database_url, services.amqp_url) is None

    assert refresh(services.database_url, UNREACHABLE_BROKER) is not None

    samples = exposed()
    assert samples["schedcu_dead_letters"] == []
    assert samples["schedcu_outbox_backlog"] == [({}, 0.0)]


def test_an_unreachable_database_drops_the_database_gauges_not_reporting_zero(services: Services) -> None:
    assert refresh(services.database_url, services.amqp_url) is None

    assert refresh(UNREACHABLE_DATABASE, services.amqp_url) is not None

    samples = exposed()
    assert samples["schedcu_outbox_backlog"] == []
    assert samples["schedcu_outbox_oldest_age_seconds"] == []
    assert samples["schedcu_workflows"] == []
    assert len(samples["schedcu_dead_letters"]) == len(all_queues())

    assert refresh(services.database_url, services.amqp_url) is None
    assert exposed()["schedcu_outbox_backlog"] == [({}, 0.0)]
