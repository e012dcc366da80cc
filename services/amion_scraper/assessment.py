"""From the pages of a scrape to its outcome: the batch state, each month's outcome, the findings and the
assignments to store. Pure: the handler (pages just fetched) and `schedcu amion reparse` (pages from the
archive) both come through here.

A month is `OK`, `EMPTY` (`NOFI=No file`) or `ERROR` (not fetched, or its page has an ERROR; its rows are
then not stored). The batch is `COMPLETE` when no month has an error, `PARTIAL` when some have (the other
months' assignments are stored), `FAILED` when every month has.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from shared.findings import Finding, Severity, has_errors

from .matching import MatchedAssignment, PersonRef, map_roles, match_people
from .pages import is_empty_month, parse_page
from .rows import AmionRow, month_key, month_label

BatchState = Literal["COMPLETE", "PARTIAL", "FAILED"]
MonthOutcome = Literal["OK", "EMPTY", "ERROR"]

MONTH_NOT_FETCHED = "MONTH_NOT_FETCHED"


@dataclass(frozen=True)
class MonthPage:
    """The page to parse for a month, or why there is none."""

    month: date
    body: str | None
    error: str | None = None


@dataclass(frozen=True)
class ScrapeOutcome:
    state: BatchState
    months: dict[str, MonthOutcome]
    findings: list[Finding]
    assignments: list[MatchedAssignment]

    @property
    def retryable(self) -> bool:
        """Whether another attempt may do better: some month could not be fetched (Amion unreachable,
        overloaded), as opposed to pages that were fetched and could not be read."""
        return any(f.code == MONTH_NOT_FETCHED for f in self.findings)

    @property
    def reason(self) -> str:
        """Why the scrape failed, in one line: the months' errors."""
        errors = [f.text for f in self.findings if f.severity is Severity.ERROR]
        return "Amion could not be read for any month: " + " ".join(errors)


def _month_rows(page: MonthPage, start: date, end: date) -> tuple[MonthOutcome, list[AmionRow], list[Finding]]:
    if page.body is None:
        finding = Finding(
            severity=Severity.ERROR,
            code=MONTH_NOT_FETCHED,
            text=f"Amion could not be read for {month_label(page.month)}: {page.error or 'no page'}",
            location=month_label(page.month),
        )
        return "ERROR", [], [finding]
    parsed = parse_page(page.body, page.month)
    findings = list(parsed.findings)
    if has_errors(findings):
        return "ERROR", [], findings
    rows = [r for r in parsed.rows if start <= r.schedule_date <= end]
    return ("EMPTY" if is_empty_month(parsed) else "OK"), rows, findings


def assess(
    pages: Sequence[MonthPage],
    start: date,
    end: date,
    role_mapping: Sequence[tuple[str, str]],
    people: Sequence[PersonRef],
) -> ScrapeOutcome:
    """The outcome of a scrape of the period `start..end` from one page per month."""
    months: dict[str, MonthOutcome] = {}
    rows: list[AmionRow] = []
    findings: list[Finding] = []
    for page in pages:
        outcome, month_rows, month_findings = _month_rows(page, start, end)
        months[month_key(page.month)] = outcome
        rows += month_rows
        findings += month_findings
    mapped, role_findings = map_roles(rows, role_mapping)
    matched, people_findings = match_people(mapped, people)
    failed = sum(outcome == "ERROR" for outcome in months.values())
    state: BatchState = "COMPLETE" if not failed else "FAILED" if failed == len(months) else "PARTIAL"
    return ScrapeOutcome(
        state=state, months=months, findings=[*findings, *role_findings, *people_findings], assignments=matched
    )
