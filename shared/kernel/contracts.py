"""Message contracts: every message on the bus is one of these pydantic models.

A message's routing key says which contract it is; its body is the model as JSON. Consumers reject
(to the dead-letter queue, with the validation error) whatever does not validate.
"""

import logging
import uuid
from datetime import date, timedelta
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.kernel.findings import Finding, Severity
from shared.kernel.states import BatchState, WatchOutcome, WorkflowState

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_INLINE_TEMPLATE_CHARS = 14_000_000  # base64 of the 10 MB template limit

_unknown_fields_logged: set[str] = set()


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    routing_key: ClassVar[str]
    schema_version: Literal[1] = SCHEMA_VERSION


class Tolerant(BaseModel):
    """Read from upstream systems: unknown fields are ignored (each field name logged once per process)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _log_unknown(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            for name in sorted(set(data) - known):
                key = f"{cls.__name__}.{name}"
                if key not in _unknown_fields_logged:
                    _unknown_fields_logged.add(key)
                    log.warning("ignoring the unknown field %r of %s", name, cls.__name__)
        return data

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("holds a NUL character, which no text stored by schedcu may hold")
        return value


class UpstreamContract(Tolerant, Contract):
    """A message upstream systems or operators publish: read tolerantly; a newer schema version is refused."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)  # type: ignore[assignment]

    @field_validator("schema_version")
    @classmethod
    def _supported(cls, version: int) -> int:
        if version > SCHEMA_VERSION:
            raise ValueError(f"schema_version {version} is newer than this schedcu supports ({SCHEMA_VERSION})")
        return version


class Period(Tolerant):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self


class TemplateSource(Tolerant):
    """Exactly one of: the file inline (base64), a path inside the drop folder, or an http(s) URL."""

    filename: str = Field(min_length=1, max_length=300)
    inline_base64: str | None = Field(default=None, max_length=MAX_INLINE_TEMPLATE_CHARS)
    path: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [x for x in (self.inline_base64, self.path, self.url) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of inline_base64, path or url")
        return self


class ImportRequested(UpstreamContract):
    """Published by an upstream system: import this template for this period and Amion account."""

    routing_key: ClassVar[str] = "import.requested"
    request_id: str = Field(min_length=1, max_length=200, description="Idempotency key")
    group: str = Field(min_length=1, max_length=200)
    period: Period
    template: TemplateSource
    amion_account: str = Field(min_length=1, max_length=100)
    requested_by: str = Field(min_length=1, max_length=200)


class WorkflowMessage(Contract):
    """A command or event of one import workflow: the request it serves travels in the body."""

    workflow_id: uuid.UUID
    request_id: str
    group: str
    period: Period

    def context(self) -> dict[str, Any]:
        """The fields that carry over to every message answering this one."""
        return {"workflow_id": self.workflow_id, "request_id": self.request_id, "group": self.group,
                "period": self.period}  # fmt: skip


class ImportAccepted(WorkflowMessage):
    """The answer to every ImportRequested that validates: its workflow (new, or the existing one for the
    identical request sent again) and that workflow's state."""

    routing_key: ClassVar[str] = "event.import.accepted"
    state: str


class ImportRejected(Contract):
    """The answer to an ImportRequested that cannot be run: its template source is not valid, it failed
    validation otherwise, has a newer schema version, reuses a request id with a different period, group,
    template or Amion account, or reuses the message id of an earlier message with another body."""

    routing_key: ClassVar[str] = "event.import.rejected"
    code: Literal[
        "INVALID_TEMPLATE_SOURCE", "INVALID_REQUEST", "SCHEMA_VERSION_UNSUPPORTED", "REQUEST_ID_REUSED",
        "MESSAGE_ID_REUSED",
    ]  # fmt: skip
    reason: str
    request_message_id: str
    request_correlation_id: str | None
    request_id: str | None = Field(description="When it could be read from the request")
    workflow_id: uuid.UUID | None = Field(default=None, description="REQUEST_ID_REUSED: the existing workflow")


class ImportTemplate(WorkflowMessage):
    """Coordinator -> ods_importer: phase 1."""

    routing_key: ClassVar[str] = "command.ods_importer.import_template"
    attempt: int = Field(ge=1)
    template: TemplateSource
    requested_by: str


class ScrapeAmion(WorkflowMessage):
    """Coordinator -> amion_scraper: phase 2."""

    routing_key: ClassVar[str] = "command.amion_scraper.scrape"
    attempt: int = Field(ge=1)
    version_id: uuid.UUID
    amion_account: str
    months_from: date | None = Field(
        default=None,
        description="A re-scrape: fetch the months from this one on; the earlier months keep the pages of the "
        "version's applied scrape batch",
    )


class DateSpan(BaseModel):
    """`days` dates from `start`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    days: int = Field(ge=1, le=31)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)


class VersionCheck(BaseModel):
    """One version to compare with Amion: the months of its period from today's on, or only its near-term dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    version_id: uuid.UUID
    months: list[date] = Field(
        default_factory=list, description="The first day of every month to compare (today's month on)"
    )
    near: DateSpan | None = Field(
        default=None, description="A near-term check: only these dates are compared (one small request); no months"
    )


class CheckAmion(Contract):
    """Versions (the watch) -> amion_scraper: has Amion's content changed for these versions of one account since
    their applied scrape batches? One message per account and watch round; fetches and stores nothing; answered
    by AmionChecked."""

    routing_key: ClassVar[str] = "command.amion_scraper.check"
    check_id: str = Field(description="The watch round of the account this check belongs to")
    amion_account: str
    versions: list[VersionCheck] = Field(min_length=1)


class VersionChecked(BaseModel):
    """What the check found for one version. CHANGED starts a re-scrape workflow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    version_id: uuid.UUID
    near: bool = Field(default=False, description="A near-term check")
    outcome: WatchOutcome
    changed_months: list[str] = Field(default_factory=list, description='"YYYY-MM" of each month that changed')
    reason: str | None = Field(default=None, description="FAILED: why Amion could not be read")


class AmionChecked(Contract):
    """amion_scraper -> versions: what a CheckAmion found, version by version."""

    routing_key: ClassVar[str] = "event.amion.checked"
    check_id: str
    amion_account: str
    results: list[VersionChecked]


class PhaseCommand(Contract):
    """A command that is a workflow's phase, or an operator's own without a workflow (its workflow fields None)."""

    workflow_id: uuid.UUID | None = None
    request_id: str | None = None
    group: str | None = None
    period: Period | None = None
    attempt: int = Field(default=1, ge=1)


class CalculateCoverage(PhaseCommand):
    """Coordinator (or an operator's recalc, without workflow) -> coverage: phase 3."""

    routing_key: ClassVar[str] = "command.coverage.calculate"
    version_id: uuid.UUID
    draft_run_id: uuid.UUID | None = Field(
        default=None, description="Check a draft: the version's assignments with the run's rows, nothing stored"
    )

    @model_validator(mode="after")
    def _draft_in_a_workflow(self) -> Self:
        workflow = (self.workflow_id, self.request_id, self.group, self.period)
        if self.draft_run_id is not None and None in workflow:
            raise ValueError(
                "a draft's check (draft_run_id) is a DRAFT workflow's phase: it needs the workflow's fields"
            )
        return self


class PhaseResult(WorkflowMessage):
    attempt: int = Field(ge=1, description="The attempt of the phase command this answers")


class OdsImported(PhaseResult):
    routing_key: ClassVar[str] = "event.ods.imported"
    version_id: uuid.UUID
    windows: int
    shift_instances: int
    findings: list[Finding] = Field(default_factory=list)


class OdsImportFailed(PhaseResult):
    routing_key: ClassVar[str] = "event.ods.import_failed"
    findings: list[Finding]


class AmionScraped(PhaseResult):
    routing_key: ClassVar[str] = "event.amion.scraped"
    version_id: uuid.UUID
    batch_id: uuid.UUID
    state: Literal[BatchState.COMPLETE, BatchState.PARTIAL]
    assignments: int
    findings: list[Finding] = Field(default_factory=list)


class AmionScrapeFailed(PhaseResult):
    routing_key: ClassVar[str] = "event.amion.scrape_failed"
    version_id: uuid.UUID
    batch_id: uuid.UUID | None = None
    reason: str
    retryable: bool = Field(
        default=False, description="Worth another attempt (Amion unreachable), unlike a refused password"
    )
    findings: list[Finding] = Field(default_factory=list)


class GapCandidate(BaseModel):
    """A person who could fill a gap (services/coverage/candidates.py), with why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    person_id: int
    name: str
    specialty: str
    assign_role: str = Field(description="The role as written they would be assigned to")
    nights: int = Field(description="Nights in the period before the gap's date")
    weekends: int
    holidays: int
    reasons: list[str]


class CoverageGap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    date: date
    window: str
    worklist: str
    role: str
    status: str
    severity: Severity = Field(description="ERROR for a mandatory gap, WARNING for an optional one")
    candidates: list[GapCandidate] = Field(
        default_factory=list, description="The best candidates to fill it, best first (at most 3)"
    )


class UnknownMonth(BaseModel):
    """Dates of one month of the period for which Amion delivered nothing usable: their cells are NO_DATA."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    month: str = Field(description='The month, "YYYY-MM"', pattern=r"^\d{4}-\d{2}$")
    reason: str = Field(description='Why Amion gave no data, e.g. `Amion answered "No file"`')
    start: date = Field(description="The first date of the month within the period without Amion data")
    end: date = Field(description="The last such date (every date from start to end has none)")
    cells: int = Field(description="Its NO_DATA cells")


class CoverageSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cells: int
    by_status: dict[str, int]
    coverage_ratio: float = Field(
        description="COVERED (flat: FULL) cells / known cells; 0.0 when no cell is known, 1.0 when there are no cells"
    )
    by_hospital: dict[str, dict[str, int]]
    by_role: dict[str, dict[str, int]]
    critical_gaps: int
    known_cells: int = Field(description="Cells whose date has Amion data (every cell but NO_DATA)")
    unknown_cells: int = Field(description="NO_DATA cells: their date has no Amion data; never a gap")
    unknown_months: list[UnknownMonth] = Field(description="The months with dates without Amion data, and why")
    text: str = Field(
        description="The summary in one sentence, e.g. `coverage 97.1 % of 1,553 known cells; 1,237 cells "
        'without Amion data (2026-11: Amion answered "No file")`'
    )


class CoverageCalculated(Contract):
    """For downstream subscribers: a version's coverage was calculated and stored. Without workflow (and
    request id) it answers an operator's recalculation."""

    routing_key: ClassVar[str] = "event.coverage.calculated"
    workflow_id: uuid.UUID | None
    request_id: str | None
    group: str
    period: Period
    attempt: int = Field(ge=1)
    version_id: uuid.UUID
    calculation_id: uuid.UUID
    summary: CoverageSummary
    critical_gaps: list[CoverageGap] = Field(description="The first gaps by date (bounded)")
    critical_gaps_total: int


class CellState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    status: str
    people: list[str] = Field(description="The responsible people, by name")


class ChangedCell(BaseModel):
    """A (date, window, worklist) whose status or people differ between two calculations. A cell that exists in
    one calculation only (the night's Body/Neuro variant changed) has no `old` or no `new`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: date
    window: str
    worklist: str
    role: str
    old: CellState | None
    new: CellState | None


class CoverageChanged(Contract):
    """For downstream subscribers: a version's coverage changed (a re-scrape, a manual correction followed by a
    recalculation, or a recalculation with another result). Never published when nothing changed."""

    routing_key: ClassVar[str] = "event.coverage.changed"
    workflow_id: uuid.UUID | None = Field(description="The workflow that recalculated; none for an operator's")
    request_id: str | None
    group: str
    period: Period
    version_id: uuid.UUID
    previous_calculation_id: uuid.UUID
    calculation_id: uuid.UUID
    changed_cells: list[ChangedCell]
    gaps_opened: list[CoverageGap] = Field(description="Gaps of the new calculation the previous did not have")
    gaps_closed: list[CoverageGap] = Field(description="Gaps of the previous calculation the new has not")


class CoverageFailed(Contract):
    routing_key: ClassVar[str] = "event.coverage.failed"
    workflow_id: uuid.UUID | None
    request_id: str | None
    group: str | None
    period: Period | None
    attempt: int = Field(ge=1)
    version_id: uuid.UUID
    reason: str


class DraftAsk(BaseModel):
    """Who asks for a draft and why, and the solver's limits for it: the same in the operator's request and in the
    coordinator's command."""

    requested_by: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)
    time_limit_s: float | None = Field(default=None, gt=0, le=3600, description="None: the drafting setting")
    workers: int | None = Field(default=None, ge=1, le=64, description="CP-SAT workers; None: the setting")


class DraftSchedule(PhaseCommand, DraftAsk):
    """Coordinator -> drafting: a DRAFT workflow's draft phase, a version's period from its rules
    (services/drafting). The run it starts has an id derived from this message's id; a redelivery continues the
    same run."""

    routing_key: ClassVar[str] = "command.drafting.draft"
    version_id: uuid.UUID


class DraftLevel(BaseModel):
    """One level of the lexicographic objective: its value, the best bound, whether it is proven, its time.
    Fairness levels count thousandths of a night."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    level: str
    value: int
    bound: int | None
    proven: bool
    seconds: float


class DraftRunEnded(Contract):
    """What every answer of a draft run carries: the run, its version, and the DRAFT workflow it serves (None: a
    draft asked outside a workflow)."""

    workflow_id: uuid.UUID | None = None
    request_id: str | None = None
    attempt: int = Field(default=1, ge=1)
    run_id: uuid.UUID
    version_id: uuid.UUID


class DraftProposed(DraftRunEnded):
    """drafting -> subscribers: a run completed; its rows are PROPOSED (kept assignments stay as they are)."""

    routing_key: ClassVar[str] = "event.draft.proposed"
    group: str
    period: Period
    outcome: Literal["OPTIMAL", "FEASIBLE", "GREEDY"]
    to_fill: int = Field(description="Role-dates of the period")
    filled: int
    unfilled: int
    kept: int = Field(description="Role-dates held by the version's own assignments")
    levels: list[DraftLevel]
    seconds: float


class DraftFailed(DraftRunEnded):
    """drafting -> subscribers: the version cannot be drafted (it does not exist, or has the flat layout)."""

    routing_key: ClassVar[str] = "event.draft.failed"
    group: str | None
    period: Period | None
    reason: str


class DraftChecked(PhaseResult):
    """coverage -> coordinator: a DRAFT workflow's coverage, calculated on the version's assignments plus the
    run's PROPOSED, EDITED and APPROVED rows, every date counted as known. Not stored as the version's coverage:
    a draft counts only once approved."""

    routing_key: ClassVar[str] = "event.coverage.draft_checked"
    version_id: uuid.UUID
    run_id: uuid.UUID
    summary: CoverageSummary
    findings: list[Finding] = Field(description="REST_VIOLATION, DOUBLE_BOOKED, DUPLICATE_ASSIGNMENT and the like")


class RequestDraft(UpstreamContract, DraftAsk):
    """Operator -> coordinator: draft a version's period (a DRAFT workflow: DraftSchedule, then the draft's
    coverage)."""

    routing_key: ClassVar[str] = "command.versions.draft"
    version_id: uuid.UUID


class RepairGap(BaseModel):
    """A role on a schedule date."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: date
    role: str = Field(min_length=1, max_length=30)


class RepairSchedule(Contract):
    """Operator, time off or the drafting worker's own watch -> drafting: repair a version after someone became
    unavailable (`person_id` from `first` to `last`) or gaps opened (`gaps`), with the fewest changed assignments.
    The run it starts has an id derived from this message's id."""

    routing_key: ClassVar[str] = "command.drafting.repair"
    version_id: uuid.UUID
    requested_by: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)
    person_id: int | None = None
    first: date | None = None
    last: date | None = None
    gaps: list[RepairGap] = Field(default_factory=list, max_length=500)
    time_limit_s: float | None = Field(default=None, gt=0, le=600, description="None: the repair setting")
    workers: int | None = Field(default=None, ge=1, le=64, description="CP-SAT workers; None: the setting")

    @model_validator(mode="after")
    def _something_to_repair(self) -> Self:
        if (self.person_id is None) != (self.first is None):
            raise ValueError("a person and the first date they are unavailable go together")
        if self.person_id is None and not self.gaps:
            raise ValueError("name a person who is unavailable, or the gaps to fill")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError("the last date comes before the first")
        return self


class RepairMove(BaseModel):
    """One changed assignment of a repair: `person` takes the role from `displaced` (None: it was open; a None
    `person`: it stays open), because of `rule`; `after`: the position of the move that made it necessary."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    position: int = Field(ge=0)
    date: date
    role: str
    person_id: int | None
    person: str | None
    displaced_id: int | None
    displaced: str | None
    rule: str
    text: str
    after: int | None


class RepairFairness(BaseModel):
    """One fairness category before and after the repair, in nights: the largest and the summed deviation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    category: str
    largest_before: float
    largest_after: float
    sum_before: float
    sum_after: float


class RepairProposed(Contract):
    """drafting -> subscribers: a repair run completed; its moves are PROPOSED, to approve all together."""

    routing_key: ClassVar[str] = "event.repair.proposed"
    run_id: uuid.UUID
    group: str
    period: Period
    version_id: uuid.UUID
    gaps: list[RepairGap] = Field(description="The role-dates to fill")
    moves: list[RepairMove] = Field(description="The chain, its first moves first")
    changes: int = Field(description="Assignments whose person changes")
    lower_bound: int | None = Field(description="The fewest changes any repair needs, as proven by the solver")
    proven: bool = Field(description="The change count equals the lower bound")
    unfilled: list[str] = Field(description="Each gap left open, with the rule that blocks each person")
    fairness: list[RepairFairness]
    seconds: float
    solve_seconds: float


class WorkflowCompleted(WorkflowMessage):
    routing_key: ClassVar[str] = "event.workflow.completed"
    state: Literal[WorkflowState.COMPLETED, WorkflowState.COMPLETED_WITH_WARNINGS]
    version_id: uuid.UUID
    warnings: list[str] = Field(default_factory=list, description="Why it completed with warnings")


class WorkflowFailed(WorkflowMessage):
    routing_key: ClassVar[str] = "event.workflow.failed"
    reason: str
    findings: list[Finding] = Field(default_factory=list)


class VersionPromoted(Contract):
    routing_key: ClassVar[str] = "event.version.promoted"
    version_id: uuid.UUID
    group: str
    period: Period
    archived: list[uuid.UUID] = Field(description="Production versions of the group this one replaced")
    by: str
    forced: bool
    reason: str | None


class VersionArchived(Contract):
    routing_key: ClassVar[str] = "event.version.archived"
    version_id: uuid.UUID
    by: str
    reason: str | None
    superseded_by: uuid.UUID | None = None


class ProposedPerson(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    person_id: int
    name: str
    email: str


class ProposalCell(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    window: str
    worklist: str
    status: str = Field(description="UNCOVERED or SPECIALTY_MISMATCH when the proposal was made")


class OpenProposalCell(ProposalCell):
    reason: str = Field(description="Why the proposed person leaves this gap open")


class ProposalEvent(Contract):
    """A proposal to fill one gap line of a version's coverage (`schedcu proposals`): one person on one role
    as written on one date, for every gap of that role that date they can fill."""

    proposal_id: uuid.UUID
    version_id: uuid.UUID
    group: str
    period: Period
    date: date
    role: str = Field(description="The gaps' responsible role")
    assign_role: str = Field(description="The role as written the person is (to be) assigned to")
    fills: list[ProposalCell] = Field(description="The gaps the person fills")
    stays_open: list[OpenProposalCell] = Field(description="The line's gaps the person cannot fill, with why")
    person: ProposedPerson
    by: str


class ProposalCreated(ProposalEvent):
    routing_key: ClassVar[str] = "event.proposal.created"


class ProposalApproved(ProposalEvent):
    """The person was assigned as an OVERRIDE; the recalculation it requested follows."""

    routing_key: ClassVar[str] = "event.proposal.approved"
    recalculation_id: uuid.UUID = Field(description="The coverage calculation requested with the approval")


class ProposalRejected(ProposalEvent):
    routing_key: ClassVar[str] = "event.proposal.rejected"
    reason: str


CONTRACTS: tuple[type[Contract], ...] = (
    ImportRequested,
    ImportAccepted,
    ImportRejected,
    ImportTemplate,
    ScrapeAmion,
    CheckAmion,
    AmionChecked,
    CalculateCoverage,
    OdsImported,
    OdsImportFailed,
    AmionScraped,
    AmionScrapeFailed,
    CoverageCalculated,
    CoverageChanged,
    CoverageFailed,
    DraftSchedule,
    DraftProposed,
    DraftFailed,
    DraftChecked,
    RequestDraft,
    RepairSchedule,
    RepairProposed,
    WorkflowCompleted,
    WorkflowFailed,
    VersionPromoted,
    VersionArchived,
    ProposalCreated,
    ProposalApproved,
    ProposalRejected,
)
BY_ROUTING_KEY: dict[str, type[Contract]] = {c.routing_key: c for c in CONTRACTS}
