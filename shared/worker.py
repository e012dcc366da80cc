"""Runs one service as a worker process: its subscriber, the outbox relay, /health and /metrics."""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.rabbit import RabbitBroker
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.rabbit.schemas import Channel
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, make_asgi_app
from sqlalchemy import text

from shared.contracts import Contract
from shared.db.session import engine
from shared.messaging import topology
from shared.messaging.consumer import Handler, subscribe
from shared.messaging.relay import OutboxRelay
from shared.settings import Settings, get_settings
from shared.telemetry import setup_tracing

log = logging.getLogger(__name__)


def make_broker(
    settings: Settings, service: str, tracer_provider: TracerProvider, registry: CollectorRegistry | None = None
) -> RabbitBroker:
    middlewares: list = [RabbitTelemetryMiddleware(tracer_provider=tracer_provider)]
    if registry is not None:
        middlewares.append(RabbitPrometheusMiddleware(registry=registry, app_name=f"schedcu-{service}"))
    return RabbitBroker(
        settings.amqp_url,
        graceful_timeout=settings.graceful_timeout_s,
        default_channel=Channel(prefetch_count=settings.prefetch, on_return_raises=True),
        middlewares=middlewares,
        app_id=f"schedcu-{service}",
    )


def database_answers() -> bool:
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def health_endpoint(broker: RabbitBroker) -> Any:
    """200 when both the broker and the database answer, 503 otherwise; the body says which."""

    @get
    async def health(scope: Scope) -> AsgiResponse:
        status = {"broker": await broker.ping(5.0), "database": await asyncio.to_thread(database_answers)}
        return AsgiResponse(
            json.dumps(status).encode(),
            200 if all(status.values()) else 503,
            headers={"content-type": "application/json"},
        )

    return health


@dataclass(frozen=True)
class Periodic:
    """A synchronous job the worker runs in a thread every `interval_s(settings)` seconds."""

    name: str
    interval_s: Callable[[Settings], float]
    run: Callable[[], object]


async def run_periodically(job: Periodic, settings: Settings, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await asyncio.to_thread(job.run)
        except Exception:
            log.exception("%s failed; trying again in %.0f s", job.name, job.interval_s(settings))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=job.interval_s(settings))


def create_app(
    service: str, handlers: Mapping[type[Contract], Handler], periodic: Sequence[Periodic] = ()
) -> AsgiFastStream:
    settings = get_settings()
    registry = CollectorRegistry()
    tracer_provider = setup_tracing(service, settings)
    broker = make_broker(settings, service, tracer_provider, registry)
    subscribe(broker, topology.CONSUMERS[service], handlers, settings.delivery_limit)
    relay = OutboxRelay(broker, engine(), settings.outbox_poll_s)
    running: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    async def declare_topology() -> None:
        await broker.connect()
        await topology.declare(broker, settings.delivery_limit)

    async def start_background() -> None:
        running.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        running.extend(
            asyncio.create_task(run_periodically(job, settings, stopping), name=job.name) for job in periodic
        )

    async def stop_background() -> None:
        relay.stop()
        stopping.set()
        await asyncio.gather(*running)

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health", health_endpoint(broker)), ("/metrics", make_asgi_app(registry))],
        on_startup=[declare_topology],
        after_startup=[start_background],
        on_shutdown=[stop_background],
        after_shutdown=[tracer_provider.shutdown],
    )


def run(service: str, handlers: Mapping[type[Contract], Handler], port: int, periodic: Sequence[Periodic] = ()) -> None:
    """Serve until SIGTERM/SIGINT; in-flight messages finish (graceful timeout) before the process exits."""
    uvicorn.run(create_app(service, handlers, periodic), host="127.0.0.1", port=port, log_level="info")
