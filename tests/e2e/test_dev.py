"""`schedcu dev` from a fresh clone of this repository's HEAD: the console answers with three imported months,
a second start imports nothing again, and SIGINT (Ctrl-C) or SIGTERM leaves no process behind."""

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from schedcu.runtime.dev import GROUP, USER
from schedcu.runtime.infra import free_port
from schedcu.testing.demo_data import add_months
from tests.conftest import drop_database, eventually, isolated_vhost, servers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPOSITORY = Path(__file__).resolve().parents[2]
READY_S = 240.0
STOP_S = 60.0
VERSION_LINK = re.compile(r'href="/versions/([0-9a-f-]{36})"')


@dataclass(frozen=True)
class Clone:
    path: Path
    env: dict[str, str]  # runs the clone's code, on a database and a vhost of this test's own


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    path = tmp_path_factory.mktemp("dev") / "schedcu"
    head = git("rev-parse", "HEAD", cwd=REPOSITORY)
    git("clone", "--quiet", "--no-checkout", str(REPOSITORY), str(path), cwd=REPOSITORY)
    git("checkout", "--quiet", head, cwd=path)
    name = f"schedcu_test_dev_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        server_url, amqp_url = servers(stack)
        database_url = make_url(server_url).set(database=name).render_as_string(False)
        stack.callback(drop_database, database_url)
        env = {
            **os.environ,
            "PYTHONPATH": str(path),
            "SCHEDCU_DATABASE_URL": database_url,
            "SCHEDCU_AMQP_URL": isolated_vhost(amqp_url, name, stack),
        }
        found = subprocess.run(
            [sys.executable, "-c", "import schedcu.runtime.dev; print(schedcu.runtime.dev.__file__)"],
            cwd=path, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert Path(found.stdout.strip()).is_relative_to(path), "the test would not run the clone's code"
        yield Clone(path, env)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


class Dev:
    """`schedcu dev` running in the clone, its output in a file."""

    def __init__(self, clone: Clone, port: int, output: Path) -> None:
        self.output = output
        self.port = port
        with output.open("w") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "schedcu", "dev", "--port", str(port)],
                cwd=clone.path, env=clone.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8")

    def wait_ready(self) -> str:
        def ready() -> str | None:
            assert self.popen.poll() is None, f"schedcu dev exited with {self.popen.returncode}:\n{self.text()}"
            return self.text() if "schedcu dev is ready" in self.text() else None

        return eventually(ready, READY_S, "schedcu dev to be ready")

    def children(self) -> list[int]:
        """The processes it started (each leads a process group of its own)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[1]) == self.popen.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self, signum: signal.Signals) -> int:
        self.popen.send_signal(signum)
        try:
            return self.popen.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            raise

    def login(self) -> str:
        found = re.search(r"log in as user dev, password ([0-9a-f]{32})$", self.text(), re.MULTILINE)
        assert found, self.text()
        return found.group(1)

    def versions_shown(self) -> set[str]:
        page = httpx.get(
            f"http://127.0.0.1:{self.port}/versions?group={GROUP}",
            auth=(USER, self.login()),  # as a browser logs in
            timeout=10,
        )
        return set(VERSION_LINK.findall(page.text)) if page.status_code == 200 else set()


def left_behind(children: list[int]) -> list[int]:
    """The children whose process group still has a process; those are killed, not left to later tests."""
    alive = []
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def test_from_a_fresh_clone_to_a_console_with_three_months_and_back_to_no_process(clone: Clone, tmp_path: Path) -> None:
    dev = Dev(clone, free_port(), tmp_path / "first.txt")
    try:
        output = dev.wait_ready()
        versions = eventually(lambda: len(shown := dev.versions_shown()) == 3 and shown, 30, "3 versions shown")
        children = dev.children()
    finally:
        status = dev.stop(signal.SIGINT)

    months = [f"{add_months(date.today(), n):%Y-%m}" for n in range(3)]
    completed = {re.search(rf"^{m}: COMPLETED \(version ([0-9a-f-]{{36}})\)$", output, re.MULTILINE) for m in months}
    assert {found.group(1) for found in completed if found} == versions, output
    assert f"/{make_url(clone.env['SCHEDCU_DATABASE_URL']).database}, RabbitMQ" in output
    assert len(children) == 7, "the fake Amion, five workers and the console"
    assert status == 0
    assert "Traceback" not in dev.text()
    assert not left_behind(children), "a process of schedcu dev outlived it"

    again = Dev(clone, dev.port, tmp_path / "second.txt")
    try:
        output = again.wait_ready()
        assert again.login() == dev.login()
        assert again.versions_shown() == versions
        children = again.children()
    finally:
        status = again.stop(signal.SIGTERM)

    for month in months:
        assert f"{month}: already imported, COMPLETED" in output
    assert status == 0
    assert not left_behind(children), "a process of schedcu dev outlived it"
