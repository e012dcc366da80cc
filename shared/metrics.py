"""schedcu's own Prometheus metrics, on one registry per process (FastStream's metrics share it)."""

import asyncio
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version

from prometheus_client import PLATFORM_COLLECTOR, CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert

from shared.db.models import OutboxMessage, WorkerHeartbeat, Workflow
from shared.messaging.dead_letters import depths
from shared.messaging.topology import ConsumerQueue
from shared.states import WorkflowState

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
REGISTRY.register(PLATFORM_COLLECTOR)
Info("schedcu_build", "The running schedcu", registry=REGISTRY).info({"version": version("schedcu")})

OUTBOX_BACKLOG = Gauge("schedcu_outbox_backlog", "Outbox rows waiting to be published", registry=REGISTRY)
OUTBOX_OLDEST = Gauge(
    "schedcu_outbox_oldest_age_seconds", "Age of the oldest outbox row (0 when empty)", registry=REGISTRY
)
INBOX_DUPLICATES = Counter(
    "schedcu_inbox_duplicates", "Deliveries skipped because the inbox had them", ["consumer"], registry=REGISTRY
)
WORKFLOWS = Gauge("schedcu_workflows", "Workflows by state", ["state"], registry=REGISTRY)
PHASE_DURATION = Histogram(
    "schedcu_phase_duration_seconds",
    "Duration of a workflow phase attempt, by phase and outcome",
    ["phase", "outcome"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
DEAD_LETTERS = Gauge("schedcu_dead_letters", "Messages in each dead-letter queue", ["queue"], registry=REGISTRY)

WORKFLOW_STATES = tuple(WorkflowState)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def refresh_database_gauges(engine: Engine, service: str, health_url: str, started_at: datetime) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(OutboxMessage.created_at))).one()
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST.set((now - oldest).total_seconds() if oldest else 0)
        by_state = dict(conn.execute(select(Workflow.state, func.count()).group_by(Workflow.state)).all())
        for state in WORKFLOW_STATES:
            WORKFLOWS.labels(state=state).set(by_state.get(state, 0))
        conn.execute(
            insert(WorkerHeartbeat)
            .values(instance=instance_name(), service=service, health_url=health_url, started_at=started_at,
                    last_seen=now)
            .on_conflict_do_update(index_elements=["instance"], set_={"last_seen": now, "health_url": health_url})
        )  # fmt: skip


async def refresh(
    amqp_url: str, engine: Engine, service: str, health_url: str, started_at: datetime, queues: Sequence[ConsumerQueue]
) -> None:
    await asyncio.to_thread(refresh_database_gauges, engine, service, health_url, started_at)
    for queue, count in (await depths(amqp_url, queues)).items():
        DEAD_LETTERS.labels(queue=queue).set(count)
