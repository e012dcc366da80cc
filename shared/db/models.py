"""The schema, as SQLAlchemy 2 mapped classes. Migrations (shared/db/migrations) create it.

Each table has one owner, the only package whose code writes it (named next to `__tablename__`; the map in
shared/db/roles.py, which grants each service's PostgreSQL role its writes; the table in docs/architecture.md;
tests/test_architecture.py checks it). Others read it."""

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
    column,
    func,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.kernel.states import BatchState, Layout, PhaseState, VersionState, WorkflowKind, WorkflowTrigger


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB, uuid.UUID: UUID(as_uuid=True)}


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class HospitalGroup(Base):
    __tablename__ = "hospital_groups"  # owner: ods_importer
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Hospital(Base):
    __tablename__ = "hospitals"  # owner: ods_importer
    __table_args__ = (UniqueConstraint("group_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id"))
    name: Mapped[str] = mapped_column(String(100))


class Person(Base):
    __tablename__ = "people"  # owner: amion_scraper
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    specialty: Mapped[str] = mapped_column(String(20))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ScheduleVersion(Base):
    __tablename__ = "schedule_versions"  # owner: ods_importer
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id"))
    workflow_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    template_name: Mapped[str] = mapped_column(String(300))
    template_sha256: Mapped[str] = mapped_column(String(64))
    layout: Mapped[str] = mapped_column(String(10), default=Layout.TEMPLATE, server_default=Layout.TEMPLATE.value)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = _now()


class VersionLifecycle(Base):
    """A version's lifecycle state and soft deletion. A version without a row is STAGING and not deleted."""

    __tablename__ = "version_lifecycle"  # owner: versions
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(20), default=VersionState.STAGING)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TemplateWindow(Base):
    __tablename__ = "template_windows"  # owner: ods_importer
    __table_args__ = (UniqueConstraint("version_id", "sheet"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    sheet: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(10))
    day_type: Mapped[str | None] = mapped_column(String(10))
    variant: Mapped[str | None] = mapped_column(String(10))
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class TemplateResponsibility(Base):
    __tablename__ = "template_responsibilities"  # owner: ods_importer
    __table_args__ = (UniqueConstraint("window_id", "worklist"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("template_windows.id", ondelete="CASCADE"))
    worklist: Mapped[str] = mapped_column(String(200))
    hospital: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))


class ShiftInstance(Base):
    __tablename__ = "shift_instances"  # owner: ods_importer
    __table_args__ = (UniqueConstraint("version_id", "schedule_date", "window_id", "role"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("template_windows.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(30))
    hospital: Mapped[str | None] = mapped_column(String(100))  # flat layout only
    study_type: Mapped[str | None] = mapped_column(String(100))  # flat layout only
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    desired_coverage: Mapped[int] = mapped_column(Integer, default=1)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)
    specialty_constraint: Mapped[str | None] = mapped_column(String(20))


class ScrapeBatch(Base):
    __tablename__ = "scrape_batches"  # owner: amion_scraper
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    workflow_id: Mapped[uuid.UUID]
    account: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default=BatchState.PENDING)
    months: Mapped[dict[str, Any]] = mapped_column(default=dict)  # "2026-01" -> outcome
    findings: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AmionPage(Base):
    """Every page fetched from Amion, kept for audit and replay. The URL never holds the password."""

    __tablename__ = "amion_pages"  # owner: amion_scraper
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scrape_batches.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)


class Assignment(Base):
    __tablename__ = "assignments"  # owner: amion_scraper
    __table_args__ = (Index("ix_assignments_version_date", "version_id", "schedule_date"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    source: Mapped[str] = mapped_column(String(10))  # AssignmentSource.AMION (corrections: their own table)
    scrape_batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("scrape_batches.id"))
    label: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # the hours Amion gives the assignment; None for manual ones and rows without hours (the window's apply)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()


class AssignmentCorrection(Base):
    """An operator's correction of a version's assignments (`schedcu assignments add|remove`): a person added
    (`source` MANUAL or OVERRIDE, the reason in `note`), or one Amion assignment hidden (`hides_assignment_id`;
    a later scrape stores new Amion rows, so the hidden person comes back if Amion still has them)."""

    __tablename__ = "assignment_corrections"  # owner: coverage
    __table_args__ = (
        Index("ix_assignment_corrections_version_date", "version_id", "schedule_date"),
        CheckConstraint("(source IS NULL) <> (hides_assignment_id IS NULL)", name="ck_assignment_corrections_kind"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    source: Mapped[str | None] = mapped_column(String(10))  # MANUAL | OVERRIDE; None for a hidden assignment
    hides_assignment_id: Mapped[int | None] = mapped_column(BigInteger)  # an `assignments` row (Amion's)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class CoverageCalculation(Base):
    __tablename__ = "coverage_calculations"  # owner: coverage
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    summary: Mapped[dict[str, Any]]
    findings: Mapped[list[Any]] = mapped_column(default=list)
    scrape_batch_id: Mapped[uuid.UUID | None]  # the scrape batch whose AMION assignments it used
    created_at: Mapped[datetime] = _now()
    date_keys: Mapped[dict[str, Any] | None]  # ISO date -> fingerprint of that date's inputs (recalc only changes)
    inputs_key: Mapped[str | None] = mapped_column(String(64))  # fingerprint of the inputs every date shares
    previous_id: Mapped[uuid.UUID | None]  # the version's calculation this one followed


class CoverageCell(Base):
    """The cells a calculation computed: of every date, or of the dates it recomputed. Read a calculation's
    cells through `calculation_cells`, which follows `coverage_cell_dates`."""

    __tablename__ = "coverage_cells"  # owner: coverage
    __table_args__ = (Index("ix_coverage_cells_calculation_date", "calculation_id", "schedule_date"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    calculation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coverage_calculations.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    window: Mapped[str] = mapped_column(String(200))
    worklist: Mapped[str] = mapped_column(String(200))
    hospital: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    people: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(30))
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)


class CoverageCellDate(Base):
    """Each date of a calculation's period and the calculation whose `coverage_cells` hold that date's cells:
    itself for the dates it computed, the previous calculation's source for the dates it kept."""

    __tablename__ = "coverage_cell_dates"  # owner: coverage
    calculation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coverage_calculations.id", ondelete="CASCADE"), primary_key=True
    )
    schedule_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # checked at commit, no cascade: a calculation whose cells later ones read can be deleted only with them
    cells_from: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coverage_calculations.id", deferrable=True, initially="DEFERRED")
    )


# A calculation's cells, every date's (a view, migration 0010): the only way to read them. Within a date the
# cells keep the order a calculation gives them; order by (schedule_date, id).
calculation_cells = table(
    "calculation_cells",
    column("calculation_id", UUID(as_uuid=True)),
    column("id", BigInteger),
    column("schedule_date", Date),
    column("window", String),
    column("worklist", String),
    column("hospital", String),
    column("role", String),
    column("people", JSONB),
    column("status", String),
    column("mandatory", Boolean),
)


OPEN_PROPOSAL_PREDICATE = "state IN ('PROPOSED', 'EDITED')"  # at most one open proposal per role and date


class Proposal(Base):
    """A proposal to fill one gap line, the gaps of one role as written on one date, with one candidate
    (services/coverage/proposals.py). `cells`: the gaps the person fills ({window, worklist, status});
    `open_cells`: those they leave open ({window, worklist, status, reason}). Approving it adds an OVERRIDE
    assignment (`correction_id`, an `assignment_corrections` row); `amion_people` are the people Amion had on
    `assign_role` that date when it was approved."""

    __tablename__ = "proposals"  # owner: coverage
    __table_args__ = (
        Index("ix_proposals_version_date", "version_id", "schedule_date"),
        Index(
            "ux_proposals_open_role", "version_id", "schedule_date", "assign_role", unique=True,
            postgresql_where=text(OPEN_PROPOSAL_PREDICATE),
        ),
    )  # fmt: skip
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(30))  # the line's responsible role
    assign_role: Mapped[str] = mapped_column(String(30))  # the role as written the candidate would take
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the line's span; None before 0015
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cells: Mapped[list[Any]] = mapped_column(default=list)
    open_cells: Mapped[list[Any]] = mapped_column(default=list)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    state: Mapped[str] = mapped_column(String(20))
    correction_id: Mapped[int | None] = mapped_column(BigInteger)
    amion_people: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ProposalHistory(Base):
    """Every step of a proposal: who, when, from which state and candidate to which, and why."""

    __tablename__ = "proposal_history"  # owner: coverage
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    from_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    to_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class DraftGroup(Base):
    """A hospital group's drafting limits (None: no limit): nights per period (scaled by FTE), the longest run
    of nights, free days between two runs, weekends per period."""

    __tablename__ = "draft_groups"  # owner: drafting
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id", ondelete="CASCADE"), primary_key=True)
    nights: Mapped[int | None] = mapped_column(Integer)
    consecutive: Mapped[int | None] = mapped_column(Integer)
    free_between: Mapped[int | None] = mapped_column(Integer)
    weekends: Mapped[int | None] = mapped_column(Integer)


class DraftPerson(Base):
    """A person as a group drafts them: FTE share, active dates (None: open), limits over the group's."""

    __tablename__ = "draft_people"  # owner: drafting
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    fte: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    active_from: Mapped[date | None] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)
    nights: Mapped[int | None] = mapped_column(Integer)
    consecutive: Mapped[int | None] = mapped_column(Integer)
    free_between: Mapped[int | None] = mapped_column(Integer)
    weekends: Mapped[int | None] = mapped_column(Integer)


class DraftRoleHours(Base):
    """A role's hours in a group where they differ from the template's span (`ON 10p-8a`); an end at or before
    the start is on the next day."""

    __tablename__ = "draft_role_hours"  # owner: drafting
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class DraftRotation(Base):
    """A standing rotation: the person holds the role every `weekday` (Monday 0) from `first_date` to
    `last_date`."""

    __tablename__ = "draft_rotations"  # owner: drafting
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    first_date: Mapped[date] = mapped_column(Date)
    last_date: Mapped[date] = mapped_column(Date)


class DraftException(Base):
    """One date's exception to the rotations: another person on the role, or nobody (None)."""

    __tablename__ = "draft_exceptions"  # owner: drafting
    __table_args__ = (UniqueConstraint("group_id", "schedule_date", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class DraftTimeOff(Base):
    """A person's time off, schedule dates `first_date` to `last_date`, in every group."""

    __tablename__ = "draft_time_off"  # owner: drafting
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    first_date: Mapped[date] = mapped_column(Date)
    last_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class DraftRequest(Base):
    """A weighted wish: on (hold a matching role) or off (hold none), for a date, a weekday or the whole period,
    optionally one role."""

    __tablename__ = "draft_requests"  # owner: drafting
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("hospital_groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    wants_on: Mapped[bool] = mapped_column(Boolean)
    weight: Mapped[int] = mapped_column(Integer)
    schedule_date: Mapped[date | None] = mapped_column(Date)
    weekday: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(30))


class DraftRun(Base):
    """One draft of a version: who started it and why, its state (DraftRunState), the roles to fill, filled,
    unfilled and kept, the solver's figures per level, the explanations, the fairness per person, the time taken;
    while it solves, its progress."""

    __tablename__ = "draft_runs"  # owner: drafting
    __table_args__ = (Index("ix_draft_runs_version", "version_id"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_versions.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    time_limit_s: Mapped[float] = mapped_column(Float)
    workers: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    outcome: Mapped[str | None] = mapped_column(String(20))  # OPTIMAL | FEASIBLE | GREEDY
    to_fill: Mapped[int | None] = mapped_column(Integer)
    filled: Mapped[int | None] = mapped_column(Integer)
    unfilled: Mapped[int | None] = mapped_column(Integer)
    kept: Mapped[int | None] = mapped_column(Integer)
    levels: Mapped[list[Any]] = mapped_column(default=list)
    explanations: Mapped[dict[str, Any]] = mapped_column(default=dict)  # unfilled, unhonored, conflicts, dropped
    fairness: Mapped[list[Any]] = mapped_column(default=list)  # per person: nights held and fair share per category
    progress: Mapped[dict[str, Any] | None]  # while it solves: the level, best value, bound, seconds left, at
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")  # DraftRunKind
    # a repair's request (person, dates, gaps, why) and figures (targets, changes, bound, fairness, every move)
    repair: Mapped[dict[str, Any] | None] = mapped_column()


class DraftRowRecord(Base):
    """One drafted assignment of a run (kept assignments stay in the version's own tables). A repair's rows are
    its moves: the person displaced (None: the role was open), the move's position in the chain, the position
    of the move it follows from, and the rule that made it necessary."""

    __tablename__ = "draft_rows"  # owner: drafting
    __table_args__ = (UniqueConstraint("run_id", "schedule_date", "role"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draft_runs.id", ondelete="CASCADE"))
    schedule_date: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(30))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    state: Mapped[str] = mapped_column(String(20))  # DraftRowState
    displaced_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    position: Mapped[int | None] = mapped_column(Integer)
    after_position: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(30))
    because: Mapped[str | None] = mapped_column(Text)


class AuditRecord(Base):
    __tablename__ = "audit_log"  # written only through shared/audit.py
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(50))
    # text: a state, or a dead letter's queue and routing key
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Workflow(Base):
    """Saga state of one import workflow."""

    __tablename__ = "workflows"  # owner: versions
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), unique=True)
    correlation_id: Mapped[str | None] = mapped_column(Text)  # the upstream request's, for every event
    group_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(20), default=WorkflowKind.IMPORT, server_default=WorkflowKind.IMPORT.value)
    trigger: Mapped[str] = mapped_column(
        String(50), default=WorkflowTrigger.REQUEST, server_default=WorkflowTrigger.REQUEST.value
    )
    version_id: Mapped[uuid.UUID | None]
    request: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorkflowPhase(Base):
    __tablename__ = "workflow_phases"  # owner: versions
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    phase: Mapped[str] = mapped_column(String(30), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    critical: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20), default=PhaseState.PENDING)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    attempts_before_retry: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # an operator's retry
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    messages: Mapped[list[Any]] = mapped_column(default=list)


class OutboxMessage(Base):
    __tablename__ = "outbox"  # written only through shared/messaging
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[str] = mapped_column(Text, unique=True)
    correlation_id: Mapped[str] = mapped_column(Text)
    routing_key: Mapped[str] = mapped_column(String(200))
    message_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _now()
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboxMessage(Base):
    __tablename__ = "inbox"  # written only through shared/messaging
    consumer: Mapped[str] = mapped_column(String(50), primary_key=True)
    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[datetime] = _now()
    body_sha256: Mapped[str | None] = mapped_column(String(64))  # None: processed before bodies were hashed


class WorkerHeartbeat(Base):
    """Each running worker process, refreshed every few seconds, so that operators can find them all."""

    __tablename__ = "worker_heartbeats"  # written only through shared/metrics.py
    instance: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    service: Mapped[str] = mapped_column(String(50))
    health_url: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AmionWatch(Base):
    """One hospital group's watch of Amion: paused or not, when its versions were last and will next be
    checked, and when Amion last changed (services/versions/watch.py)."""

    __tablename__ = "amion_watches"  # owner: versions
    group_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    next_check_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_near_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the next 48 hours' check
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_change_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outcome: Mapped[str | None] = mapped_column(String(20))  # WatchOutcome
    last_error: Mapped[str | None] = mapped_column(Text)


class AmionCheckBudget(Base):
    """When the checks the watch has sent to an Amion account end, at the account's politeness: the watch sends
    more only while that is near (services/versions/watch.py)."""

    __tablename__ = "amion_check_budgets"  # owner: versions
    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    busy_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AmionRequestSlot(Base):
    """When the next request to an Amion account may start, shared by every scraper process."""

    __tablename__ = "amion_request_slots"  # owner: amion_scraper
    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
