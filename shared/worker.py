"""Runs one service as a worker process: its subscriber, the outbox relay, periodic jobs, /health and
/metrics."""

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.rabbit import RabbitBroker
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.rabbit.schemas import Channel
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import make_asgi_app
from sqlalchemy import text

from shared import logs, metrics
from shared.contracts import Contract
from shared.db.session import engine
from shared.messaging import topology
from shared.messaging.consumer import Handler, MessageLogContext, Rejecter, subscribe
from shared.messaging.relay import OutboxRelay
from shared.settings import Settings, get_settings
from shared.telemetry import setup_tracing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A job the worker runs every `interval_s(settings)` seconds until it stops."""

    name: str
    interval_s: Callable[[Settings], float]
    run: Callable[[], Awaitable[object]]


def in_thread(job: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    return lambda: asyncio.to_thread(job)


def make_broker(settings: Settings, service: str, tracer_provider: TracerProvider) -> RabbitBroker:
    return RabbitBroker(
        settings.amqp_url,
        graceful_timeout=settings.graceful_timeout_s,
        default_channel=Channel(prefetch_count=settings.prefetch, on_return_raises=True),
        middlewares=[
            RabbitTelemetryMiddleware(tracer_provider=tracer_provider),
            RabbitPrometheusMiddleware(registry=metrics.REGISTRY, app_name=f"schedcu-{service}"),
            MessageLogContext,
        ],
        logger=logging.getLogger(f"schedcu.{service}.broker"),
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


async def run_periodically(job: Periodic, settings: Settings, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await job.run()
        except Exception:
            log.exception("%s failed; trying again in %.0f s", job.name, job.interval_s(settings))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=job.interval_s(settings))


def create_app(
    service: str,
    handlers: Mapping[type[Contract], Handler],
    health_url: str,
    periodic: Sequence[Periodic] = (),
    rejecters: Mapping[type[Contract], Rejecter] | None = None,
) -> AsgiFastStream:
    settings = get_settings()
    tracer_provider = setup_tracing(service, settings)
    broker = make_broker(settings, service, tracer_provider)
    subscribe(
        broker, topology.CONSUMERS[service], handlers, settings.delivery_limit, settings.declare_topology, rejecters
    )
    relay = OutboxRelay(broker, engine(), settings.outbox_poll_s)
    started_at = datetime.now(UTC)
    gauges = Periodic(
        "metrics",
        lambda s: s.metrics_interval_s,
        lambda: metrics.refresh(settings.amqp_url, engine(), service, health_url, started_at),
    )
    running: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    async def declare_topology() -> None:
        await broker.connect()
        if settings.declare_topology:
            await topology.declare(broker, settings.delivery_limit)

    async def start_background() -> None:
        running.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        for job in (gauges, *periodic):
            running.append(asyncio.create_task(run_periodically(job, settings, stopping), name=job.name))

    async def stop_background() -> None:
        relay.stop()
        stopping.set()
        await asyncio.gather(*running)

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health", health_endpoint(broker)), ("/metrics", make_asgi_app(metrics.REGISTRY))],
        on_startup=[declare_topology],
        after_startup=[start_background],
        on_shutdown=[stop_background],
        after_shutdown=[tracer_provider.shutdown],
        logger=logging.getLogger(f"schedcu.{service}.app"),
    )


def _bound_port(host: str, port: int) -> int:
    """The port to serve on: `port`, or a free one when it is 0 (so the heartbeat can say where)."""
    if port:
        return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run(
    service: str,
    handlers: Mapping[type[Contract], Handler],
    port: int,
    periodic: Sequence[Periodic] = (),
    rejecters: Mapping[type[Contract], Rejecter] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; in-flight messages finish (graceful timeout) before the process exits."""
    settings = get_settings()
    logs.configure(service, settings.log_format)
    port = _bound_port(settings.http_host, port)
    # bound to every interface (a container): others reach it by the pod's or container's address, not its name
    shown_host = socket.gethostbyname(socket.gethostname()) if settings.http_host == "0.0.0.0" else settings.http_host
    app = create_app(service, handlers, f"http://{shown_host}:{port}/health", periodic, rejecters)
    uvicorn.run(app, host=settings.http_host, port=port, log_config=None, log_level="info")
