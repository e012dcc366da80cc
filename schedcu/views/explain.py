"""The one line that ends a command on an error: what is wrong and which setting or option to change. Lines
name a server by host and port, a user, database or vhost by name, and never a password."""

import errno
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from schedcu.errors import FAILURE, INFRASTRUCTURE, USAGE, Mistake, where

if TYPE_CHECKING:
    from pydantic import ValidationError

# what the server says after "FATAL:" when it refuses a connection (English server messages)
_REFUSAL = re.compile(r"FATAL:\s+(.*)")
_QUOTED = re.compile(r'"([^"]*)"')


def settings_problem(error: "ValidationError") -> str:
    """Each wrong setting by its variable, with what is wrong but not its value (it may be a secret)."""
    problems = []
    for e in error.errors():
        name, *inner = [f"item {part + 1}" if isinstance(part, int) else str(part) for part in e["loc"]] or ["?"]
        field = f" ({'.'.join(inner)})" if inner else ""
        problems.append(f"SCHEDCU_{name.upper()}{field}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def database_problem(error: Exception, database_url: str) -> str:
    """`error`: a psycopg (or SQLAlchemy-wrapped) OperationalError."""
    password = urlsplit(database_url).password
    at = f"PostgreSQL at {where(database_url)}"
    text = str(getattr(error, "orig", None) or error)
    refusal = _REFUSAL.search(text)
    said = refusal.group(1).strip() if refusal else ""
    named = _QUOTED.search(said)
    name = named.group(1) if named else ""  # the role or database, as the server names it
    if said.startswith("role ") and said.endswith("does not exist"):
        return f'{at} has no role "{name}": check the user in SCHEDCU_DATABASE_URL'
    if said.startswith("database ") and said.endswith("does not exist"):
        return (
            f'{at} has no database "{name}": `schedcu db upgrade` creates it, '
            "or check the database name in SCHEDCU_DATABASE_URL"
        )
    if said.startswith("password authentication failed"):
        return f'{at} refused the password of user "{name}": check SCHEDCU_DATABASE_URL'
    if said:
        return f"{at} refused the connection ({_masked(said, password)}): check SCHEDCU_DATABASE_URL"
    reason = "connection refused" if "Connection refused" in text else _masked(text.splitlines()[0], password)
    return (
        f"cannot use the database at {where(database_url)} ({reason}): "
        "check SCHEDCU_DATABASE_URL and that PostgreSQL runs"
    )


def broker_problem(error: BaseException, amqp_url: str) -> str | None:
    """The line for a broker that cannot be used, or None when `error` does not say so."""
    import aio_pika
    import aiormq

    url = urlsplit(amqp_url)
    user = unquote(url.username or "guest")
    at = f"RabbitMQ at {where(amqp_url)}"
    if isinstance(error, aiormq.exceptions.ProbableAuthenticationError):
        return f'{at} refused the login of user "{user}": check the user and password in SCHEDCU_AMQP_URL'
    if isinstance(error, aiormq.exceptions.InvalidFrameError) and "Connection.Close" in str(error):
        # the broker closes instead of opening: the vhost does not exist, or the user has no permission on it
        vhost = unquote(url.path[1:]) if len(url.path) > 1 else "/"
        return (
            f'{at} refused vhost "{vhost}" (no such vhost, or user "{user}" may not use it): '
            "check the vhost in SCHEDCU_AMQP_URL (`rabbitmqctl list_vhosts`)"
        )
    if isinstance(error, aio_pika.exceptions.AMQPConnectionError | ConnectionError):
        return f"cannot reach {at} ({error.__class__.__name__}): check SCHEDCU_AMQP_URL and that RabbitMQ runs"
    return None


def _masked(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


def explain(error: Exception) -> tuple[int, str]:
    """The exit status and one line for an error that ends a command."""
    import psycopg
    import sqlalchemy.exc

    from shared.settings import get_settings

    settings = get_settings()
    if isinstance(error, Mistake):
        return error.status, str(error)
    if isinstance(error, sqlalchemy.exc.ProgrammingError) and isinstance(
        error.orig, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn
    ):
        return INFRASTRUCTURE, "the database schema is older than this schedcu: run `schedcu db upgrade`"
    if isinstance(error, sqlalchemy.exc.OperationalError | psycopg.OperationalError):
        return INFRASTRUCTURE, database_problem(error, settings.database_url)
    broker = broker_problem(error, settings.amqp_url)
    if broker is not None:
        return INFRASTRUCTURE, broker
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return USAGE, f"the port is in use by another process ({error.strerror}): give another --port"
    if isinstance(error, OSError) and error.filename:
        return USAGE, f"cannot use {error.filename}: {error.strerror}"
    return FAILURE, f"unexpected {error.__class__.__name__}: {error} (run with --debug for the traceback)"
