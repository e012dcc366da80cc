"""`schedcu --help` and argument errors answer at once: they import neither the database nor the messaging stack.
The read commands import what they read with, and not the workers' messaging framework nor the solver
(bench/cli_bench.py times them)."""

import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import Services

HEAVY = ("sqlalchemy", "faststream", "aio_pika", "psycopg", "httpx", "ortools", "ezodf")


def imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages `python -m schedcu ARGS` imported (from `-X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "schedcu", *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert lines, done.stderr
    return {name.split(".")[0] for name in lines}


@pytest.mark.parametrize(
    "args",
    [("--help",), ("versions", "list", "--help"), ("versions", "show", "not-an-id"), ("no-such-command",)],
)
def test_help_and_argument_errors_import_no_heavy_module(args: tuple[str, ...]) -> None:
    assert imported(*args).isdisjoint(HEAVY)


@pytest.mark.integration
@pytest.mark.parametrize("args", [("versions", "list"), ("workflows", "show", str(uuid.uuid4())), ("status",)])
def test_read_commands_import_neither_the_messaging_framework_nor_the_solver(
    services: Services, args: tuple[str, ...]
) -> None:
    packages = imported(
        *args, env={"SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    )
    assert "sqlalchemy" in packages  # it did read
    assert packages.isdisjoint({"faststream", "uvicorn", "ortools", "ezodf", "pydantic_settings"})
