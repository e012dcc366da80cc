"""A broker inside one process, in the manner of eventsourcing's `SingleThreadedRunner`: a message goes to the
handlers the registries give its contract (those of every queue it would be routed to), one after the other, and
the messages those handlers add to the outbox go on to theirs in turn, until no handler adds any.

The outbox rows are the only channel: a message follows when a handler adds its row with the first message's
correlation id, as every answer and every step of a workflow does. Nothing is published; the rows stay in the
caller's transaction, for it to keep or roll back (`shared.db.session.rolled_back`).
"""

import hashlib
from collections import deque
from collections.abc import Iterable

from sqlalchemy import select

from shared.db.models import OutboxMessage
from shared.db.session import transaction
from shared.kernel.contracts import BY_ROUTING_KEY, Contract
from shared.messaging.consumer import Delivery, Handler
from shared.registry import Registry


def handlers_by_contract(registries: Iterable[Registry]) -> dict[type[Contract], list[Handler]]:
    found: dict[type[Contract], list[Handler]] = {}
    for registry in registries:
        for _, handlers in registry.subscriptions:
            for contract, handler in handlers.items():
                found.setdefault(contract, []).append(handler)
    return found


def _added(correlation_id: str, after: int) -> list[tuple[int, str, str, bytes]]:
    """The outbox rows of `correlation_id` added after the row `after`: (id, message id, routing key, body)."""
    with transaction() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.message_id, OutboxMessage.routing_key, OutboxMessage.body)
            .where(OutboxMessage.correlation_id == correlation_id, OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
        )
        return [(row.id, row.message_id, row.routing_key, row.body) for row in rows]


async def deliver(registries: Iterable[Registry], first: Contract, message_id: str) -> list[Contract]:
    """Deliver `first` under `message_id` (the correlation id of every message that follows from it) and everything
    that follows; every message sent, in the order sent."""
    handlers = handlers_by_contract(registries)
    waiting = deque([(first, message_id, first.model_dump_json().encode())])
    sent: list[Contract] = []
    last = 0
    while waiting:
        message, delivered_id, body = waiting.popleft()
        sent.append(message)
        delivery = Delivery(delivered_id, message_id, message.routing_key, False, hashlib.sha256(body).hexdigest())
        for handler in handlers.get(type(message), []):
            await handler(message, delivery)
        for row_id, added_id, routing_key, added_body in _added(message_id, last):
            waiting.append((BY_ROUTING_KEY[routing_key].model_validate_json(added_body), added_id, added_body))
            last = row_id
    return sent
