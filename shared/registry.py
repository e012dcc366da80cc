"""What one service's worker is: its queue (with the routing keys bound to it), its handlers, the periodic jobs
it runs, its rejecters and the messages it publishes. Each service declares one `Registry` in
`services/<name>/registry.py`; `schedcu worker` runs it, and the operator commands (`status`, `dlq`) collect them
all (`schedcu/runtime/registries.py`)."""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shared.kernel.contracts import Contract
from shared.messaging.consumer import Handler, Rejecter
from shared.messaging.topology import ConsumerQueue
from shared.settings import Settings


@dataclass(frozen=True)
class Periodic:
    """A job the worker runs, given its settings, every `interval_s(settings)` seconds until it stops."""

    name: str
    interval_s: Callable[[Settings], float]
    run: Callable[[Settings], Awaitable[object]]


@dataclass(frozen=True)
class Lane:
    """A further queue of a worker, consumed beside its first one with a prefetch of its own: its messages never wait
    for a delivery slot held by the first queue's long work (a repair behind drafts that solve for minutes)."""

    queue: ConsumerQueue
    handlers: Mapping[type[Contract], Handler]


@dataclass(frozen=True)
class Registry:
    queue: ConsumerQueue
    handlers: Mapping[type[Contract], Handler]
    periodic: Sequence[Periodic] = ()
    rejecters: Mapping[type[Contract], Rejecter] = field(default_factory=dict)
    # every message the service's code sends (its handlers, and the operator actions in its package): its relay
    # publishes only these, and its broker account may publish only their routing keys
    publishes: Sequence[type[Contract]] = ()
    lanes: Sequence[Lane] = ()

    @property
    def service(self) -> str:
        return self.queue.consumer

    @property
    def queues(self) -> tuple[ConsumerQueue, ...]:
        """The worker's queues: its first one, then its lanes'."""
        return (self.queue, *(lane.queue for lane in self.lanes))

    @property
    def subscriptions(self) -> tuple[tuple[ConsumerQueue, Mapping[type[Contract], Handler]], ...]:
        """Each queue with the handlers of the messages it receives."""
        return ((self.queue, self.handlers), *((lane.queue, lane.handlers) for lane in self.lanes))

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(contract.routing_key for _, handlers in self.subscriptions for contract in handlers)

    @property
    def published_keys(self) -> tuple[str, ...]:
        return tuple(contract.routing_key for contract in self.publishes)
