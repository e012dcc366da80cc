"""`schedcu verify`: clean after a workflow, and each kind of broken invariant reported with exit status 1."""

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def verify(pipeline: Pipeline, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        schedcu_command("verify", *args, "--json"), env=pipeline.env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def version(pipeline: Pipeline) -> Iterator[uuid.UUID]:
    request_id = f"verify-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-04")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    yield ids.version_id_for(workflow_id)


def checks(report: dict[str, Any]) -> set[str]:
    return {v["check"] for v in report["violations"]}


def test_a_completed_workflow_verifies_clean(pipeline: Pipeline, version: uuid.UUID) -> None:
    status, report = verify(pipeline, str(version))
    assert (status, report["clean"], report["versions_checked"]) == (0, True, 1)


def test_a_changed_cell_is_a_violation(pipeline: Pipeline, version: uuid.UUID) -> None:
    changed = pipeline.query(
        "UPDATE coverage_cells SET status = 'UNCOVERED' WHERE id = (SELECT min(c.id) FROM coverage_cells c "
        "JOIN coverage_calculations k ON k.id = c.calculation_id WHERE k.version_id = :v AND c.status = 'COVERED') "
        "RETURNING id",
        v=version,
    )
    try:
        status, report = verify(pipeline, str(version))
        assert status == 1 and checks(report) == {"cells"}
        assert "1 expected cells missing or different, 1 stored cells not expected" in report["violations"][0]["detail"]
    finally:
        pipeline.query("UPDATE coverage_cells SET status = 'COVERED' WHERE id = :i RETURNING id", i=changed[0][0])


def test_an_assignment_newer_than_the_calculation_and_from_another_batch_are_violations(
    pipeline: Pipeline, version: uuid.UUID
) -> None:
    added = pipeline.query(
        "INSERT INTO assignments (version_id, schedule_date, role, person_id, source, scrape_batch_id) "
        "SELECT :v, '2026-03-03', 'DAY', min(id), 'AMION', NULL FROM people RETURNING id",
        v=version,
    )
    try:
        status, report = verify(pipeline, str(version))
        assert status == 1
        assert checks(report) == {"calculation_fresh", "assignments_match_batch"}
    finally:
        pipeline.query("DELETE FROM assignments WHERE id = :i RETURNING id", i=added[0][0])
    assert verify(pipeline, str(version))[0] == 0


@pytest.mark.parametrize(
    ("holidays", "what"),
    [
        ('["2026-03-03"]', "2026-03-03 is a holiday now"),
        ('["2026-03-02", "2026-12-25"]', "2026-03-02 is a holiday now"),
    ],
)
def test_a_holiday_set_since_the_calculation_is_explained_with_the_recalculation_to_run(
    pipeline: Pipeline, version: uuid.UUID, holidays: str, what: str
) -> None:
    done = subprocess.run(
        schedcu_command("verify", str(version)), env={**pipeline.env, "SCHEDCU_HOLIDAYS": holidays},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "1 versions checked",
        f"VIOLATION calculation_settings: version {version}: holidays changed since the calculation ({what}; "
        f"SCHEDCU_HOLIDAYS): run `schedcu coverage recalc {version}`",
    ]
