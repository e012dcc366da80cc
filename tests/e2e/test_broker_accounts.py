"""The broker accounts of deploy/rabbitmq/definitions.json, enforced by a real RabbitMQ: a vhost of this module's
own on the local broker, its topology declared as the code declares it, and every user of the definitions
created (under a name of this run's own, with a random password) with the definitions' permissions and topic
permissions. Upstream may only ask for imports and read their answers, a worker may only say what is its own,
nobody may sign as someone else, the operator redrives any dead letter signed as itself, the pipeline completes a
month with every worker on its own account, and a worker dead-letters unread a message from an account that may
not send it."""

import asyncio
import calendar
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import aio_pika
import aiormq
import pytest
from sqlalchemy.orm import sessionmaker

from schedcu.runtime.registries import WORKERS, all_queues, registry
from schedcu.testing import broker_accounts
from shared.kernel import ids
from shared.kernel.contracts import ImportAccepted, ImportRequested
from shared.messaging import dead_letters, topology
from shared.settings import Settings
from tests.conftest import MONTH, Pipeline, Services, eventually, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl for the local broker"),
]


@dataclass(frozen=True)
class Accounts:
    services: Services
    urls: dict[str, str]  # user of the definitions -> the URL logging in as this run's copy of it
    names: str  # this run's accounts' names, as SCHEDCU_BROKER_ACCOUNTS gives them

    def of(self, user: str) -> str:
        return self.urls[user]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def accounts() -> Iterator[Accounts]:
    with ExitStack() as stack:
        services = stack.enter_context(provisioned(f"schedcu_test_accounts_{os.getpid()}"))
        asyncio.run(topology.declare(services.amqp_url, Settings().delivery_limit, all_queues()))
        suffix = f"-{uuid.uuid4().hex[:8]}"

        def added(login: str) -> None:
            stack.callback(
                subprocess.run, ["rabbitmqctl", "-q", "delete_user", login], check=False, capture_output=True
            )

        created = broker_accounts.add_users(rabbitmqctl, suffix, added)
        broker_accounts.grant(rabbitmqctl, urlsplit(services.amqp_url).path.lstrip("/"), created.values())
        urls = {user: account.url(services.amqp_url) for user, account in created.items()}
        yield Accounts(services, urls, broker_accounts.names(suffix))


def publish(amqp_url: str, routing_key: str, *, user_id: str | None = None, exchange_name: str | None = None) -> None:
    """Publish an empty JSON object to the exchange of `routing_key` (or `exchange_name`), confirmed: raises when the
    broker refuses it."""

    async def run() -> None:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            name = exchange_name or topology.exchange_for(routing_key).name
            exchange = await channel.get_exchange(name, ensure=False)
            await exchange.publish(
                aio_pika.Message(b"{}", content_type="application/json", user_id=user_id), routing_key=routing_key
            )

    asyncio.run(asyncio.wait_for(run(), 30))


def take_now(amqp_url: str, queue: str) -> aio_pika.abc.AbstractIncomingMessage | None:
    """The next message of `queue`, taken off it, or None when it is empty. Raises when the login may not read it."""

    async def get() -> aio_pika.abc.AbstractIncomingMessage | None:
        async with await aio_pika.connect(amqp_url) as connection:
            work = await (await connection.channel()).get_queue(queue, ensure=False)
            return await work.get(no_ack=True, fail=False)

    return asyncio.run(asyncio.wait_for(get(), 30))


def take(amqp_url: str, queue: str) -> aio_pika.abc.AbstractIncomingMessage | None:
    """The next message of `queue`, taken off it, once it is there (30 s at most)."""
    return eventually(lambda: take_now(amqp_url, queue), 30, f"a message in {queue}")


def login(amqp_url: str) -> str:
    return str(urlsplit(amqp_url).username)


def test_upstream_may_ask_for_an_import_but_not_command_a_draft(accounts: Accounts) -> None:
    upstream = accounts.of("schedcu-upstream")
    publish(upstream, ImportRequested.routing_key, user_id=login(upstream))
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        publish(upstream, "command.versions.draft")


def test_the_coverage_worker_may_say_its_own_events_but_not_a_scrape(accounts: Accounts) -> None:
    coverage = accounts.of("schedcu-coverage")
    publish(coverage, "event.coverage.failed", user_id=login(coverage))
    for foreign in ("event.amion.scraped", "command.versions.draft"):
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            publish(coverage, foreign)


def test_commands_travel_on_their_own_exchange_which_only_the_accounts_that_command_may_write_to(
    accounts: Accounts,
) -> None:
    coverage, importer = accounts.of("schedcu-coverage"), accounts.of("schedcu-ods-importer")
    publish(coverage, "command.coverage.calculate", user_id=login(coverage))
    routed = take(accounts.services.amqp_url, registry("coverage").queue.name)  # from schedcu.commands
    assert routed is not None and routed.user_id == login(coverage)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):  # not on the events' exchange
        publish(coverage, "command.coverage.calculate", exchange_name=topology.EVENTS_EXCHANGE.name)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):  # the importer commands nothing
        publish(importer, "command.coverage.calculate", user_id=login(importer))
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        publish(accounts.of("schedcu-upstream"), "command.versions.draft")


def test_a_forged_user_id_is_refused(accounts: Accounts) -> None:
    coverage, versions = accounts.of("schedcu-coverage"), accounts.of("schedcu-versions")
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        publish(coverage, "event.coverage.failed", user_id=login(versions))


def test_the_operator_redrives_a_letter_of_any_routing_key_signed_as_itself(accounts: Accounts) -> None:
    queue, message_id = registry("coverage").queue, str(uuid.uuid4())
    amqp_client.park_in_dead_letters(
        accounts.services.amqp_url, queue.dead_letter_name, b"{}", "command.coverage.calculate", message_id
    )
    operator = accounts.of("schedcu-operator")
    transaction = sessionmaker(accounts.services.engine).begin
    redriven = asyncio.run(dead_letters.redrive(operator, queue, message_id, actor="olga", transaction=transaction))
    assert [letter.message_id for letter in redriven] == [message_id]

    back = take(accounts.services.amqp_url, queue.name)
    assert back is not None and (back.message_id, back.user_id) == (message_id, login(operator))


@pytest.fixture(scope="module")
def pipeline(accounts: Accounts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The five workers, each on its own account and so checking each message's sender."""
    logins = {
        name: {"SCHEDCU_AMQP_URL": accounts.of(f"schedcu-{name}"), "SCHEDCU_BROKER_ACCOUNTS": accounts.names}
        for name in WORKERS
    }
    work = tmp_path_factory.mktemp("accounts")
    with running_pipeline(accounts.services, work, worker_env=logins, declare_topology="false") as running:
        yield running


def ask_for_a_month_as_upstream(accounts: Accounts, pipeline: Pipeline, prefix: str) -> str:
    """An import of MONTH published on the upstream account; its request id."""
    request_id = f"{prefix}-{uuid.uuid4()}"
    period = (MONTH.isoformat(), MONTH.replace(day=calendar.monthrange(MONTH.year, MONTH.month)[1]).isoformat())
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, *period)).encode()
    upstream = accounts.of("schedcu-upstream")
    amqp_client.publish(upstream, body, user_id=login(upstream))
    return request_id


def test_the_pipeline_completes_a_month_with_every_worker_on_its_own_account(
    accounts: Accounts, pipeline: Pipeline
) -> None:
    request_id = ask_for_a_month_as_upstream(accounts, pipeline, "accounts")
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id), timeout_s=180) == "COMPLETED"
    assert "checking each message's sender" in next(pipeline.log_dir.glob("versions-*.log")).read_text()


def test_upstream_takes_the_answer_to_its_request_from_its_reply_queue_and_may_read_no_other(
    accounts: Accounts, pipeline: Pipeline
) -> None:
    request_id = ask_for_a_month_as_upstream(accounts, pipeline, "replies")
    upstream = accounts.of("schedcu-upstream")

    def answer() -> aio_pika.abc.AbstractIncomingMessage | None:
        """The answer to this request, taking the earlier tests' answers off the queue on the way."""
        while (message := take_now(upstream, topology.UPSTREAM_REPLIES_QUEUE.name)) is not None:
            if json.loads(message.body).get("request_id") == request_id:
                return message
        return None

    accepted = eventually(answer, 60, f"the answer to {request_id} in {topology.UPSTREAM_REPLIES_QUEUE.name}")
    assert accepted.routing_key == ImportAccepted.routing_key
    assert accepted.user_id == login(accounts.of("schedcu-versions"))
    assert json.loads(accepted.body)["workflow_id"] == str(ids.workflow_id_for(request_id))
    for other in (registry("versions").queue.name, topology.UNROUTED_QUEUE.name):
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            take_now(upstream, other)


@pytest.mark.parametrize(
    ("user_id", "reason"),
    [
        ("guest", "user 'guest' may not send event.amion.scraped"),
        (None, "event.amion.scraped carries no AMQP user_id: its sender is unknown"),
    ],
)
def test_a_scrape_said_by_an_account_that_may_not_say_it_is_dead_lettered_unread(
    accounts: Accounts, pipeline: Pipeline, user_id: str | None, reason: str
) -> None:
    """The broker's administrator account may publish anything (its permissions are not the definitions'): the
    versions worker still refuses a scrape it did not get from the Amion scraper's account."""
    admin = accounts.services.amqp_url
    assert login(admin) == "guest"
    queue = registry("versions").queue
    forged = amqp_client.publish(admin, b'{"assignments": 9999}', "event.amion.scraped", user_id=user_id)

    def parked() -> list[dead_letters.DeadLetter]:
        letters = asyncio.run(dead_letters.peek(admin, queue, limit=None))
        return [letter for letter in letters if letter.message_id == forged]

    [letter] = eventually(parked, 60, "the forged scrape in the versions dead-letter queue")
    assert letter.reason == reason and letter.routing_key == "event.amion.scraped"
