"""Engine and sessions (SQLAlchemy 2 + psycopg 3, synchronous; async handlers call into threads)."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from shared.settings import get_settings


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    # a server that does not answer fails a connection attempt after 5 s instead of hanging the worker
    return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def engine() -> Engine:
    return engine_for(get_settings().database_url)


@lru_cache(maxsize=4)
def _sessions(url: str) -> sessionmaker[Session]:
    # one factory per engine: sessionmaker() makes a Session subclass each time, which costs every transaction
    return sessionmaker(engine_for(url), expire_on_commit=False)


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work: everything written inside commits together or not at all."""
    with _sessions(get_settings().database_url).begin() as session:
        yield session
