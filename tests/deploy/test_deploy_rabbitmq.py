"""deploy/rabbitmq/definitions.json against the code: the output of `schedcu broker definitions` (the exchanges,
queues, arguments and bindings `shared.messaging.topology.of` says), one least-privilege user per service, whose
topic permissions let it publish only the routing keys its registry says it publishes, and an upstream user that
may only ask for imports and read their answers."""

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from schedcu.runtime import broker_definitions
from schedcu.runtime.registries import WORKERS, registry
from shared.kernel.contracts import CONTRACTS, ImportAccepted, ImportRejected, ImportRequested
from shared.messaging import topology
from shared.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DEFINITIONS = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
VHOST = "schedcu"
OPERATOR = "schedcu-operator"
UPSTREAM = "schedcu-upstream"
ROUTING_KEYS = sorted(contract.routing_key for contract in CONTRACTS)
# RabbitMQ's own exchanges exist in every vhost; no schedcu user may publish to or configure them.
BUILT_IN_EXCHANGES = ("amq.default", "amq.direct", "amq.fanout", "amq.headers", "amq.match", "amq.topic")


CONSUMERS = [queue for name in WORKERS for queue in registry(name).queues]  # each worker's queue and its lanes'


def in_vhost(kind: str) -> list[dict[str, Any]]:
    items = DEFINITIONS[kind]
    assert {item["vhost"] for item in items} == {VHOST}
    return items


def permissions() -> dict[str, dict[str, str]]:
    entries = DEFINITIONS["permissions"]
    assert {entry["vhost"] for entry in entries} == {VHOST}
    assert len({entry["user"] for entry in entries}) == len(entries)
    return {entry["user"]: entry for entry in entries}


def worker_users() -> dict[str, set[str]]:
    """RabbitMQ user -> the queues it reads (its worker's), for every worker of `schedcu worker`."""
    return {f"schedcu-{name}": {queue.name for queue in registry(name).queues} for name in WORKERS}


def all_queues() -> list[str]:
    return [q["name"] for q in DEFINITIONS["queues"]]


def all_exchanges() -> list[str]:
    return [e["name"] for e in DEFINITIONS["exchanges"]] + list(BUILT_IN_EXCHANGES)


def matching(pattern: str, names: list[str]) -> set[str]:
    """RabbitMQ grants an operation on a resource when the permission's regex finds a match in its name."""
    return {name for name in names if re.search(pattern, name)}


def test_the_committed_definitions_are_the_generated_ones() -> None:
    """The exchanges, queues, bindings and accounts are those the topology and the registries give."""
    assert (DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8") == broker_definitions.render(), (
        "deploy/rabbitmq/definitions.json is stale: "
        "run `schedcu broker definitions --out deploy/rabbitmq/definitions.json`"
    )


def test_definitions_hold_the_schedcu_vhost() -> None:
    assert [v["name"] for v in DEFINITIONS["vhosts"]] == [VHOST]


def test_every_consumer_queue_is_a_quorum_queue_dead_lettering_to_its_own_dead_letter_queue() -> None:
    queues = {q["name"]: q["arguments"] for q in in_vhost("queues")}
    for consumer in CONSUMERS:
        assert queues[consumer.name]["x-queue-type"] == "quorum"
        assert queues[consumer.name]["x-dead-letter-exchange"] == topology.DEAD_LETTER_EXCHANGE.name
        assert queues[consumer.name]["x-dead-letter-routing-key"] == consumer.dead_letter_name
        assert queues[consumer.name]["x-delivery-limit"] == Settings().delivery_limit
        assert queues[consumer.dead_letter_name]["x-queue-type"] == "quorum"


def test_no_policy_overrides_the_queue_arguments_the_code_sets() -> None:
    assert DEFINITIONS.get("policies", []) == []


def test_every_user_is_a_worker_or_the_operator_and_has_permissions() -> None:
    users = {u["name"] for u in DEFINITIONS["users"]}
    assert users == {*worker_users(), OPERATOR, UPSTREAM}
    assert set(permissions()) == users


@pytest.mark.parametrize("user", sorted(f"schedcu-{name}" for name in WORKERS))
def test_a_worker_reads_only_its_own_queue(user: str) -> None:
    assert matching(permissions()[user]["read"], all_queues()) == worker_users()[user]


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_a_worker_publishes_only_to_the_dead_letter_exchange_and_those_of_its_messages(worker: str) -> None:
    """A worker that sends no command may not write to the commands exchange at all."""
    user = f"schedcu-{worker}"
    expected = {topology.exchange_for(key).name for key in registry(worker).published_keys}
    assert matching(permissions()[user]["write"], all_exchanges()) == {*expected, topology.DEAD_LETTER_EXCHANGE.name}
    assert matching(permissions()[user]["write"], all_queues()) == set(), "write on a queue allows binding it"


@pytest.mark.parametrize("user", sorted({*(f"schedcu-{name}" for name in WORKERS), OPERATOR, UPSTREAM}))
def test_no_user_can_declare_or_delete_anything(user: str) -> None:
    assert matching(permissions()[user]["configure"], all_queues() + all_exchanges()) == set()


def test_no_user_but_the_operator_reads_another_services_queue() -> None:
    for user, entry in permissions().items():
        others = set(all_queues()) - worker_users()[user] if user in worker_users() else set()
        assert matching(entry["read"], sorted(others)) == set(), user


def test_the_operator_reads_dead_letters_and_unrouted_events_and_publishes_events_and_commands() -> None:
    operator = permissions()[OPERATOR]
    parked = {q.dead_letter_name for q in CONSUMERS} | {topology.UNROUTED_QUEUE.name}
    assert matching(operator["read"], all_queues()) == parked
    assert matching(operator["write"], all_exchanges()) == {
        topology.EVENTS_EXCHANGE.name,
        topology.COMMANDS_EXCHANGE.name,
    }


def test_commands_are_bound_on_the_commands_exchange_and_events_on_the_events_exchange() -> None:
    for binding in in_vhost("bindings"):
        if binding["source"] in (topology.EVENTS_EXCHANGE.name, topology.COMMANDS_EXCHANGE.name):
            assert binding["source"] == topology.exchange_for(binding["routing_key"]).name, binding
    commands = {b["routing_key"] for b in in_vhost("bindings") if b["source"] == topology.COMMANDS_EXCHANGE.name}
    assert commands == {key for queue in CONSUMERS for key in queue.bindings if key.startswith("command.")}


def topic_permissions() -> dict[tuple[str, str], dict[str, str]]:
    """(user, exchange) -> the user's topic permission on that exchange."""
    entries = DEFINITIONS["topic_permissions"]
    assert {entry["vhost"] for entry in entries} == {VHOST}
    assert {entry["exchange"] for entry in entries} <= {topology.EVENTS_EXCHANGE.name, topology.COMMANDS_EXCHANGE.name}
    found = {(entry["user"], entry["exchange"]): entry for entry in entries}
    assert len(found) == len(entries)
    return found


def published_keys(user: str) -> set[str]:
    """The routing keys `user` may publish: on each exchange it may write to, those its topic permission there
    allows (RabbitMQ allows every key on an exchange the user has no topic permission for)."""
    keys = set()
    for exchange in matching(permissions()[user]["write"], all_exchanges()) - {topology.DEAD_LETTER_EXCHANGE.name}:
        entry = topic_permissions().get((user, exchange))
        assert entry is not None, f"{user} may publish any routing key on {exchange}"
        assert matching(entry["read"], ROUTING_KEYS) == set()
        keys |= {key for key in matching(entry["write"], ROUTING_KEYS) if topology.exchange_for(key).name == exchange}
    return keys


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_a_worker_publishes_only_the_routing_keys_its_registry_declares(worker: str) -> None:
    assert published_keys(f"schedcu-{worker}") == set(registry(worker).published_keys)


def test_the_coverage_worker_may_not_say_what_the_scraper_says_nor_command_versions() -> None:
    published = published_keys("schedcu-coverage")
    assert published >= {"event.coverage.calculated", "event.coverage.failed"}
    assert not published & {"event.amion.scraped", "command.versions.draft"}


def test_upstream_may_only_ask_for_an_import_and_read_only_its_reply_queue() -> None:
    upstream = permissions()[UPSTREAM]
    assert matching(upstream["write"], all_exchanges()) == {topology.EVENTS_EXCHANGE.name}
    assert matching(upstream["write"], all_queues()) == set()
    assert matching(upstream["read"], all_queues() + all_exchanges()) == {topology.UPSTREAM_REPLIES_QUEUE.name}
    assert published_keys(UPSTREAM) == {ImportRequested.routing_key}


def test_the_upstream_reply_queue_receives_the_answers_to_import_requests_and_nothing_else() -> None:
    bound = {b["routing_key"] for b in in_vhost("bindings") if b["destination"] == topology.UPSTREAM_REPLIES_QUEUE.name}
    assert bound == {ImportAccepted.routing_key, ImportRejected.routing_key}


def test_every_user_but_the_operator_has_its_routing_keys_limited() -> None:
    """The operator redrives dead letters, whatever their routing key: its publishing stays unlimited."""
    assert {user for user, _ in topic_permissions()} == {*worker_users(), UPSTREAM}


def rabbit_sha256_matches(password_hash: str, password: str) -> bool:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), a 4-byte salt."""
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def test_compose_services_log_in_as_their_own_user_with_its_development_password() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    hashes = {u["name"]: u for u in DEFINITIONS["users"]}
    logins = {name: urlsplit(services[name]["environment"]["SCHEDCU_AMQP_URL"]) for name in [*WORKERS, "operator"]}
    for service, url in logins.items():
        assert url.username == f"schedcu-{service}"
        assert url.path == f"/{VHOST}"
        user = hashes[url.username]
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        assert rabbit_sha256_matches(user["password_hash"], unquote(url.password or "")), service
