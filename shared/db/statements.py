"""Recording the SQL an engine sends: for the tests and benchmarks that prove a fixed number of statements."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Engine, event


class Executed(NamedTuple):
    sql: str
    parameters: Any


@contextmanager
def recorded(engine: Engine) -> Iterator[list[Executed]]:
    """Every statement `engine` executes inside the block, in order."""
    seen: list[Executed] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(Executed(statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
