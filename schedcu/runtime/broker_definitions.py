"""The RabbitMQ definitions that deploy/ loads (`deploy/rabbitmq/definitions.json`), built from the registries and
the topology so that they cannot drift from the code: the vhost, its exchanges, queues and bindings
(`shared.messaging.topology.of`), and one account per worker, an upstream account and the operator's, each allowed
exactly what the registries say. `schedcu broker definitions --out FILE` writes them; a test fails when the
committed file differs.

The passwords are the compose development passwords (`<name>-dev-password`), hashed with a salt derived from the
user's name so that the output is the same at every run: for any other broker, put real hashes in a copy kept as
a secret (docs/operations.md)."""

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from faststream.rabbit import RabbitExchange, RabbitQueue

from schedcu.runtime.registries import WORKERS, all_queues, registry
from shared.kernel.contracts import ImportRequested
from shared.messaging import topology
from shared.settings import Settings

RABBIT_VERSION = "3.13.7"
VHOST = "schedcu"
ACCOUNTS = Settings.model_fields["broker_accounts"].default  # `schedcu-{name}`, as the workers expect by default
UPSTREAM = "upstream"
OPERATOR = "operator"
# the delivery limit a worker assumes unless SCHEDCU_DELIVERY_LIMIT says otherwise (compose sets the same)
DELIVERY_LIMIT: int = Settings.model_fields["delivery_limit"].default


def account(name: str) -> str:
    return str(ACCOUNTS.format(name=name))


def exactly(names: Iterable[str]) -> str:
    """A RabbitMQ permission regex that matches these names and nothing else (`^$` for none)."""
    escaped = [re.escape(name).replace(r"\-", "-") for name in sorted(set(names))]  # a "-" is literal outside [...]
    if not escaped:
        return "^$"
    return f"^{escaped[0]}$" if len(escaped) == 1 else f"^({'|'.join(escaped)})$"


def development_password_hash(name: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256 of `<name>-dev-password`: base64(salt + sha256(salt + password))."""
    salt = hashlib.sha256(f"schedcu development salt {name}".encode()).digest()[:4]
    digest = hashlib.sha256(salt + f"{name}-dev-password".encode()).digest()
    return base64.b64encode(salt + digest).decode()


def _user(name: str, tags: list[str]) -> dict[str, Any]:
    return {
        "name": account(name),
        "password_hash": development_password_hash(name),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": tags,
    }


def _permission(name: str, write: Iterable[str], read: Iterable[str]) -> dict[str, str]:
    return {"user": account(name), "vhost": VHOST, "configure": "^$", "write": exactly(write), "read": exactly(read)}


def _topic_permissions(name: str, keys: Iterable[str]) -> list[dict[str, str]]:
    """One per exchange `keys` go to: on an exchange an account may write to without one, any key is allowed."""
    by_exchange: dict[str, set[str]] = {}
    for key in keys:
        by_exchange.setdefault(topology.exchange_for(key).name, set()).add(key)
    return [
        {"user": account(name), "vhost": VHOST, "exchange": exchange, "write": exactly(by_exchange[exchange]),
         "read": "^$"}
        for exchange in sorted(by_exchange, key=lambda e: e != topology.EVENTS_EXCHANGE.name)
    ]  # fmt: skip


def _queue(queue: RabbitQueue) -> dict[str, Any]:
    return {"name": queue.name, "vhost": VHOST, "durable": queue.durable, "auto_delete": queue.auto_delete,
            "arguments": queue.arguments or {}}  # fmt: skip


def _exchange(exchange: RabbitExchange) -> dict[str, Any]:
    return {"name": exchange.name, "vhost": VHOST, "type": exchange.type.value, "durable": exchange.durable,
            "auto_delete": exchange.auto_delete, "internal": False, "arguments": exchange.arguments or {}}  # fmt: skip


def _binding(binding: topology.Binding) -> dict[str, Any]:
    return {"source": binding.exchange, "vhost": VHOST, "destination": binding.queue, "destination_type": "queue",
            "routing_key": binding.routing_key, "arguments": {}}  # fmt: skip


def definitions() -> dict[str, Any]:
    declared = topology.of(DELIVERY_LIMIT, all_queues())
    users: list[dict[str, Any]] = []
    permissions: list[dict[str, str]] = []
    topic_permissions: list[dict[str, str]] = []
    for worker in WORKERS:
        r = registry(worker)
        published = {topology.exchange_for(key).name for key in r.published_keys}
        users.append(_user(worker, []))
        permissions.append(
            _permission(worker, published | {topology.DEAD_LETTER_EXCHANGE.name}, (q.name for q in r.queues))
        )
        topic_permissions += _topic_permissions(worker, r.published_keys)
    asked = [ImportRequested.routing_key]
    users.append(_user(UPSTREAM, []))
    upstream_writes = (topology.exchange_for(key).name for key in asked)
    permissions.append(_permission(UPSTREAM, upstream_writes, [topology.UPSTREAM_REPLIES_QUEUE.name]))
    topic_permissions += _topic_permissions(UPSTREAM, asked)
    # the operator redrives dead letters whatever their routing key: no topic permission limits it
    users.append(_user(OPERATOR, ["management"]))
    parked = [q.dead_letter_name for q in all_queues()] + [topology.UNROUTED_QUEUE.name]
    permissions.append(_permission(OPERATOR, [topology.EVENTS_EXCHANGE.name, topology.COMMANDS_EXCHANGE.name], parked))
    return {
        "rabbit_version": RABBIT_VERSION,
        "users": users,
        "vhosts": [{"name": VHOST}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": [_queue(q) for q in declared.queues],
        "exchanges": [_exchange(e) for e in declared.exchanges],
        "bindings": [_binding(b) for b in declared.bindings],
    }


def render() -> str:
    return json.dumps(definitions(), indent=2) + "\n"
