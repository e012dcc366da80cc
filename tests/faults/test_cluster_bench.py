"""bench/cluster_bench.py's choice of the node to kill, from what the broker lists, and its exit code (no servers:
the nodes and the runs are stand-ins)."""

import json
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bench.faultlib.accounting import Row, not_run
from bench.faultlib.infra import Node

VHOST = "v"


@dataclass
class Listed(Node):
    """A node answering `list_queues` with `listed`, and with `local` for its own queues."""

    listed: list[dict[str, Any]] = field(default_factory=list)
    local: list[str] = field(default_factory=list)

    def ctl(self, *args: str, check: bool = True) -> str:
        assert args[0] == "list_queues", args
        return json.dumps([{"name": n} for n in self.local] if "--local" in args else self.listed)


@pytest.fixture
def cluster_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "bench"))  # as `python bench/cluster_bench.py`
    import cluster_bench

    return cluster_bench


def nodes(listed: list[dict[str, Any]], local: dict[int, list[str]] | None = None) -> list[Node]:
    return [
        Listed(
            f"schedcu-bench-1-t-{i}@localhost",
            0,
            0,
            Path("."),
            None,
            listed if i == 1 else [],
            (local or {}).get(i, []),
        )
        for i in (1, 2, 3)
    ]


def queue(name: str, leader: int, kind: str = "quorum") -> dict[str, Any]:
    return {"name": name, "type": kind, "leader": f"schedcu-bench-1-t-{leader}@localhost", "messages": 0}


def test_leaders_is_the_node_leading_most_work_queues(cluster_bench: ModuleType) -> None:
    listed = [
        queue("schedcu.versions", 2),
        queue("schedcu.ods_importer", 3),
        queue("schedcu.amion_scraper", 2),
        queue("schedcu.coverage", 1),
        queue("schedcu.unrouted", 1),
        queue("schedcu.versions.dead-letter", 1),
    ]

    node, why = cluster_bench.choose("leaders", nodes(listed), VHOST, 5)

    assert (node.name, why) == ("schedcu-bench-1-t-2@localhost", "leads 2 of 4 work queues")


def test_any_classic_is_the_home_of_a_classic_queue_else_the_leader_of_the_unrouted_queue(
    cluster_bench: ModuleType,
) -> None:
    classic = [queue("schedcu.versions", 1), {"name": "schedcu.unrouted", "type": "classic", "messages": 0}]
    node, why = cluster_bench.choose("any-classic", nodes(classic, {3: ["schedcu.unrouted"]}), VHOST, 5)
    assert (node.name, why) == ("schedcu-bench-1-t-3@localhost", "holds the classic queue schedcu.unrouted")

    quorum = [queue("schedcu.versions", 1), queue("schedcu.unrouted", 2)]
    node, why = cluster_bench.choose("any-classic", nodes(quorum), VHOST, 5)
    assert node.name == "schedcu-bench-1-t-2@localhost" and why.startswith("no classic queue")


def passed(role: str) -> Row:
    return Row(role, 30, 30, 0, 0, 0, 0, 0, 0, 0, True, "clean", 0.2, 2.0, 3.0, True)


@pytest.mark.parametrize(
    ("broken", "code"), [(None, 0), ("failed", 1), ("raised", 1)], ids=["all-pass", "a-row-fails", "a-run-raises"]
)
def test_each_runs_every_role_and_exits_1_after_printing_when_a_row_fails(
    cluster_bench: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    broken: str | None,
    code: int,
) -> None:
    def run_victim(role: str, plan: object, work: Path) -> tuple[Row, list[str]]:
        if role == "connections" and broken == "raised":
            raise RuntimeError("rabbitmqctl timed out")
        if role == "connections" and broken == "failed":
            return not_run(role, "2 workflows stuck"), []
        return passed(role), [f"killed n1 for {role}"]

    monkeypatch.setattr(cluster_bench, "run_victim", run_victim)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, "3.10.8", ""))
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(sys, "argv", ["cluster_bench.py", "--victim", "each"])

    assert cluster_bench.main() == code
    out = capsys.readouterr().out
    for role in cluster_bench.ROLES:
        assert f"--- victim {role}" in out and f"\n{role} " in out
