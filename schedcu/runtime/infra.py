"""Finding PostgreSQL and RabbitMQ: the configured URLs (SCHEDCU_DATABASE_URL / SCHEDCU_AMQP_URL, else
localhost), then, where a Docker engine runs, containers started with testcontainers."""

import shutil
import socket
import subprocess
from contextlib import ExitStack
from urllib.parse import urlparse

import psycopg
from sqlalchemy.engine import make_url

from schedcu.errors import UsageMistake, where
from shared.messaging.connection import urls
from shared.serving import listening_socket


class MissingService(RuntimeError):
    pass


def _answers(url: str, default_port: int) -> bool:
    """Whether the server (any host of a multi-host AMQP URL) accepts a connection."""
    for one in urls(url) if url.startswith("amqp") else [url]:
        parsed = urlparse(one.replace("postgresql+psycopg", "postgresql"))
        try:
            with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
                return True
        except OSError:
            continue
    return False


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def ensure_database_exists(url: str) -> bool:
    """Create the database named in `url` when the server has no such database yet; True when created. The
    server's maintenance database is used only then, so a user without access to it can still migrate."""
    target = make_url(url)
    try:
        psycopg.connect(target.set(drivername="postgresql").render_as_string(hide_password=False)).close()
        return False
    except psycopg.OperationalError as error:
        if f'database "{target.database}" does not exist' not in str(error):
            raise
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{target.database}"')
    return not exists


def resolve(database_url: str, amqp_url: str, stack: ExitStack) -> tuple[str, str]:
    """Working URLs for both services; containers started here stop when `stack` closes."""
    db_ok = _answers(database_url, 5432)
    mq_ok = _answers(amqp_url, 5672)
    if db_ok and mq_ok:
        return database_url, amqp_url
    if not docker_available():
        missing = [
            name
            for name, ok in (
                ("PostgreSQL at " + _hostport(database_url), db_ok),
                ("RabbitMQ at " + _hostport(amqp_url), mq_ok),
            )
            if not ok
        ]
        raise MissingService(
            "Not reachable: " + ", ".join(missing) + ". Start them, or point SCHEDCU_DATABASE_URL / "
            "SCHEDCU_AMQP_URL at running servers, or run on a machine with Docker (testcontainers)."
        )
    if not db_ok:
        from testcontainers.postgres import PostgresContainer

        pg = stack.enter_context(PostgresContainer("postgres:15", driver="psycopg"))
        database_url = pg.get_connection_url()
    if not mq_ok:
        from testcontainers.rabbitmq import RabbitMqContainer

        mq = stack.enter_context(RabbitMqContainer("rabbitmq:3.13"))
        amqp_url = f"amqp://guest:guest@{mq.get_container_host_ip()}:{mq.get_exposed_port(5672)}/"
    return database_url, amqp_url


def _hostport(url: str) -> str:
    return where(url.replace("postgresql+psycopg", "postgresql"))


def listening(host: str, port: int, fix: str) -> socket.socket:
    """A socket bound for a server (shared/serving.py); one that cannot be bound is a usage mistake ending in `fix`."""
    try:
        return listening_socket(host, port)
    except OSError as error:
        raise UsageMistake(f"cannot listen on {host}:{port} ({error.strerror}): {fix}") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
