"""`schedcu status`: one screen for an operator — workers, queues, dead letters, outbox, workflows, failures."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aio_pika
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schedcu.runtime.registries import QUEUE_NAMES, SERVICES
from schedcu.views.explain import broker_problem
from schedcu.views.printable import clear_screen
from shared.db.models import OutboxMessage, WorkerHeartbeat, Workflow, WorkflowPhase
from shared.kernel.states import PhaseState, WorkflowState
from shared.messaging.connection import connect
from shared.settings import Settings

if TYPE_CHECKING:
    import httpx


def _age(then: datetime | None, now: datetime) -> float | None:
    return (now - then).total_seconds() if then else None


def _health(client: "httpx.Client", heartbeat: WorkerHeartbeat, seen_s: float, settings: Settings) -> tuple[str, str]:
    """The worker's health and a note. A worker is known by its instance: a port that answers for another
    process (the worker died and something else took its port) means this one is gone."""
    import httpx

    try:
        response = client.get(heartbeat.health_url)
    except httpx.HTTPError:
        stale = seen_s > 3 * settings.metrics_interval_s
        return ("gone", "") if stale else ("unreachable", f"nothing answers at {heartbeat.health_url}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    answered = body.get("instance") if isinstance(body, dict) else None
    if answered != heartbeat.instance:
        return "gone", f"its port answers for {answered or 'another program'}"
    if response.status_code == 200:
        return "ok", ""
    return "unhealthy", "down: " + ", ".join(body.get("down") or ["?"])


def gone_after_s(settings: Settings) -> float:
    """SCHEDCU_STATUS_GONE_AFTER_S, but never less than three heartbeats: a running worker is always listed."""
    return max(settings.status_gone_after_s, 3 * settings.metrics_interval_s)


def workers(session: Session, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """The workers seen within SCHEDCU_STATUS_GONE_AFTER_S; older heartbeats are of workers long gone."""
    since = now - timedelta(seconds=gone_after_s(settings))
    rows = session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.last_seen >= since)
        .order_by(WorkerHeartbeat.service, WorkerHeartbeat.instance)
    ).all()
    if not rows:
        return []
    import httpx  # here, not at the top: a status with no worker to ask answers sooner without it

    found = []
    # a worker answers /health in plain HTTP on its own address (shared/worker.py): no certificates to load (0.1 s)
    # and no proxy; one client for every worker asked
    with httpx.Client(timeout=2.0, verify=False, trust_env=False) as client:
        for w in rows:
            seen = _age(w.last_seen, now) or 0.0
            health, note = _health(client, w, seen, settings)
            found.append({"service": w.service, "instance": w.instance, "health": health, "note": note,
                          "last_seen_s": round(seen, 1)})  # fmt: skip
    return found


async def _queues_by_declaration(amqp_url: str) -> list[dict[str, Any]]:
    """Each queue declared passively, on one channel until a missing queue closes it."""
    async with await connect(amqp_url) as connection:
        found = []
        channel = await connection.channel()
        for name in QUEUE_NAMES:
            if channel.is_closed:
                channel = await connection.channel()
            try:
                declared = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                found.append({"queue": name, "messages": None, "consumers": None, "missing": True})
                continue
            result = declared.declaration_result
            found.append({"queue": name, "messages": result.message_count, "consumers": result.consumer_count})
        return found


def _queues_by_management(settings: Settings) -> list[dict[str, Any]] | None:
    """None when the management API does not answer: the passive declarations answer instead."""
    import httpx

    assert settings.management_url
    amqp = urlsplit(settings.amqp_url)
    vhost = quote(amqp.path.lstrip("/") or "/", safe="")
    try:
        response = httpx.get(
            f"{settings.management_url.rstrip('/')}/api/queues/{vhost}",
            params={"columns": "name,messages,messages_unacknowledged,consumers"},
            auth=(amqp.username or "guest", amqp.password or "guest"),
            timeout=5.0,
        )
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    by_name = {q["name"]: q for q in response.json()}
    return [
        {
            "queue": name,
            "messages": by_name.get(name, {}).get("messages"),
            "unacknowledged": by_name.get(name, {}).get("messages_unacknowledged"),
            "consumers": by_name.get(name, {}).get("consumers"),
        }
        for name in QUEUE_NAMES
    ]


def queues(settings: Settings) -> tuple[str, list[dict[str, Any]]]:
    if settings.management_url and (listed := _queues_by_management(settings)) is not None:
        return "management API", listed
    return "passive declarations", asyncio.run(_queues_by_declaration(settings.amqp_url))


def failures(session: Session, limit: int = 5) -> list[dict[str, Any]]:
    found = []
    recent = session.scalars(
        select(Workflow)
        .where(Workflow.state.in_([WorkflowState.FAILED, WorkflowState.COMPLETED_WITH_WARNINGS]))
        .order_by(Workflow.finished_at.desc().nulls_last())
        .limit(limit)
    ).all()
    for w in recent:
        failed = session.scalars(
            select(WorkflowPhase)
            .where(WorkflowPhase.workflow_id == w.id, WorkflowPhase.state == PhaseState.FAILED)
            .order_by(WorkflowPhase.position)
        ).all()
        last = failed[0].messages[-1]["text"] if failed and failed[0].messages else ""
        found.append(
            {
                "workflow_id": str(w.id),
                "state": w.state,
                "finished_at": w.finished_at.isoformat() if w.finished_at else None,
                "failed_phase": failed[0].phase if failed else None,
                "message": last,
            }
        )
    return found


def collect(session: Session, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    backlog, oldest = session.execute(select(func.count(), func.min(OutboxMessage.created_at))).one()
    try:
        source, queue_rows = queues(settings)
        broker = "ok"
    except Exception as error:
        problem = broker_problem(error, settings.amqp_url)
        if problem is None:
            raise
        source, queue_rows, broker = "nowhere", [], problem
    found_workers = workers(session, settings, now)
    return {
        "at": now.isoformat(),
        "problems": problems(broker, found_workers, queue_rows),
        "broker": broker,
        "workers": found_workers,
        "gone_after_s": gone_after_s(settings),
        "queues_from": source,
        "queues": queue_rows,
        "outbox": {"backlog": backlog, "oldest_age_s": round(_age(oldest, now) or 0.0, 1)},
        "workflows": dict(session.execute(select(Workflow.state, func.count()).group_by(Workflow.state)).all()),
        "latest_failures": failures(session),
    }


def problems(broker: str, found_workers: list[dict[str, Any]], queue_rows: list[dict[str, Any]]) -> list[str]:
    """What makes the system unhealthy: `schedcu status` exits 1 when this is not empty."""
    found = [] if broker == "ok" else [broker]
    found += [
        f"worker {w['service']} {w['instance']} {w['health']} ({w['note']})"
        for w in found_workers
        if w["health"] not in ("ok", "gone")  # a worker stopped on purpose is gone; its service may run elsewhere
    ]
    running = {w["service"] for w in found_workers if w["health"] != "gone"}
    found += [f"no running {service} worker" for service in SERVICES if service not in running]
    found += [f"queue {q['queue']} not declared" for q in queue_rows if q.get("missing")]
    return found


def render(status: dict[str, Any]) -> str:
    lines = [f"schedcu status at {status['at'][:19]}Z", ""]
    lines += [f"UNHEALTHY: {p}" for p in status["problems"]] or ["healthy"]
    lines += ["", "workers"]
    if not status["workers"]:
        lines.append(f"  none has reported in the last {status['gone_after_s']:.0f} s")
    for w in status["workers"]:
        note = f"  ({w['note']})" if w["note"] else ""
        lines.append(
            f"  {w['service']:<14} {w['instance']:<28} {w['health']:<12} seen {w['last_seen_s']:.0f} s ago{note}"
        )
    lines += ["", f"queues (from {status['queues_from']})"]
    if status["broker"] != "ok":
        lines.append(f"  {status['broker']}")
    for q in status["queues"]:
        if q.get("missing"):
            lines.append(f"  {q['queue']:<38} not declared")
            continue
        dead = q["queue"].endswith(".dead-letter") and q["messages"]
        flag = "  <- dead letters: schedcu dlq show" if dead else ""
        lines.append(f"  {q['queue']:<38} {q['messages']!s:>7} messages {q['consumers']!s:>3} consumers{flag}")
    outbox = status["outbox"]
    lines += ["", f"outbox: {outbox['backlog']} waiting, oldest {outbox['oldest_age_s']:.0f} s", ""]
    lines.append("workflows: " + ("  ".join(f"{k} {v}" for k, v in sorted(status["workflows"].items())) or "none"))
    lines += ["", "latest failures"]
    if not status["latest_failures"]:
        lines.append("  none")
    for f in status["latest_failures"]:
        lines.append(f"  {f['workflow_id']}  {f['state']:<23} {f['failed_phase'] or '-':<13} {f['message'][:70]}")
    return "\n".join(lines)


def watch(session_factory: Any, settings: Settings, every_s: float) -> None:
    while True:
        with session_factory() as session:
            text = render(collect(session, settings))
        clear_screen()
        print(text, flush=True)
        time.sleep(every_s)
