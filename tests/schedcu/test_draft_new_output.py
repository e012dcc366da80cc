"""`schedcu draft new --wait` prints each phase's notes and every ERROR and WARNING finding of the draft's check,
and only how many INFO findings there are (a month's check has hundreds)."""

import uuid
from typing import Any

from schedcu.cli.commands.drafting import phase_lines


def message(severity: str, code: str, text: str) -> dict[str, Any]:
    return {"at": "2026-12-06T16:00:00+00:00", "severity": severity, "code": code, "text": text, "location": None}


def test_errors_and_warnings_are_printed_and_info_findings_counted() -> None:
    draft = {
        "phase": "DRAFT",
        "attempts": [{"attempt": 1, "messages": [message("INFO", "NOTE", "draft run r OPTIMAL")]}],
    }
    coverage = {
        "phase": "COVERAGE",
        "attempts": [
            {"attempt": 1, "messages": [message("INFO", "NOTE", "an earlier attempt's note")]},
            {
                "attempt": 2,
                "messages": [
                    message("INFO", "NOTE", "coverage of draft run r: 150 cells"),
                    message("ERROR", "REST_VIOLATION", "Adams on ON1 rests 6 h"),
                    *(message("INFO", "DRIFT", f"drift {n}") for n in range(3)),
                    message("WARNING", "PARTIAL", "MidC half covered"),
                ],
            },
        ],
    }
    skipped: dict[str, Any] = {"phase": "SPARE", "attempts": []}

    workflow_id = uuid.uuid4()

    assert phase_lines(workflow_id, [draft, coverage, skipped]) == [
        "  DRAFT: draft run r OPTIMAL",
        "  COVERAGE: coverage of draft run r: 150 cells",
        "  COVERAGE: Adams on ON1 rests 6 h",
        "  COVERAGE: MidC half covered",
        f"  COVERAGE: 3 INFO findings (`schedcu workflows show {workflow_id}` lists them)",
    ]
