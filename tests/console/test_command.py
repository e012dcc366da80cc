"""`schedcu console` refuses to start, in one line with exit status 2, without a usable users file."""

import os
import subprocess
from pathlib import Path

import pytest

from schedcu.runtime.processes import schedcu_command
from tests.console.conftest import OPERATOR_TOKEN
from tests.schedcu.test_cli_mistakes import assert_one_line


def console(users_file: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHEDCU_CONSOLE_USERS_FILE"}
    if users_file is not None:
        env["SCHEDCU_CONSOLE_USERS_FILE"] = users_file
    return subprocess.run(
        schedcu_command("console", "--port", "1"), env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_a_users_file_the_console_does_not_start() -> None:
    assert_one_line(console(None), 2, "SCHEDCU_CONSOLE_USERS_FILE is not set")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ("cannot read the console users file", "No such file")),
        ("users: [", ("is not YAML",)),
        ("users: []", ("users: List should have at least 1 item",)),
        ("users:\n  - {name: a, role: admin, token_sha256: " + "0" * 64 + "}", ("users.0.role",)),
        (f"users:\n  - {{name: a, role: operator, token_sha256: {OPERATOR_TOKEN}}}", ("users.0.token_sha256",)),
    ],
)
def test_a_wrong_users_file_is_named_with_what_is_wrong(
    tmp_path: Path, content: str | None, words: tuple[str, ...]
) -> None:
    path = tmp_path / "users.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    line = assert_one_line(console(str(path)), 2, str(path), *words)

    assert OPERATOR_TOKEN not in line
