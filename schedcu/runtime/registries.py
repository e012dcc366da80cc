"""Every service's registry, by the name `schedcu worker` knows its worker by.

A worker's name (`ods-importer`) is what an operator types and what the deployment names (processes, broker
accounts, compose services, Kubernetes objects, whose names allow no `_`); its service's name (`ods_importer`) is
the Python package's and the code's (queues, routing keys, database roles, table owners, metrics). `WORKERS` is the
one place that turns the first into the second."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `schedcu --help` lists the workers without importing the messaging stack
    from shared.messaging.senders import Senders
    from shared.messaging.topology import ConsumerQueue
    from shared.registry import Registry

WORKERS = {  # each worker's service, `services/<service>/`, whose registry names it so (tests/test_architecture.py)
    "ods-importer": "ods_importer",
    "amion-scraper": "amion_scraper",
    "coverage": "coverage",
    "versions": "versions",
    "drafting": "drafting",
}
SERVICES = list(WORKERS.values())  # what `schedcu status` looks for without importing every service's handlers
LANES = ["drafting.repair"]  # the further queues of workers (shared/registry.py `Lane`), after the services' own
QUEUE_NAMES = [name for s in SERVICES + LANES for name in (f"schedcu.{s}", f"schedcu.{s}.dead-letter")] + [
    "schedcu.unrouted",
    "schedcu.upstream.replies",
]


def registry(worker: str) -> "Registry":
    found: Registry = importlib.import_module(f"services.{WORKERS[worker]}.registry").REGISTRY
    return found


def all_registries() -> "list[Registry]":
    return [registry(worker) for worker in WORKERS]


def all_queues() -> "list[ConsumerQueue]":
    """Every service's queues: what a worker declares at start, and what the operator commands look at."""
    return [queue for r in all_registries() for queue in r.queues]


def senders(worker: str, accounts: str, login: str | None) -> "Senders | None":
    """Who may send what, by the broker accounts' names (`accounts`, `{name}` standing for a worker, `upstream` or
    `operator`): each worker's account its registry's `publishes`, upstream's `import.requested`, the operator's
    anything. None (nothing checked) unless `worker` logs in (`login`) as its own account: workers sharing one
    account cannot tell each other apart."""
    from shared.kernel.contracts import ImportRequested
    from shared.messaging.senders import Senders

    if login != accounts.format(name=worker):
        return None
    by_key: dict[str, set[str]] = {ImportRequested.routing_key: {accounts.format(name="upstream")}}
    for name in WORKERS:
        for key in registry(name).published_keys:
            by_key.setdefault(key, set()).add(accounts.format(name=name))
    return Senders(
        {key: frozenset(users) for key, users in by_key.items()}, frozenset({accounts.format(name="operator")})
    )
