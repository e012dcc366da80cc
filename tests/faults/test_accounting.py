"""The fault suite's verdict on what a run left behind (pure, no servers)."""

from dataclasses import replace

from bench.faultlib.accounting import Facts, WorkflowFacts, account, matrix

QUIET = {"schedcu.versions": 0, "schedcu.ods_importer": 0, "schedcu.amion_scraper": 0, "schedcu.coverage": 0}


def workflow(n: int, **changes: object) -> WorkflowFacts:
    done = WorkflowFacts(
        request_id=f"r{n}", workflow_id=f"w{n}", state="COMPLETED", finished_at=100.0 + n, versions=1,
        calculations=1, applied_batches=1, amion_phase="SUCCEEDED", coverage_phase="SUCCEEDED",
        stale_assignments=False, final_events=1,
    )  # fmt: skip
    return replace(done, **changes)  # type: ignore[arg-type]


def facts(workflows: list[WorkflowFacts], **changes: object) -> Facts:
    base = Facts(
        published={f"r{n}": 100.0 for n in range(3)}, workflows=workflows, outbox_rows=0, queue_messages=QUIET,
        poison=0, verify="n/a", verify_ok=None, fault_end=101.5, allowed_states=frozenset({"COMPLETED"}),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_request_ended_once_passes_with_recovery_and_latency() -> None:
    row = account("kill", facts([workflow(0), workflow(1), workflow(2)]))

    assert (row.requests, row.completed, row.lost, row.duplicated, row.stuck, row.passed) == (3, 3, 0, 0, 0, True)
    assert row.recovery_s == 0.5  # the fault ended at 101.5, workflow 2 ended at 102
    assert (row.p50_s, row.p99_s) == (1.0, 2.0)
    assert "PASS" in matrix([row])


def test_request_without_workflow_and_silent_workflow_are_lost() -> None:
    row = account("pg", facts([workflow(0), workflow(1, final_events=0)]))

    assert row.lost == 2
    assert not row.passed
    assert "1 requests without a workflow" in row.notes


def test_late_scrape_after_coverage_is_a_duplicate_effect() -> None:
    late = workflow(1, state="COMPLETED_WITH_WARNINGS", amion_phase="FAILED", stale_assignments=True)
    allowed = frozenset({"COMPLETED", "COMPLETED_WITH_WARNINGS"})
    row = account("slow-amion", facts([workflow(0), late, workflow(2)], allowed_states=allowed))

    assert row.duplicated == 2  # a batch applied for a failed phase, and assignments newer than the coverage
    assert row.warnings == 1
    assert not row.passed


def test_dead_letters_must_equal_poison_and_queues_must_drain() -> None:
    ended = [workflow(0), workflow(1), workflow(2)]
    parked = {**QUIET, "schedcu.versions.dead-letter": 2}
    one_held = {**QUIET, "schedcu.versions": 1, "schedcu.versions.dead-letter": 1}
    ok = account("poison", facts(ended, poison=2, queue_messages=parked))
    held = account("poison", facts(ended, poison=2, queue_messages=one_held))

    assert ok.passed
    assert (held.dead_letters, held.drained, held.passed) == (1, False, False)


def test_unexpected_end_state_or_verify_violation_fails_the_row() -> None:
    failed = account("db", facts([workflow(0), workflow(1), workflow(2, state="FAILED")]))
    violated = account("db", facts([workflow(0), workflow(1), workflow(2)], verify="2 violations", verify_ok=False))

    assert not failed.passed
    assert not violated.passed
