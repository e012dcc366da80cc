"""The AsyncAPI 3.0 document of schedcu's messages, generated from the contracts and the topology."""

import re
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from shared.kernel.contracts import CONTRACTS, Contract, ImportRequested
from shared.messaging.topology import (
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    UPSTREAM_REPLIES,
    UPSTREAM_REPLIES_QUEUE,
    ConsumerQueue,
    exchange_for,
)

REF = "#/components/schemas/{model}"
CORRELATION_RULE = (
    "Every message of an import workflow carries the AMQP correlation_id of the ImportRequested that started it, "
    "or its request_id when it had none; the body names the workflow_id, request_id, group and period. "
    "A recalculation's CoverageCalculated carries the correlation id its requester gave."
)


def _matches(pattern: str, key: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", r"[^.]+").replace(r"\#", r".*")
    return re.fullmatch(regex, key) is not None


def consumers_of(contract: type[Contract], queues: Sequence[ConsumerQueue]) -> list[str]:
    return [q.name for q in queues if any(_matches(b, contract.routing_key) for b in q.bindings)]


def document(queues: Sequence[ConsumerQueue], version: str = "0.1.0") -> dict[str, Any]:
    _, defs = models_json_schema([(c, "validation") for c in CONTRACTS], ref_template=REF)
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for contract in CONTRACTS:
        name = contract.__name__
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (contract.__doc__ or name).strip().splitlines()[0],
            "contentType": "application/json",
            "correlationId": {"description": CORRELATION_RULE, "location": "$message.header#/correlation_id"},
            "payload": {"$ref": REF.format(model=name)},
        }
        channels[name] = {
            "address": contract.routing_key,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": exchange_for(contract.routing_key).name,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                    },
                }
            },
        }
        channel_ref = {"$ref": f"#/channels/{name}"}
        if contract is not ImportRequested:
            operations[f"send{name}"] = {"action": "send", "channel": channel_ref}
        for queue in consumers_of(contract, queues):
            operations[f"receive{name}On{queue.removeprefix('schedcu.')}"] = {
                "action": "receive",
                "channel": channel_ref,
                "bindings": {"amqp": {"ack": True}},
                "description": f"consumed from queue {queue}",
            }
        if contract.routing_key in UPSTREAM_REPLIES:
            operations[f"receive{name}OnUpstreamReplies"] = {
                "action": "receive",
                "channel": channel_ref,
                "bindings": {"amqp": {"ack": True}},
                "description": f"for the upstream system that asked, in queue {UPSTREAM_REPLIES_QUEUE.name} (the one "
                "queue its broker account may read; beyond 10,000 answers the oldest are dropped)",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "schedcu",
            "version": version,
            "description": "Messages of schedcu on the RabbitMQ topic exchanges "
            f"`{EVENTS_EXCHANGE.name}` (events and `import.requested`) and `{COMMANDS_EXCHANGE.name}` "
            "(`command.*`). The routing key names the message; the body is JSON.",
        },
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": defs["$defs"]},
    }


def render(queues: Sequence[ConsumerQueue]) -> str:
    """The document, with each message's consumers among `queues` (every service's)."""
    return yaml.safe_dump(document(queues), sort_keys=False, allow_unicode=True)
