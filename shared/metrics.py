"""schedcu's own Prometheus metrics, on one registry per process (FastStream's metrics share it).

The gauges read from the database and the broker each interval (`Reading`) have no sample while their source
cannot be read: an unknown value is absent, never 0 nor the last value read."""

import asyncio
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import version

from prometheus_client import PLATFORM_COLLECTOR, CollectorRegistry, Counter, Histogram, Info, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func, select
from sqlalchemy.dialects.postgresql import insert

from shared.db.models import OutboxMessage, WorkerHeartbeat, Workflow
from shared.kernel.states import WorkflowState
from shared.messaging.dead_letters import depths
from shared.messaging.topology import ConsumerQueue

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
REGISTRY.register(PLATFORM_COLLECTOR)
Info("schedcu_build", "The running schedcu", registry=REGISTRY).info({"version": version("schedcu")})


class Reading(Collector):
    """A gauge whose samples are replaced at every reading of its source, and dropped when the source could not
    be read (`forget`)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        self.name, self.documentation, self.labels = name, documentation, tuple(labels)
        self._samples: dict[tuple[str, ...], float] = {}
        REGISTRY.register(self)

    def set(self, value: float) -> None:
        self._samples = {(): value}

    def set_all(self, samples: Mapping[tuple[str, ...], float]) -> None:
        self._samples = dict(samples)

    def forget(self) -> None:
        self._samples = {}

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labels)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self._samples.items():
            family.add_metric(list(labels), value)
        yield family


INBOX_DUPLICATES = Counter(
    "schedcu_inbox_duplicates", "Deliveries skipped because the inbox had them", ["consumer"], registry=REGISTRY
)
OUTBOX_NACKED = Counter(
    "schedcu_outbox_nacked", "Outbox rows the broker nacked, published again on a new channel", registry=REGISTRY
)
PHASE_DURATION = Histogram(
    "schedcu_phase_duration_seconds",
    "Duration of a workflow phase attempt, by phase and outcome",
    ["phase", "outcome"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
SQL_TRANSACTIONS = Counter(
    "schedcu_sql_transactions",
    "Transactions this worker ended on its engine (commit or rollback); the outbox relay's connection is not counted",
    registry=REGISTRY,
)
SQL_STATEMENTS = Counter(
    "schedcu_sql_statements",
    "Statements this worker sent on its engine (an executemany counts once); the outbox relay's are not counted",
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Reading("schedcu_outbox_backlog", "Outbox rows waiting to be published")
OUTBOX_OLDEST = Reading("schedcu_outbox_oldest_age_seconds", "Age of the oldest outbox row (0 when empty)")
WORKFLOWS = Reading("schedcu_workflows", "Workflows by state", ["state"])
DEAD_LETTERS = Reading("schedcu_dead_letters", "Messages in each dead-letter queue", ["queue"])
_FROM_DATABASE = (OUTBOX_BACKLOG, OUTBOX_OLDEST, WORKFLOWS)

WORKFLOW_STATES = tuple(WorkflowState)


def count_sql(engine: Engine) -> None:
    """Count the transactions and statements of `engine` (SQL_TRANSACTIONS, SQL_STATEMENTS)."""
    event.listen(engine, "before_cursor_execute", lambda *_: SQL_STATEMENTS.inc())
    event.listen(engine, "commit", lambda _: SQL_TRANSACTIONS.inc())
    event.listen(engine, "rollback", lambda _: SQL_TRANSACTIONS.inc())


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def refresh_database_gauges(engine: Engine, service: str, health_url: str, started_at: datetime) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(OutboxMessage.created_at))).one()
        by_state = dict(conn.execute(select(Workflow.state, func.count()).group_by(Workflow.state)).all())
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST.set((now - oldest).total_seconds() if oldest else 0)
        WORKFLOWS.set_all({(state,): by_state.get(state, 0) for state in WORKFLOW_STATES})
        conn.execute(
            insert(WorkerHeartbeat)
            .values(instance=instance_name(), service=service, health_url=health_url, started_at=started_at,
                    last_seen=now)
            .on_conflict_do_update(index_elements=["instance"], set_={"last_seen": now, "health_url": health_url})
        )  # fmt: skip


async def refresh(
    amqp_url: str, engine: Engine, service: str, health_url: str, started_at: datetime, queues: Sequence[ConsumerQueue]
) -> None:
    """Read both sources; the gauges of one that fails are dropped, and its error raised once both were tried."""
    failed: list[Exception] = []
    try:
        await asyncio.to_thread(refresh_database_gauges, engine, service, health_url, started_at)
    except Exception as error:
        for gauge in _FROM_DATABASE:
            gauge.forget()
        failed.append(error)
    try:
        DEAD_LETTERS.set_all({(queue,): count for queue, count in (await depths(amqp_url, queues)).items()})
    except Exception as error:
        DEAD_LETTERS.forget()
        failed.append(error)
    if failed:
        raise failed[0]
