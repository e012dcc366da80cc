"""What one service's worker is: its queue (with the routing keys bound to it), its handlers, the periodic jobs
it runs, its rejecters and the messages it publishes. Each service declares one `Registry` in
`services/<name>/registry.py`; `schedcu worker` runs it, and the operator commands (`status`, `dlq`) collect them
all (`schedcu/registries.py`)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shared.contracts import Contract
from shared.messaging.consumer import Handler, Rejecter
from shared.messaging.topology import ConsumerQueue
from shared.settings import Settings


@dataclass(frozen=True)
class Periodic:
    """A job the worker runs, given its settings, every `interval_s(settings)` seconds until it stops."""

    name: str
    interval_s: Callable[[Settings], float]
    run: Callable[[Settings], Awaitable[object]]


def in_thread(job: Callable[[Settings], object]) -> Callable[[Settings], Awaitable[object]]:
    return lambda settings: asyncio.to_thread(job, settings)


@dataclass(frozen=True)
class Registry:
    queue: ConsumerQueue
    handlers: Mapping[type[Contract], Handler]
    periodic: Sequence[Periodic] = ()
    rejecters: Mapping[type[Contract], Rejecter] = field(default_factory=dict)
    # every message the service's code sends (its handlers, and the operator actions in its package): its relay
    # publishes only these, and its broker account may publish only their routing keys
    publishes: Sequence[type[Contract]] = ()

    @property
    def service(self) -> str:
        return self.queue.consumer

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(contract.routing_key for contract in self.handlers)

    @property
    def published_keys(self) -> tuple[str, ...]:
        return tuple(contract.routing_key for contract in self.publishes)
