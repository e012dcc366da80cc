"""What one service's worker is: its queue (with the routing keys bound to it), its handlers, the periodic jobs
it runs and its rejecters. Each service declares one `Registry` in `services/<name>/registry.py`; `schedcu worker`
runs it, and the operator commands (`status`, `dlq`) collect them all (`schedcu/registries.py`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.contracts import Contract
from shared.messaging.consumer import Handler, Rejecter
from shared.messaging.topology import ConsumerQueue
from shared.worker import Periodic


@dataclass(frozen=True)
class Registry:
    queue: ConsumerQueue
    handlers: Mapping[type[Contract], Handler]
    periodic: Sequence[Periodic] = ()
    rejecters: Mapping[type[Contract], Rejecter] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return self.queue.consumer

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(contract.routing_key for contract in self.handlers)
