"""Schedule-version lifecycle against real PostgreSQL (and, for the command line and the dry run, the running
pipeline)."""

import json
import subprocess
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schedcu.operations.diff import diff
from schedcu.queries.versions import version_rows
from schedcu.runtime.processes import schedcu_command
from schedcu.views.ods_writer import write_ods
from services.ods_importer.store import group_id
from services.versions import lifecycle
from shared.db.models import (
    AuditRecord,
    CoverageCalculation,
    CoverageCell,
    CoverageCellDate,
    ScheduleVersion,
    ShiftInstance,
    VersionLifecycle,
)
from shared.kernel import ids
from tests.conftest import Pipeline, Services, eventually
from tests.support import amqp_client

pytestmark = pytest.mark.integration


def new_version(
    services: Services, group: str, start: date, end: date, cells: tuple[str, ...] | None = ("COVERED",)
) -> uuid.UUID:
    """A STAGING version, with a coverage calculation whose cells have `cells` statuses (None: no coverage)."""
    version_id = uuid.uuid4()
    with Session(services.engine) as session, session.begin():
        session.add(
            ScheduleVersion(
                id=version_id, group_id=group_id(session, group), workflow_id=uuid.uuid4(),
                period_start=start, period_end=end, template_name="t.ods", template_sha256="0" * 64, findings=[],
            )
        )  # fmt: skip
        session.flush()
        if cells is not None:
            calc = uuid.uuid4()
            session.add(CoverageCalculation(id=calc, version_id=version_id, summary={}, findings=[]))
            session.flush()
            session.add(CoverageCellDate(calculation_id=calc, schedule_date=start, cells_from=calc))
            for n, status in enumerate(cells):
                session.add(
                    CoverageCell(
                        calculation_id=calc, schedule_date=start, window="w", worklist=f"CPMC CT Body {n}",
                        hospital="CPMC", role="ON1", people=[], status=status, mandatory=True,
                    )
                )  # fmt: skip
    return version_id


def run(services: Services, change: Callable[[Session], object]) -> object:
    with Session(services.engine) as session, session.begin():
        return change(session)


def state(services: Services, version_id: uuid.UUID) -> str:
    with Session(services.engine) as session:
        life = session.get(VersionLifecycle, version_id)
        return "STAGING" if life is None else life.state


def group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def test_promotion_is_refused_without_coverage_or_with_critical_gaps_unless_forced_with_a_reason(
    services: Services,
) -> None:
    g = group()
    no_coverage = new_version(services, g, *MARCH, cells=None)
    with pytest.raises(lifecycle.TransitionRefused, match="no coverage has been calculated"):
        run(services, lambda s: lifecycle.promote(s, no_coverage, "alice"))

    gaps = new_version(services, g, *MARCH, cells=("COVERED", "UNCOVERED", "SPECIALTY_MISMATCH"))
    with pytest.raises(lifecycle.TransitionRefused, match="2 critical gap"):
        run(services, lambda s: lifecycle.promote(s, gaps, "alice"))
    with pytest.raises(lifecycle.TransitionRefused, match="needs a reason"):
        run(services, lambda s: lifecycle.promote(s, gaps, "alice", force=True))
    assert state(services, gaps) == "STAGING"

    run(services, lambda s: lifecycle.promote(s, gaps, "alice", force=True, reason="gaps covered by phone"))
    assert state(services, gaps) == "PRODUCTION"
    with Session(services.engine) as session:
        audit = session.scalars(select(AuditRecord).where(AuditRecord.entity_id == str(gaps))).one()
    assert (audit.actor, audit.action, audit.from_state, audit.to_state, audit.reason) == (
        "alice", "promote", "STAGING", "PRODUCTION", "gaps covered by phone",
    )  # fmt: skip
    assert audit.at is not None and "critical gap" in audit.details["overridden"]


def test_promotion_archives_overlapping_production_versions_of_the_group_only(services: Services) -> None:
    g = group()
    march = new_version(services, g, *MARCH)
    may = new_version(services, g, date(2026, 5, 1), date(2026, 5, 31))
    other_group = new_version(services, group(), *MARCH)
    for v in (march, may, other_group):
        run(services, lambda s, v=v: lifecycle.promote(s, v, "bob"))

    mid_march_to_april = new_version(services, g, date(2026, 3, 15), date(2026, 4, 15))
    archived = run(services, lambda s: lifecycle.promote(s, mid_march_to_april, "bob"))

    assert archived == [march]
    assert [state(services, v) for v in (march, may, other_group, mid_march_to_april)] == [
        "ARCHIVED", "PRODUCTION", "PRODUCTION", "PRODUCTION",
    ]  # fmt: skip
    with Session(services.engine) as session:
        reason = session.scalars(
            select(AuditRecord.reason).where(AuditRecord.entity_id == str(march), AuditRecord.action == "archive")
        ).one()
    assert reason == f"superseded by {mid_march_to_april}"


def test_only_staging_production_archived_in_that_order(services: Services) -> None:
    g = group()
    v = new_version(services, g, *MARCH)
    with pytest.raises(lifecycle.TransitionRefused, match="only a PRODUCTION version can be archived"):
        run(services, lambda s: lifecycle.archive(s, v, "carol"))
    run(services, lambda s: lifecycle.promote(s, v, "carol"))
    with pytest.raises(lifecycle.TransitionRefused, match="only a STAGING version can be promoted"):
        run(services, lambda s: lifecycle.promote(s, v, "carol"))
    with pytest.raises(lifecycle.TransitionRefused, match="only a STAGING version can be deleted"):
        run(services, lambda s: lifecycle.delete(s, v, "carol", "oops"))
    run(services, lambda s: lifecycle.archive(s, v, "carol", "season over"))
    for change in (
        lambda s: lifecycle.promote(s, v, "carol", force=True, reason="bring it back"),
        lambda s: lifecycle.archive(s, v, "carol"),
    ):
        with pytest.raises(lifecycle.TransitionRefused):
            run(services, change)
    assert state(services, v) == "ARCHIVED"


def test_soft_deleted_staging_version_leaves_the_list_and_cannot_be_promoted(services: Services) -> None:
    g = group()
    v = new_version(services, g, *MARCH)
    run(services, lambda s: lifecycle.delete(s, v, "dan", "wrong template"))
    with Session(services.engine) as session:
        assert version_rows(session, group=g) == []
        assert session.get(ScheduleVersion, v) is not None
    with pytest.raises(lifecycle.TransitionRefused, match="no schedule version"):
        run(services, lambda s: lifecycle.promote(s, v, "dan"))


def promote_concurrently(services: Services, versions: list[uuid.UUID]) -> list[BaseException]:
    """Promote every version at once, each in its own transaction, released together by a barrier."""
    barrier = threading.Barrier(len(versions))
    failures: list[BaseException] = []

    def promote(version_id: uuid.UUID) -> None:
        try:
            with Session(services.engine) as session, session.begin():
                barrier.wait()
                lifecycle.promote(session, version_id, "race")
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return failures


def test_racing_promotions_leave_one_production_version_on_every_date(services: Services) -> None:
    for _ in range(30):
        g = group()
        versions = [
            new_version(services, g, date(2026, 3, 1), date(2026, 3, 31)),
            new_version(services, g, date(2026, 3, 20), date(2026, 4, 30)),
            new_version(services, g, date(2026, 4, 15), date(2026, 5, 15)),
        ]
        failures = promote_concurrently(services, versions)
        assert failures == []
        overlapping = run(
            services,
            lambda s, g=g: s.execute(
                text(
                    "SELECT count(*) FROM schedule_versions a JOIN schedule_versions b ON a.group_id = b.group_id "
                    "AND a.id < b.id JOIN hospital_groups g ON g.id = a.group_id "
                    "JOIN version_lifecycle la ON la.version_id = a.id "
                    "JOIN version_lifecycle lb ON lb.version_id = b.id "
                    "WHERE g.name = :g "
                    "AND la.state = 'PRODUCTION' AND lb.state = 'PRODUCTION' "
                    "AND a.period_start <= b.period_end AND b.period_start <= a.period_end"
                ),
                {"g": g},
            ).scalar(),
        )
        assert overlapping == 0
        assert "PRODUCTION" in [state(services, v) for v in versions]


def test_diff_lists_added_removed_and_changed_items(services: Services) -> None:
    g = group()
    a = new_version(services, g, *MARCH, cells=("COVERED", "UNCOVERED"))
    b = new_version(services, g, *MARCH, cells=("COVERED", "COVERED", "COVERED"))
    at = datetime(2026, 3, 1, 23, tzinfo=UTC)
    with Session(services.engine) as session, session.begin():
        for version_id, role in ((a, "ON1"), (a, "ON2"), (b, "ON2"), (b, "Mid3")):
            session.add(
                ShiftInstance(
                    version_id=version_id, window_id=None, schedule_date=date(2026, 3, 1), role=role,
                    hospital="CPMC", study_type="CT", starts_at=at, ends_at=at, desired_coverage=1, mandatory=True,
                )
            )  # fmt: skip
    with Session(services.engine) as session:
        changes = diff(session, a, b)
    assert changes["shift_instances"].counts() == {"added": 1, "removed": 1, "changed": 0}
    assert changes["shift_instances"].added[0]["role"] == "Mid3"
    assert changes["coverage_cells"].counts() == {"added": 1, "removed": 0, "changed": 1}
    assert changes["coverage_cells"].changed[0]["from"]["status"] == "UNCOVERED"
    assert changes["assignments"].counts() == {"added": 0, "removed": 0, "changed": 0}


@pytest.mark.slow
def test_a_promotion_and_an_archive_at_the_command_line_are_announced_to_subscribers(pipeline: Pipeline) -> None:
    request_id = f"promote-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-08")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    pipeline.wait_terminal(workflow_id)
    version_id = str(ids.version_id_for(workflow_id))
    subscriber = f"version-events-{uuid.uuid4()}"
    amqp_client.subscribe(pipeline.services.amqp_url, subscriber, ["event.version.*"])

    def versions(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            schedcu_command("versions", *args, version_id),
            env=pipeline.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    refused = versions("promote")
    assert refused.returncode == 1 and "critical gap" in refused.stderr
    promoted = versions("promote", "--force", "--reason", "test")
    assert promoted.returncode == 0 and f"version {version_id} is PRODUCTION" in promoted.stdout
    archived = versions("archive", "--reason", "done")
    assert archived.returncode == 0 and f"version {version_id} is ARCHIVED" in archived.stdout

    announced: dict[str, dict[str, Any]] = {}
    while len(announced) < 2 and (event := amqp_client.take(pipeline.services.amqp_url, subscriber)) is not None:
        if event[1]["version_id"] == version_id:
            announced[event[0]] = event[1]
    assert announced["event.version.promoted"]["forced"] is True
    assert announced["event.version.promoted"]["reason"] == "test"
    assert announced["event.version.archived"]["reason"] == "done"


@pytest.mark.slow
def test_dry_run_prints_what_the_version_would_hold_and_stores_nothing(pipeline: Pipeline, tmp_path: Path) -> None:
    template = tmp_path / "template.ods"
    template.write_bytes(pipeline.template)
    counted = (
        "SELECT (SELECT count(*) FROM schedule_versions), (SELECT count(*) FROM workflows), "
        "(SELECT count(*) FROM assignments), (SELECT count(*) FROM coverage_calculations), "
        "(SELECT count(*) FROM scrape_batches), (SELECT count(*) FROM outbox)"
    )
    # the relays drain what earlier tests left, committing a burst's deletions together
    eventually(lambda: pipeline.query("SELECT count(*) FROM outbox") == [(0,)], 30, "the outbox to drain")
    before = pipeline.query(counted)

    shown = subprocess.run(
        schedcu_command(
            "submit", str(template), "--group", "dry", "--start", "2026-03-02", "--end", "2026-03-08",
            "--amion-account", "test", "--dry-run",
        ),
        env=pipeline.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert shown.returncode == 0, shown.stderr
    assert "nothing was stored or published" in shown.stdout
    assert "TEMPLATE layout, 12 windows" in shown.stdout
    assert "Amion (test): COMPLETE; 35 assignments (2026-03 OK)" in shown.stdout
    assert "critical gaps" in shown.stdout and "coverage" in shown.stdout
    assert pipeline.query(counted) == before


@pytest.mark.slow
def test_dry_run_of_a_broken_template_says_it_would_fail(pipeline: Pipeline, tmp_path: Path) -> None:
    template = tmp_path / "broken.ods"
    template.write_bytes(write_ods([("Not a window", [["", "ON1"], ["CPMC CT Neuro", "x"]])]))
    shown = subprocess.run(
        schedcu_command(
            "submit", str(template), "--group", "dry", "--start", "2026-03-02", "--end", "2026-03-08",
            "--amion-account", "test", "--dry-run",
        ),
        env=pipeline.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 1
    assert "would FAIL" in shown.stdout and "UNKNOWN_LAYOUT" in shown.stdout
