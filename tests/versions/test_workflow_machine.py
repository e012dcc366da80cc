"""Every transition of the pure workflow machine (services/versions/workflow.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.versions.workflow import Ended, Limits, Refused, StartAttempt, Verdict, WorkflowMachine, note
from shared.kernel.findings import Severity
from shared.kernel.states import Phase, PhaseState, WorkflowKind, WorkflowState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ODS, AMION, COVERAGE = Phase.ODS_IMPORT, Phase.AMION_SCRAPE, Phase.COVERAGE
LIMITS = Limits(
    attempts={ODS: 3, AMION: 2, COVERAGE: 1},
    timeouts={ODS: timedelta(minutes=10), AMION: timedelta(minutes=2), COVERAGE: timedelta(minutes=2)},
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started() -> WorkflowMachine:
    machine = WorkflowMachine.new(LIMITS)
    machine.begin(T0)
    return machine


def effects(machine: WorkflowMachine) -> list[StartAttempt | Ended]:
    found = list(machine.effects)
    machine.effects.clear()
    return found


def states(machine: WorkflowMachine) -> dict[Phase, tuple[PhaseState, int]]:
    return {phase: (run.state, run.attempt) for phase, run in machine.phases.items()}


def error(text: str) -> dict[str, object]:
    return note(T0, text, Severity.ERROR, "SOME_ERROR")


def at_coverage() -> WorkflowMachine:
    machine = started()
    machine.succeed(ODS, 1, at(1), [])
    machine.succeed(AMION, 1, at(2), [])
    effects(machine)
    return machine


def test_begin_starts_attempt_one_of_the_import_with_its_deadline() -> None:
    machine = started()
    assert effects(machine) == [StartAttempt(ODS, 1)]
    assert states(machine) == {ODS: (PhaseState.RUNNING, 1), AMION: (PhaseState.PENDING, 0),
                               COVERAGE: (PhaseState.PENDING, 0)}  # fmt: skip
    assert machine.phases[ODS].deadline_at == T0 + timedelta(minutes=10)
    assert machine.state == WorkflowState.RUNNING


def test_each_success_starts_the_next_phase_and_the_last_completes() -> None:
    machine = started()
    effects(machine)
    assert machine.succeed(ODS, 1, at(1), []) is Verdict.ACCEPTED
    assert effects(machine) == [StartAttempt(AMION, 1)]
    assert machine.succeed(AMION, 1, at(2), []) is Verdict.ACCEPTED
    assert effects(machine) == [StartAttempt(COVERAGE, 1)]
    assert machine.succeed(COVERAGE, 1, at(3), []) is Verdict.ACCEPTED
    assert effects(machine) == [Ended(WorkflowState.COMPLETED, 3)]
    assert machine.state == WorkflowState.COMPLETED
    assert machine.phases[COVERAGE].finished_at == at(3)
    assert machine.phases[COVERAGE].deadline_at is None


def test_a_result_of_another_attempt_is_late_and_changes_nothing() -> None:
    machine = started()
    machine.time_out(ODS, at(601))
    effects(machine)
    before = states(machine)
    assert machine.succeed(ODS, 1, at(602), []) is Verdict.LATE
    assert machine.fail(ODS, 1, at(602), "bad", [], retryable=False) is Verdict.LATE
    assert states(machine) == before
    assert effects(machine) == []


def test_a_result_for_a_phase_not_running_or_a_finished_workflow_changes_nothing() -> None:
    machine = started()
    effects(machine)
    assert machine.succeed(AMION, 1, at(1), []) is Verdict.NOT_RUNNING
    machine.cancel("op", "stop", at(2))
    effects(machine)
    assert machine.succeed(ODS, 1, at(3), []) is Verdict.NOT_RUNNING
    assert machine.state == WorkflowState.FAILED
    assert effects(machine) == []


def test_the_current_attempt_after_a_timeout_is_accepted() -> None:
    machine = started()
    machine.time_out(ODS, at(601))
    effects(machine)
    assert machine.succeed(ODS, 2, at(602), []) is Verdict.ACCEPTED
    assert effects(machine) == [StartAttempt(AMION, 1)]


def test_a_timeout_before_the_deadline_does_nothing() -> None:
    machine = started()
    effects(machine)
    assert machine.time_out(ODS, at(599)) is False
    assert effects(machine) == []


def test_timeouts_retry_while_attempts_are_left_then_fail_a_critical_phase_and_the_workflow() -> None:
    machine = started()
    effects(machine)
    assert machine.time_out(ODS, at(601))
    assert effects(machine) == [StartAttempt(ODS, 2)]
    assert machine.phases[ODS].deadline_at == at(601) + timedelta(minutes=10)
    assert machine.time_out(ODS, at(1202))
    assert effects(machine) == [StartAttempt(ODS, 3)]
    assert machine.time_out(ODS, at(1803))
    (ended,) = effects(machine)
    assert isinstance(ended, Ended) and ended.state == WorkflowState.FAILED
    assert "ODS_IMPORT failed: attempt 3 timed out after 601 s" in (ended.reason or "")
    assert states(machine) == {ODS: (PhaseState.FAILED, 3), AMION: (PhaseState.SKIPPED, 0),
                               COVERAGE: (PhaseState.SKIPPED, 0)}  # fmt: skip
    codes = [(m["attempt"], m["code"]) for m in machine.phases[ODS].messages]
    assert codes == [(1, "PHASE_RETRIED"), (2, "PHASE_RETRIED"), (3, "PHASE_FAILED")]


def test_a_non_critical_phase_that_runs_out_of_attempts_moves_on_with_warnings() -> None:
    machine = started()
    machine.succeed(ODS, 1, at(1), [])
    effects(machine)
    machine.time_out(AMION, at(200))
    assert effects(machine) == [StartAttempt(AMION, 2)]
    machine.time_out(AMION, at(400))
    assert effects(machine) == [StartAttempt(COVERAGE, 1)]
    assert machine.phases[AMION].state == PhaseState.FAILED
    machine.succeed(COVERAGE, 1, at(401), [])
    (ended,) = effects(machine)
    assert isinstance(ended, Ended)
    assert ended.state == WorkflowState.COMPLETED_WITH_WARNINGS
    assert "AMION_SCRAPE failed" in ended.warnings


def test_the_template_failing_fails_the_workflow_without_retry() -> None:
    machine = started()
    effects(machine)
    machine.fail(ODS, 1, at(1), "the template has errors", [error("bad sheet")], retryable=False)
    (ended,) = effects(machine)
    assert isinstance(ended, Ended) and ended.state == WorkflowState.FAILED
    assert ended.reason == "ODS_IMPORT failed: the template has errors"
    assert machine.phases[ODS].attempt == 1


def test_a_retryable_failure_retries_then_a_success_completes_clean() -> None:
    machine = started()
    machine.succeed(ODS, 1, at(1), [])
    effects(machine)
    machine.fail(AMION, 1, at(2), "the scrape failed", [error("Amion could not be read")], retryable=True)
    assert effects(machine) == [StartAttempt(AMION, 2)]
    machine.succeed(AMION, 2, at(3), [])
    machine.succeed(COVERAGE, 1, at(4), [])
    assert effects(machine)[-1] == Ended(WorkflowState.COMPLETED, 4)
    attempts = {m["attempt"] for m in machine.phases[AMION].messages}
    assert attempts == {1}  # attempt 1's errors stay in its history


def test_a_non_retryable_failure_of_a_non_critical_phase_moves_on() -> None:
    machine = started()
    machine.succeed(ODS, 1, at(1), [])
    effects(machine)
    machine.fail(AMION, 1, at(2), "Amion refused the password", [], retryable=False)
    assert effects(machine) == [StartAttempt(COVERAGE, 1)]
    assert machine.phases[AMION].attempt == 1


def test_coverage_failure_with_no_attempts_left_completes_with_warnings() -> None:
    machine = at_coverage()
    machine.fail(COVERAGE, 1, at(3), "version missing", [], retryable=True)
    (ended,) = effects(machine)
    assert isinstance(ended, Ended) and ended.state == WorkflowState.COMPLETED_WITH_WARNINGS


def test_errors_of_the_final_attempt_and_warning_codes_leave_warnings() -> None:
    machine = started()
    machine.succeed(ODS, 1, at(1), [])
    machine.succeed(AMION, 1, at(2), [error("2026-11: Amion answered with an unknown page")])
    missing = note(T0, "no Amion data for 2026-12", Severity.WARNING, "AMION_DATA_MISSING")
    machine.succeed(COVERAGE, 1, at(3), [missing])
    ended = effects(machine)[-1]
    assert isinstance(ended, Ended) and ended.state == WorkflowState.COMPLETED_WITH_WARNINGS
    assert ended.warnings == ("2026-11: Amion answered with an unknown page", "no Amion data for 2026-12")


def test_plain_warnings_do_not_downgrade_the_workflow() -> None:
    machine = at_coverage()
    machine.succeed(COVERAGE, 1, at(3), [note(T0, "nobody reads X", Severity.WARNING, "UNMARKED_WORKLIST")])
    assert effects(machine) == [Ended(WorkflowState.COMPLETED, 3)]


def test_an_operator_retry_reruns_the_failed_phase_with_its_full_attempts_and_later_phases() -> None:
    machine = started()
    for n in range(3):
        machine.time_out(ODS, at(601 * (n + 1)))
    effects(machine)
    assert machine.state == WorkflowState.FAILED
    assert machine.retry("op", at(3000)) == ODS
    assert effects(machine) == [StartAttempt(ODS, 4)]
    assert machine.state == WorkflowState.RUNNING
    assert machine.phases[AMION].state == PhaseState.PENDING
    machine.time_out(ODS, at(3601))
    machine.time_out(ODS, at(4202))
    assert effects(machine) == [StartAttempt(ODS, 5), StartAttempt(ODS, 6)]
    machine.succeed(ODS, 6, at(4203), [])
    machine.succeed(AMION, 1, at(4204), [])
    machine.succeed(COVERAGE, 1, at(4205), [])
    ended = effects(machine)[-1]
    assert ended == Ended(WorkflowState.COMPLETED, 8)  # a new final event: 8 attempts made, not 3


def test_retry_is_refused_while_running_or_with_nothing_failed() -> None:
    machine = started()
    with pytest.raises(Refused, match="nothing to retry"):
        machine.retry("op", at(1))
    machine.succeed(ODS, 1, at(1), [])
    machine.succeed(AMION, 1, at(2), [])
    machine.succeed(COVERAGE, 1, at(3), [])
    with pytest.raises(Refused, match="nothing to retry"):
        machine.retry("op", at(4))


def test_retry_after_a_failed_non_critical_phase_reruns_it_and_coverage() -> None:
    machine = started()
    machine.succeed(ODS, 1, at(1), [])
    machine.fail(AMION, 1, at(2), "Amion refused the password", [], retryable=False)
    machine.succeed(COVERAGE, 1, at(3), [])
    effects(machine)
    assert machine.state == WorkflowState.COMPLETED_WITH_WARNINGS
    assert machine.retry("op", at(4)) == AMION
    assert effects(machine) == [StartAttempt(AMION, 2)]
    assert machine.phases[COVERAGE].state == PhaseState.PENDING
    machine.succeed(AMION, 2, at(5), [])
    assert effects(machine) == [StartAttempt(COVERAGE, 2)]
    machine.succeed(COVERAGE, 2, at(6), [])
    assert effects(machine)[-1] == Ended(WorkflowState.COMPLETED, 5)


def test_cancel_fails_the_running_phase_and_skips_the_rest() -> None:
    machine = started()
    effects(machine)
    machine.cancel("op", "wrong period", at(1))
    (ended,) = effects(machine)
    assert ended == Ended(WorkflowState.FAILED, 1, "cancelled by op: wrong period")
    assert states(machine) == {ODS: (PhaseState.FAILED, 1), AMION: (PhaseState.SKIPPED, 0),
                               COVERAGE: (PhaseState.SKIPPED, 0)}  # fmt: skip
    assert machine.phases[ODS].messages[-1]["code"] == "CANCELLED"


def test_cancel_of_an_ended_workflow_is_refused() -> None:
    machine = started()
    machine.cancel("op", "x", at(1))
    with pytest.raises(Refused, match="already ended"):
        machine.cancel("op", "again", at(2))


def test_a_timeout_of_an_ended_workflow_does_nothing() -> None:
    machine = started()
    machine.cancel("op", "x", at(1))
    effects(machine)
    assert machine.time_out(ODS, at(10_000)) is False
    assert effects(machine) == []


def rescrape() -> WorkflowMachine:
    machine = WorkflowMachine.new(LIMITS, WorkflowKind.RESCRAPE)
    machine.begin(T0)
    return machine


def test_a_rescrape_starts_at_the_amion_scrape_with_the_template_phase_skipped() -> None:
    machine = rescrape()
    assert effects(machine) == [StartAttempt(AMION, 1)]
    assert states(machine) == {ODS: (PhaseState.SKIPPED, 0), AMION: (PhaseState.RUNNING, 1),
                               COVERAGE: (PhaseState.PENDING, 0)}  # fmt: skip
    assert machine.phases[AMION].deadline_at == T0 + timedelta(minutes=2)


def test_a_rescrape_runs_the_coverage_after_the_scrape_and_completes() -> None:
    machine = rescrape()
    effects(machine)
    assert machine.succeed(AMION, 1, at(1), []) is Verdict.ACCEPTED
    assert effects(machine) == [StartAttempt(COVERAGE, 1)]
    assert machine.succeed(COVERAGE, 1, at(2), []) is Verdict.ACCEPTED
    assert effects(machine) == [Ended(WorkflowState.COMPLETED, 2)]
    assert machine.phases[ODS].state == PhaseState.SKIPPED


def test_a_rescrape_is_fenced_like_an_import() -> None:
    machine = rescrape()
    effects(machine)
    assert machine.time_out(AMION, at(121))
    assert effects(machine) == [StartAttempt(AMION, 2)]
    assert machine.succeed(AMION, 1, at(122), []) is Verdict.LATE
    assert machine.accepts(ODS, 1) is Verdict.NOT_RUNNING
    assert machine.succeed(AMION, 2, at(123), []) is Verdict.ACCEPTED


def test_a_rescrape_whose_scrape_fails_still_calculates_and_ends_with_warnings() -> None:
    machine = rescrape()
    effects(machine)
    machine.fail(AMION, 1, at(1), "Amion refused the password", [], retryable=False)
    assert effects(machine) == [StartAttempt(COVERAGE, 1)]
    machine.succeed(COVERAGE, 1, at(2), [])
    (ended,) = effects(machine)
    assert isinstance(ended, Ended) and ended.state == WorkflowState.COMPLETED_WITH_WARNINGS
    assert ended.warnings == ("AMION_SCRAPE failed",)


DRAFT = Phase.DRAFT
DRAFT_LIMITS = Limits(attempts={DRAFT: 1, COVERAGE: 1},
                      timeouts={DRAFT: timedelta(minutes=5), COVERAGE: timedelta(minutes=2)})  # fmt: skip


def drafting() -> WorkflowMachine:
    machine = WorkflowMachine.new(DRAFT_LIMITS, WorkflowKind.DRAFT)
    machine.begin(T0)
    return machine


def test_a_draft_drafts_then_checks_the_draft_with_the_coverage_and_completes() -> None:
    machine = drafting()
    assert effects(machine) == [StartAttempt(DRAFT, 1)]
    assert states(machine) == {DRAFT: (PhaseState.RUNNING, 1), COVERAGE: (PhaseState.PENDING, 0)}
    assert machine.succeed(DRAFT, 1, at(20), [note(at(20), "70 of 70 roles filled")]) is Verdict.ACCEPTED
    assert effects(machine) == [StartAttempt(COVERAGE, 1)]
    assert machine.succeed(COVERAGE, 1, at(21), []) is Verdict.ACCEPTED
    assert effects(machine) == [Ended(WorkflowState.COMPLETED, 2)]


def test_a_draft_with_unfilled_roles_completes_with_a_warning_and_a_refused_draft_fails() -> None:
    machine = drafting()
    effects(machine)
    unfilled = note(at(1), "2 roles left unfilled", Severity.WARNING, "DRAFT_UNFILLED")
    machine.succeed(DRAFT, 1, at(1), [unfilled])
    machine.succeed(COVERAGE, 1, at(2), [])
    assert effects(machine)[-1] == Ended(WorkflowState.COMPLETED_WITH_WARNINGS, 2, warnings=("2 roles left unfilled",))

    refused = drafting()
    effects(refused)
    assert refused.fail(DRAFT, 1, at(1), "the flat layout", [], retryable=False) is Verdict.ACCEPTED
    assert effects(refused) == [Ended(WorkflowState.FAILED, 1, "DRAFT failed: the flat layout")]
    assert refused.phases[COVERAGE].state == PhaseState.SKIPPED


def test_a_draft_answer_from_a_superseded_attempt_changes_nothing() -> None:
    machine = drafting()
    effects(machine)
    assert machine.time_out(DRAFT, at(301)) is True
    assert effects(machine)[-1] == Ended(WorkflowState.FAILED, 1, "DRAFT failed: attempt 1 timed out after 301 s")
    assert machine.succeed(DRAFT, 1, at(302), []) is Verdict.NOT_RUNNING
