"""Every queue a message can pass through is a quorum queue: replicated, so that no single RabbitMQ node holds
one alone. Checked in the broker definitions deploy/ loads and in what the code declares on a real broker."""

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from schedcu.runtime.registries import all_queues
from shared.messaging import topology
from tests.conftest import DEFAULT_AMQP_URL, isolated_vhost

DEFINITIONS = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.json"


def test_the_definitions_hold_no_queue_but_quorum_queues() -> None:
    queues = json.loads(DEFINITIONS.read_text(encoding="utf-8"))["queues"]
    assert queues
    assert {
        q["name"]: q["arguments"].get("x-queue-type") for q in queues if q["arguments"].get("x-queue-type") != "quorum"
    } == {}


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with ExitStack() as stack:
        yield isolated_vhost(
            os.environ.get("SCHEDCU_AMQP_URL", DEFAULT_AMQP_URL), f"topology_{uuid.uuid4().hex}", stack
        )


def queue_types(amqp_url: str) -> dict[str, str]:
    vhost = urlsplit(amqp_url).path.lstrip("/") or "/"
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "type"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.split("\t") for line in listed.splitlines() if line.strip())


@pytest.mark.integration
def test_the_declared_topology_holds_no_queue_but_quorum_queues(amqp_url: str) -> None:
    assert asyncio.run(topology.declare(amqp_url, 5, all_queues())) == []
    types = queue_types(amqp_url)
    parked = {topology.UNROUTED_QUEUE.name, topology.UPSTREAM_REPLIES_QUEUE.name}
    assert set(types) == {*parked, *(q.name for q in all_queues()), *(q.dead_letter_name for q in all_queues())}
    assert {name: kind for name, kind in types.items() if kind != "quorum"} == {}
