"""From the pages of a scrape to its outcome: the batch state, each month's outcome, the findings and the
assignments to store. Pure: the handler (pages just fetched) and `schedcu amion reparse` (pages from the
archive) both come through here.

A month is `OK`, `EMPTY` or `ERROR`, and a month that is not `OK` says why (the reason coverage shows for its
dates, which have no Amion data):
- `EMPTY`: Amion answered `NOFI=No file`, or its page parses but lists no assignment at all within the
  period (Amion has not published that month; nobody-on-call-all-month is not a schedule Amion shows);
- `ERROR`: not fetched, or its page has an ERROR (the first ERROR's text is the reason); its rows are not
  stored.
The batch is `COMPLETE` when no month has an error, `PARTIAL` when some have (the other months' assignments
are stored), `FAILED` when every month has.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from shared.kernel.amion_data import NO_ASSIGNMENTS, NO_FILE, MonthOutcome
from shared.kernel.findings import EMPTY_MONTH, MONTH_NOT_FETCHED, Finding, Severity
from shared.kernel.people import PersonRef
from shared.kernel.states import BatchState

from .matching import MatchedAssignment, map_roles, match_people
from .pages import is_empty_month, parse_page
from .rows import AmionRow, month_key, month_label


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
    reasons: dict[str, str]  # month -> why it has no data, for every month that is not OK

    @property
    def retryable(self) -> bool:
        """Whether another attempt may do better: some month could not be fetched (Amion unreachable,
        overloaded), as opposed to pages that were fetched and could not be read."""
        return any(f.code == MONTH_NOT_FETCHED.code for f in self.findings)

    @property
    def reason(self) -> str:
        """Why the scrape failed, in one line: the months' errors."""
        errors = [f.text for f in self.findings if f.severity is Severity.ERROR]
        return "Amion could not be read for any month: " + " ".join(errors)


@dataclass(frozen=True)
class _Month:
    outcome: MonthOutcome
    reason: str | None
    rows: list[AmionRow]
    findings: list[Finding]


def _month_rows(page: MonthPage, start: date, end: date) -> _Month:
    where = month_label(page.month)
    if page.body is None:
        text = f"Amion could not be read for {where}: {page.error or 'no page'}"
        finding = MONTH_NOT_FETCHED(text, where)
        return _Month("ERROR", text, [], [finding])
    parsed = parse_page(page.body, page.month)
    findings = list(parsed.findings)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        return _Month("ERROR", errors[0].text.rstrip("."), [], findings)
    if is_empty_month(parsed):
        return _Month("EMPTY", NO_FILE, [], findings)
    rows = [r for r in parsed.rows if start <= r.schedule_date <= end]
    if not rows:
        text = f"Amion listed no assignments for {where} within the period."
        findings.append(EMPTY_MONTH(text, where))
        return _Month("EMPTY", NO_ASSIGNMENTS, [], findings)
    return _Month("OK", None, rows, findings)


def assess(
    pages: Sequence[MonthPage],
    start: date,
    end: date,
    role_mapping: Sequence[tuple[str, str]],
    people: Sequence[PersonRef],
) -> ScrapeOutcome:
    """The outcome of a scrape of the period `start..end` from one page per month."""
    months: dict[str, MonthOutcome] = {}
    reasons: dict[str, str] = {}
    rows: list[AmionRow] = []
    findings: list[Finding] = []
    for page in pages:
        month = _month_rows(page, start, end)
        months[month_key(page.month)] = month.outcome
        if month.reason:
            reasons[month_key(page.month)] = month.reason
        rows += month.rows
        findings += month.findings
    mapped, role_findings = map_roles(rows, role_mapping)
    matched, people_findings = match_people(mapped, people)
    failed = sum(outcome == "ERROR" for outcome in months.values())
    state = BatchState.COMPLETE if not failed else BatchState.FAILED if failed == len(months) else BatchState.PARTIAL
    return ScrapeOutcome(
        state=state,
        months=months,
        findings=[*findings, *role_findings, *people_findings],
        assignments=matched,
        reasons=reasons,
    )
