"""`schedcu --help` and argument errors answer at once: they import neither the database nor the messaging stack
(bench/cli_bench.py times them)."""

import os
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "faststream", "aio_pika", "psycopg", "pydantic_settings", "httpx", "ortools", "ezodf")


def imported(*args: str) -> set[str]:
    """The top-level packages `python -m schedcu ARGS` imported (from `-X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "schedcu", *args],
        env=os.environ, capture_output=True, text=True, timeout=60, check=False,
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
