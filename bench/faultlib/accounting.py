"""What one scenario's run left behind, and the verdict on it (pure: no I/O)."""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

TERMINAL = frozenset({"COMPLETED", "COMPLETED_WITH_WARNINGS", "FAILED"})
WORK_QUEUES = ("schedcu.versions", "schedcu.ods_importer", "schedcu.amion_scraper", "schedcu.coverage")


@dataclass(frozen=True)
class WorkflowFacts:
    request_id: str
    workflow_id: str
    state: str
    finished_at: float | None  # epoch seconds
    versions: int
    calculations: int
    applied_batches: int  # scrape batches whose assignments were stored (COMPLETE or PARTIAL)
    amion_phase: str | None
    coverage_phase: str | None
    stale_assignments: bool  # AMION assignments stored after, or from another batch than, the latest calculation
    final_events: int  # WorkflowCompleted / WorkflowFailed received for it, by distinct message id


@dataclass(frozen=True)
class Facts:
    published: dict[str, float]  # valid request id -> when it was first published (epoch seconds)
    workflows: list[WorkflowFacts]
    outbox_rows: int
    queue_messages: dict[str, int]  # every queue of the scenario's vhost: ready + unacknowledged
    poison: int
    verify: str  # "clean", "n violations", "error ..." or "n/a"
    verify_ok: bool | None  # None when there is no verify command
    fault_end: float | None
    allowed_states: frozenset[str]


@dataclass
class Row:
    scenario: str
    requests: int
    completed: int
    warnings: int
    failed: int
    lost: int
    duplicated: int
    stuck: int
    dead_letters: int
    poison: int
    drained: bool
    verify: str
    recovery_s: float | None
    p50_s: float | None
    p99_s: float | None
    passed: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_run(scenario: str, reason: str) -> Row:
    """The row of a scenario that broke before it could be accounted for: it fails."""
    return Row(scenario, 0, 0, 0, 0, 0, 0, 0, 0, 0, False, "-", None, None, None, False, [reason])


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _extra(actual: int, expected: int) -> int:
    return max(0, actual - expected)


def duplicate_effects(w: WorkflowFacts) -> dict[str, int]:
    """Effects beyond what the workflow's accepted phase results allow, by kind."""
    return {
        "schedule versions": _extra(w.versions, 1),
        "coverage calculations": _extra(w.calculations, 1 if w.coverage_phase == "SUCCEEDED" else 0),
        "applied scrape batches": _extra(w.applied_batches, 1 if w.amion_phase == "SUCCEEDED" else 0),
        "versions whose assignments are not their coverage's batch": int(w.stale_assignments),
        "final events": _extra(w.final_events, 1),
    }


def account(scenario: str, facts: Facts) -> Row:
    by_request = {w.request_id: w for w in facts.workflows}
    notes = []
    terminal = [w for w in facts.workflows if w.state in TERMINAL]
    unannounced = [w for w in terminal if w.final_events == 0]
    missing = [r for r in facts.published if r not in by_request]
    lost = len(missing) + len(unannounced)
    if missing:
        notes.append(f"{len(missing)} requests without a workflow")
    if unannounced:
        notes.append(f"{len(unannounced)} ended workflows without a final event")

    kinds: dict[str, int] = {}
    for w in facts.workflows:
        for kind, n in duplicate_effects(w).items():
            kinds[kind] = kinds.get(kind, 0) + n
    duplicated = sum(kinds.values())
    notes.extend(f"{n} extra {kind}" for kind, n in kinds.items() if n)

    stuck = len(facts.workflows) - len(terminal)
    unexpected = [w for w in terminal if w.state not in facts.allowed_states]
    if unexpected:
        notes.append(f"{len(unexpected)} workflows ended {', '.join(sorted({w.state for w in unexpected}))}")

    dead_letters = sum(n for q, n in facts.queue_messages.items() if q.endswith(".dead-letter"))
    left = {q: facts.queue_messages.get(q, 0) for q in WORK_QUEUES if facts.queue_messages.get(q, 0)}
    drained = facts.outbox_rows == 0 and not left
    if facts.outbox_rows:
        notes.append(f"{facts.outbox_rows} outbox rows left")
    notes.extend(f"{n} messages left in {q}" for q, n in left.items())

    latencies = [
        w.finished_at - facts.published[w.request_id]
        for w in terminal
        if w.finished_at is not None and w.request_id in facts.published
    ]
    recovery = None
    if facts.fault_end is not None:
        after = [w.finished_at for w in terminal if w.finished_at is not None and w.finished_at >= facts.fault_end]
        recovery = min(after) - facts.fault_end if after else None

    passed = (
        lost == 0
        and duplicated == 0
        and stuck == 0
        and not unexpected
        and dead_letters == facts.poison
        and drained
        and facts.verify_ok is not False
    )
    return Row(
        scenario=scenario,
        requests=len(facts.published),
        completed=sum(w.state == "COMPLETED" for w in terminal),
        warnings=sum(w.state == "COMPLETED_WITH_WARNINGS" for w in terminal),
        failed=sum(w.state == "FAILED" for w in terminal),
        lost=lost,
        duplicated=duplicated,
        stuck=stuck,
        dead_letters=dead_letters,
        poison=facts.poison,
        drained=drained,
        verify=facts.verify,
        recovery_s=recovery,
        p50_s=percentile(latencies, 50),
        p99_s=percentile(latencies, 99),
        passed=passed,
        notes=notes,
    )


COLUMNS = (
    ("scenario", 21), ("requests", 8), ("completed", 9), ("warnings", 8), ("failed", 6), ("lost", 4),
    ("duplicated", 10), ("stuck", 5), ("dead letters", 12), ("poison", 6), ("drained", 7), ("verify", 14),
    ("recovery s", 10), ("p50 s", 6), ("p99 s", 6), ("result", 6),
)  # fmt: skip


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def matrix(rows: Sequence[Row]) -> str:
    """One line per scenario, then each failed row's notes."""
    first = max([COLUMNS[0][1], *(len(r.scenario) for r in rows)])
    columns = [(COLUMNS[0][0], first), *COLUMNS[1:]]
    lines = ["  ".join(name.rjust(width) if i else name.ljust(width) for i, (name, width) in enumerate(columns))]
    for r in rows:
        cells = (
            r.scenario, r.requests, r.completed, r.warnings, r.failed, r.lost, r.duplicated, r.stuck,
            r.dead_letters, r.poison, "yes" if r.drained else "no", r.verify, _seconds(r.recovery_s),
            _seconds(r.p50_s), _seconds(r.p99_s), "PASS" if r.passed else "FAIL",
        )  # fmt: skip
        lines.append(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, (_, w)) in enumerate(zip(cells, columns, strict=True))
            )
        )
    for r in rows:
        if r.notes:
            lines.append(f"{r.scenario}: " + "; ".join(r.notes))
    return "\n".join(lines)
