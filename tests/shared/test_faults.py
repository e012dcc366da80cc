"""Which failures are transient (never counted toward the delivery limit), the retry schedules, and the
dependency gate that holds work while the database or the broker is away."""

import asyncio
import logging
import random

import aio_pika
import aiormq.exceptions
import psycopg
import psycopg.errors
import pytest
import sqlalchemy.exc
from pamqp.commands import Basic
from sqlalchemy import create_engine, text

from shared.messaging.faults import (
    DATABASE_PROBE,
    DETERMINISTIC,
    TRANSIENT,
    Backoff,
    DependencyGate,
    Failure,
    classify,
    describe,
)

CLOSED_PORT_DSN = "host=127.0.0.1 port=1 user=postgres dbname=schedcu connect_timeout=2"


def wrapped(orig: Exception) -> sqlalchemy.exc.DBAPIError:
    """The exception SQLAlchemy raises for `orig` from the driver (its class chosen as SQLAlchemy does)."""
    return sqlalchemy.exc.DBAPIError.instance(
        "UPDATE workflows SET state = %(state)s", {"state": "secret-ish"}, orig, psycopg.Error
    )


def refused_by_postgres() -> BaseException:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(CLOSED_PORT_DSN)
    return caught.value


def refused_through_sqlalchemy() -> BaseException:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/schedcu", connect_args={"connect_timeout": 2})
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return caught.value


def refused_by_rabbitmq() -> BaseException:
    with pytest.raises(aiormq.exceptions.AMQPConnectionError) as caught:
        asyncio.run(aio_pika.connect("amqp://guest:guest@127.0.0.1:1/"))
    return caught.value


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (refused_by_postgres, Failure.DATABASE_DOWN),
        (refused_through_sqlalchemy, Failure.DATABASE_DOWN),
        (lambda: wrapped(psycopg.errors.AdminShutdown("terminating connection")), Failure.DATABASE_DOWN),
        (lambda: wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")), Failure.DATABASE_DOWN),
        (lambda: wrapped(psycopg.errors.ConnectionFailure("connection lost")), Failure.DATABASE_DOWN),
        (lambda: psycopg.OperationalError("server closed the connection unexpectedly"), Failure.DATABASE_DOWN),
        (lambda: wrapped(psycopg.errors.SerializationFailure("could not serialize access")), Failure.TRANSIENT),
        (lambda: wrapped(psycopg.errors.DeadlockDetected("deadlock detected")), Failure.TRANSIENT),
        (lambda: wrapped(psycopg.errors.QueryCanceled("canceling statement due to timeout")), Failure.TRANSIENT),
        (lambda: wrapped(psycopg.errors.LockNotAvailable("could not obtain lock")), Failure.TRANSIENT),
        (lambda: sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"), Failure.TRANSIENT),
        (lambda: TimeoutError(), Failure.TRANSIENT),
        (refused_by_rabbitmq, Failure.BROKER_DOWN),
        (lambda: aiormq.exceptions.ConnectionClosed(320, "CONNECTION_FORCED - shutdown"), Failure.BROKER_DOWN),
        (lambda: aiormq.exceptions.ChannelInvalidStateError("channel closed"), Failure.BROKER_DOWN),
        # a publish whose connection died under it: aiormq cancels it with the loss as the reason
        (
            lambda: asyncio.CancelledError(aiormq.exceptions.AMQPConnectionError("Server connection reset")),
            Failure.BROKER_DOWN,
        ),
        (lambda: asyncio.CancelledError(), Failure.DETERMINISTIC),
        (lambda: ValueError("no shift on 2026-03-02"), Failure.DETERMINISTIC),
        (lambda: KeyError("RES_BODY"), Failure.DETERMINISTIC),
        (lambda: FileNotFoundError("template.ods"), Failure.DETERMINISTIC),
        (lambda: wrapped(psycopg.errors.UniqueViolation("duplicate key")), Failure.DETERMINISTIC),
        (lambda: wrapped(psycopg.errors.UndefinedTable('relation "nope" does not exist')), Failure.DETERMINISTIC),
        (lambda: wrapped(psycopg.errors.NumericValueOutOfRange("integer out of range")), Failure.DETERMINISTIC),
        (lambda: aiormq.exceptions.ChannelNotFoundEntity("NOT_FOUND - no exchange"), Failure.DETERMINISTIC),
        (lambda: aiormq.exceptions.DeliveryError(None, Basic.Nack(delivery_tag=7)), Failure.NACKED),
        (lambda: aiormq.exceptions.DeliveryError(None, Basic.Return(312, "NO_ROUTE")), Failure.DETERMINISTIC),
    ],
)
def test_failures_are_classified(make: object, expected: Failure) -> None:
    assert callable(make)
    assert classify(make()) is expected


def test_a_failure_caused_by_an_outage_is_transient() -> None:
    try:
        try:
            raise wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
        except sqlalchemy.exc.OperationalError as error:
            raise RuntimeError("could not store the import") from error
    except RuntimeError as outer:
        assert classify(outer) is Failure.DATABASE_DOWN


def test_description_shows_driver_message_without_sql_parameters_or_password() -> None:
    error = wrapped(psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"))
    assert describe(error) == "UniqueViolation: duplicate key value violates unique constraint"
    leaked = ConnectionError("cannot reach amqp://schedcu:hunter2@rabbit:5672/schedcu")
    assert "hunter2" not in describe(leaked)
    assert describe(leaked) == "ConnectionError: cannot reach amqp://schedcu:***@rabbit:5672/schedcu"


def test_transient_backoff_doubles_from_half_a_second_to_thirty_with_jitter() -> None:
    assert [TRANSIENT.delay(n, rand=lambda: 1.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert [TRANSIENT.delay(n, rand=lambda: 0.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 15, 15]
    seeded = random.Random(7)
    draws = [TRANSIENT.delay(n, rand=seeded.random) for n in range(1, 200) for _ in range(5)]
    assert min(draws) >= 0.5 and max(draws) <= 30
    assert len(set(draws)) > 900  # jittered: concurrent retries spread out
    assert TRANSIENT.delay(10_000) <= 30


def test_deterministic_retries_are_at_least_a_second_apart() -> None:
    assert [DETERMINISTIC.delay(n, rand=lambda: 0.0) for n in range(1, 8)] == [1, 2, 4, 8, 15, 15, 15]
    assert all(DETERMINISTIC.delay(n) >= 1.0 for n in range(1, 100))


def test_database_probe_reopens_within_two_seconds_of_the_return() -> None:
    assert all(DATABASE_PROBE.delay(n) <= 2.0 for n in range(1, 100))
    assert DATABASE_PROBE.delay(1, rand=lambda: 0.0) == 0.25


def test_gate_holds_work_until_the_probe_answers_and_logs_each_change_once(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter([False, False, False, True])
    probes: list[bool] = []

    async def probe() -> bool:
        probes.append(answer := next(answers))
        return answer

    async def scenario() -> list[str]:
        gate = DependencyGate("database", probe, Backoff(0.01, 0.02))
        order: list[str] = []

        async def work() -> None:
            await gate.wait_open()
            order.append("work")

        gate.close(wrapped(psycopg.errors.AdminShutdown("terminating connection")))
        gate.close(refused_through_sqlalchemy())  # already known: nothing logged
        waiting = asyncio.create_task(work())
        await asyncio.sleep(0.02)
        order.append("still closed" if not gate.is_open else "open too early")
        await asyncio.wait_for(waiting, 5)
        assert gate.is_open
        await gate.stop()
        return order

    with caplog.at_level(logging.WARNING, logger="shared.messaging.faults"):
        assert asyncio.run(scenario()) == ["still closed", "work"]
    assert probes == [False, False, False, True]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0] == (
        "database unavailable (AdminShutdown: terminating connection); holding work until it answers"
    )
    assert messages[1].startswith("database is back after ")
