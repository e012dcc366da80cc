"""Starting and stopping schedcu's worker processes, the fake Amion and the console (for the demo, `schedcu dev`
and the tests). Each child leads a process group of its own: a Ctrl-C at the terminal reaches only the parent,
which stops its children in order, and stopping a child signals its whole group."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from schedcu.runtime.infra import free_port
from schedcu.runtime.registries import WORKERS

WORKER_NAMES = tuple(WORKERS)  # in the order they start


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    health_url: str
    log_path: Path
    health_auth: tuple[str, str] | None = field(default=None, repr=False)  # basic auth for the health URL
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> "Process":
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        log.close()
        return self

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.health_url, auth=self.health_auth, timeout=1.0).status_code < 300:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not healthy within {timeout_s:.0f} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight messages are left unacknowledged."""
        if self.popen is not None and self.popen.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, then wait for in-flight work to finish; SIGKILL only past the timeout."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):  # the group ended meanwhile
            os.killpg(self.popen.pid, signum)


def schedcu_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "schedcu", *args]


def worker(name: str, env: dict[str, str], log_dir: Path) -> Process:
    port = free_port()
    return Process(
        name=name,
        args=schedcu_command("worker", name, "--port", str(port)),
        env=env,
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=log_dir / f"{name}-{port}.log",
    )


def fake_amion(truth: Path, env: dict[str, str], log_dir: Path) -> Process:
    port = free_port()
    return Process(
        name="fake-amion",
        args=schedcu_command("fake-amion", "--port", str(port), "--truth", str(truth)),
        env=env,
        health_url=f"http://127.0.0.1:{port}/truth",
        log_path=log_dir / "fake-amion.log",
    )


def console(env: dict[str, str], log_dir: Path, port: int, login: tuple[str, str]) -> Process:
    """`schedcu console` on `port`; healthy once `login` (user, token) sees its status page."""
    return Process(
        name="console",
        args=schedcu_command("console", "--port", str(port)),
        env=env,
        health_url=f"http://127.0.0.1:{port}/status",
        log_path=log_dir / "console.log",
        health_auth=login,
    )
