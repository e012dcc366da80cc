"""What the end-to-end tests of the watch and of repair do to a running pipeline: change what the fake Amion
says, promote an imported week, and run the command line on the pipeline's servers."""

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline
from tests.support import amqp_client

Assignments = list[dict[str, Any]]


def cli(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        schedcu_command(*args), env=pipeline.env, capture_output=True, text=True, timeout=120, check=False
    )


def truth_file(pipeline: Pipeline) -> Path:
    return pipeline.log_dir.parent / "truth.yaml"


def truth(pipeline: Pipeline) -> Assignments:
    """The fake Amion's assignments as it serves them now."""
    assignments: Assignments = yaml.safe_load(truth_file(pipeline).read_text(encoding="utf-8"))["assignments"]
    return assignments


def edit_truth(pipeline: Pipeline, change: Callable[[Assignments], None]) -> None:
    """Rewrite the fake Amion's truth file at once (written aside, then renamed over it)."""
    path = truth_file(pipeline)
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(content["assignments"])
    aside = path.with_suffix(".new")
    aside.write_text(yaml.safe_dump(content), encoding="utf-8")
    aside.replace(path)


def import_and_promote(pipeline: Pipeline, request_id: str, period: tuple[str, str], reason: str) -> uuid.UUID:
    """The version an import of the sample template over `period` makes, promoted to production."""
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, *period))
    completed = amqp_client.publish_and_receive(
        pipeline.services.amqp_url, body.encode(), binding="event.workflow.completed",
        match={"workflow_id": str(ids.workflow_id_for(request_id))},
    )  # fmt: skip
    version_id = uuid.UUID(completed["version_id"])
    promoted = cli(pipeline, "versions", "promote", str(version_id), "--force", "--reason", reason)
    assert promoted.returncode == 0, promoted.stderr
    return version_id
