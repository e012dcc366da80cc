"""Runs one service as a worker process: its subscriber, the outbox relay, periodic jobs, /health and
/metrics.

The process keeps one gate per dependency (`shared.messaging.faults.DependencyGate`): whoever finds the
database or the broker unavailable closes it, the consumer, the relay and the periodic jobs wait on it,
and a probe reopens it. `/health` answers 503 naming what is down, and the log says so once when it goes
and once when it is back."""

import asyncio
import gc
import json
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
from shared.db.session import engine, without_pre_ping
from shared.messaging import topology
from shared.messaging.connection import login
from shared.messaging.consumer import MessageLogContext, subscribe
from shared.messaging.failover_broker import FailoverBroker
from shared.messaging.faults import (
    BROKER_PROBE,
    DATABASE_PROBE,
    DependencyGate,
    Failure,
    classify,
    describe,
    unless_stopped,
)
from shared.messaging.relay import OutboxRelay
from shared.messaging.senders import Senders
from shared.messaging.topology import ConsumerQueue
from shared.registry import Periodic, Registry
from shared.serving import serve
from shared.settings import Settings, get_settings
from shared.telemetry import setup_tracing

log = logging.getLogger(__name__)


def make_broker(
    settings: Settings,
    service: str,
    tracer_provider: TracerProvider,
    on_close: Callable[[object, BaseException | None], None],
) -> RabbitBroker:
    """The broker connection; `on_close` is called whenever it is lost and at every failed reconnect."""
    return FailoverBroker(
        settings.amqp_url,
        graceful_timeout=settings.graceful_timeout_s,
        default_channel=Channel(prefetch_count=settings.prefetch, on_return_raises=True),
        on_close=[on_close],
        middlewares=[
            RabbitTelemetryMiddleware(tracer_provider=tracer_provider),
            RabbitPrometheusMiddleware(registry=metrics.REGISTRY, app_name=f"schedcu-{service}"),
            MessageLogContext,
        ],
        logger=logging.getLogger(f"schedcu.{service}.broker"),
        app_id=f"schedcu-{service}",
        # the one subscriber takes the message from its decoder: no dependency injection, which would resolve the
        # message in a thread of its own for every delivery
        apply_types=False,
    )


def database_answers() -> bool:
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class Dependencies:
    database: DependencyGate
    broker: DependencyGate

    def close_for(self, error: BaseException) -> bool:
        """Close the gate of the dependency `error` says is unavailable; False when it says neither is."""
        kind = classify(error)
        if kind is Failure.DATABASE_DOWN:
            self.database.close(error)
        elif kind is Failure.BROKER_DOWN:
            self.broker.close(error)
        return kind in (Failure.DATABASE_DOWN, Failure.BROKER_DOWN)


def dependencies(broker: RabbitBroker) -> Dependencies:
    async def database_probe() -> bool:
        return await asyncio.to_thread(database_answers)

    async def broker_probe() -> bool:
        return await broker.ping(0.5)

    return Dependencies(
        DependencyGate("database", database_probe, DATABASE_PROBE),
        DependencyGate("broker", broker_probe, BROKER_PROBE),
    )


def health_endpoint(broker: RabbitBroker, gates: Dependencies) -> Any:
    """200 when both the broker and the database answer; otherwise 503, "degraded" and what is down. A
    failed check closes that dependency's gate, so work waits for it as well. The body names this process's
    instance, as its heartbeat does: `schedcu status` tells a worker from another process now on its port."""
    instance = metrics.instance_name()

    @get
    async def health(scope: Scope) -> AsgiResponse:
        answers = {
            "broker": gates.broker.is_open and await broker.ping(2.0),
            "database": gates.database.is_open and await asyncio.to_thread(database_answers),
        }
        for name, gate in (("broker", gates.broker), ("database", gates.database)):
            if not answers[name]:
                gate.close("/health check failed")
        down = [name for name, up in answers.items() if not up]
        body = {"status": "degraded" if down else "ok", "down": down, **answers, "instance": instance}
        return AsgiResponse(
            json.dumps(body).encode(), 503 if down else 200, headers={"content-type": "application/json"}
        )

    return health


@get
async def alive(scope: Scope) -> AsgiResponse:
    """Liveness: the process answers. It does not depend on the broker or the database (`/health` does), so an
    outage makes a worker unready, never restarted."""
    return AsgiResponse(b'{"status": "alive"}', 200, headers={"content-type": "application/json"})


async def run_periodically(job: Periodic, settings: Settings, stopping: asyncio.Event, gates: Dependencies) -> None:
    """Run `job` every interval while the database is there. A dependency going away closes its gate (logged
    once); any other failure is logged with its traceback the first time and in one line while it repeats."""
    failures = 0
    while await unless_stopped(stopping, gates.database.wait_open()):
        try:
            await job.run(settings)
        except Exception as error:
            if not gates.close_for(error):
                failures += 1
                log.warning(
                    "%s failed (%s); trying again in %.0f s",
                    job.name, describe(error), job.interval_s(settings), exc_info=failures == 1,
                )  # fmt: skip
        else:
            failures = 0
        await unless_stopped(stopping, asyncio.sleep(job.interval_s(settings)))


def create_app(
    registry: Registry, queues: Sequence[ConsumerQueue], health_url: str, senders: Senders | None = None
) -> AsgiFastStream:
    """The worker of `registry`; `queues` are every service's, declared at start (unless preloaded)."""
    settings = get_settings()
    service = registry.service
    # the broker gate and the connection log an outage once; aio-pika and aiormq would log every reconnect attempt
    for chatty in ("aio_pika.robust_connection", "aiormq.connection"):
        logging.getLogger(chatty).setLevel(logging.CRITICAL)
    tracer_provider = setup_tracing(service, settings)
    running: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    def connection_lost(_connection: object, error: BaseException | None) -> None:
        if error is not None and not stopping.is_set():
            gates.broker.close(error)

    broker = make_broker(settings, service, tracer_provider, connection_lost)
    gates = dependencies(broker)
    for queue, handlers in registry.subscriptions:
        subscribe(
            broker,
            queue,
            handlers,
            settings.delivery_limit,
            gates.database,
            declare=False,  # declared (or preloaded) before the broker starts; its channel only checks it is there
            rejecters=registry.rejecters,
            senders=senders,
        )
    relay = OutboxRelay(
        broker,
        engine(),
        settings.outbox_poll_s,
        gates.database,
        gates.broker,
        routing_keys=registry.published_keys,
        user_id=login(settings.amqp_url),
        app_id=f"schedcu-{service}",
    )
    started_at = datetime.now(UTC)
    gauges = Periodic(
        "metrics",
        lambda s: s.metrics_interval_s,
        lambda _: metrics.refresh(settings.amqp_url, engine(), service, health_url, started_at, queues),
    )

    async def declare_topology() -> None:
        await broker.connect()
        if settings.declare_topology:
            await topology.declare(
                settings.amqp_url, settings.delivery_limit, queues, needs=[q.name for q in registry.queues]
            )

    async def start_background() -> None:
        running.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        for job in (gauges, *registry.periodic):
            running.append(asyncio.create_task(run_periodically(job, settings, stopping, gates), name=job.name))

    async def stop_background() -> None:
        relay.stop()
        stopping.set()
        await asyncio.gather(*running)
        await gates.database.stop()
        await gates.broker.stop()

    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/health", health_endpoint(broker, gates)),
            ("/health/live", alive),
            ("/metrics", make_asgi_app(metrics.REGISTRY)),
        ],
        on_startup=[declare_topology],
        after_startup=[start_background],
        on_shutdown=[stop_background],
        after_shutdown=[tracer_provider.shutdown],
        logger=logging.getLogger(f"schedcu.{service}.app"),
    )


def run(registry: Registry, queues: Sequence[ConsumerQueue], sock: socket.socket, senders: Senders | None) -> None:
    """Serve /health and /metrics on `sock` (shared/serving.py) until SIGTERM/SIGINT; in-flight messages finish
    (graceful timeout) before the process exits. With `senders`, each message's sender is checked."""
    settings = get_settings()
    without_pre_ping()
    metrics.count_sql(engine())
    logs.configure(registry.service, settings.log_format)
    if senders is None:
        log.info("not checking senders: this worker does not log in to the broker as its own account")
    else:
        log.info("checking each message's sender (AMQP user_id) against the broker accounts")
    host, port = sock.getsockname()[:2]
    # bound to every interface (a container): others reach it by the pod's or container's address, not its name
    shown_host = socket.gethostbyname(socket.gethostname()) if host == "0.0.0.0" else host
    app = create_app(registry, queues, f"http://{shown_host}:{port}/health", senders)
    # what start-up built lives as long as the process: out of the collector's reach, a full collection no longer
    # walks the imported modules (measured: 100 to 200 ms each in the coverage and versions workers)
    gc.freeze()
    serve(app, sock, log_level="info")
