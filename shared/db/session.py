"""Engine and sessions (SQLAlchemy 2 + psycopg 3, synchronous; async handlers call into threads)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from shared.settings import get_settings

_pre_ping = True


def without_pre_ping() -> None:
    """For a worker process, before its first connection: a pooled connection is used without a ping first. The
    ping is a transaction of its own (SQLAlchemy sends it in autocommit), one more round trip and one more
    transaction in PostgreSQL for every transaction of the worker. A connection lost meanwhile (the database
    restarted) fails where it is used instead: SQLAlchemy invalidates the whole pool, the failure is transient
    (`shared.messaging.faults`) and the handler, the relay or the periodic job runs again on a new connection."""
    global _pre_ping
    _pre_ping = False


@lru_cache(maxsize=4)
def engine_for(url: str, pre_ping: bool = True) -> Engine:
    # a server that does not answer fails a connection attempt after 5 s instead of hanging the worker
    return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=pre_ping, connect_args={"connect_timeout": 5})


def engine() -> Engine:
    return engine_for(get_settings().database_url, _pre_ping)


@lru_cache(maxsize=4)
def _sessions(url: str, pre_ping: bool) -> sessionmaker[Session]:
    # one factory per engine: sessionmaker() makes a Session subclass each time, which costs every transaction
    return sessionmaker(engine_for(url, pre_ping), expire_on_commit=False)


# set by `rolled_back`: the sessions of its one transaction, for its context (and the threads and tasks it starts)
_rolled_back: ContextVar[sessionmaker[Session] | None] = ContextVar("rolled_back", default=None)


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work: everything written inside commits together or not at all (inside `rolled_back`: a
    savepoint of its transaction)."""
    sessions = _rolled_back.get() or _sessions(get_settings().database_url, _pre_ping)
    with sessions.begin() as session:
        yield session


@contextmanager
def rolled_back() -> Iterator[None]:
    """Inside the block every `transaction()` of this context (and of the threads and tasks it starts) is a
    savepoint of one database transaction on one connection, which is rolled back at the end: each sees what the
    earlier ones wrote, and nothing is ever committed. They share the connection: one at a time, never concurrent."""
    with engine().connect() as connection:
        outer = connection.begin()
        token = _rolled_back.set(
            sessionmaker(connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        )
        try:
            yield
        finally:
            _rolled_back.reset(token)
            outer.rollback()
