"""Asking for and deciding a repair run (services/drafting/repairs.py), for the command line and the console: the
operator's side writes across two services in one transaction.

- `request`: a sick call (`schedcu draft repair` and the version page's form): `RepairSchedule` in the outbox of
  the caller's transaction, refused with the reason when the version, the person or the dates do not fit.
- `approve`: every open move of the run or none. Each role-date must still hold what the repair found, else
  the approval is refused with the reason and nothing is applied. Each move becomes an `OVERRIDE` assignment
  through services/coverage/corrections.py (the displaced person's assignment removed: an Amion one hidden),
  audited; the rows become `APPROVED` (audited on the run); and a recalculation is requested in the outbox, whose
  `CoverageChanged` follows.
- `reject`: one move, with a reason; `edit`: another person (an email, a name or an alias) on one move, refused
  with the rule they would break.
  Either way the moves left are re-checked: those that follow from the changed move or now break a hard rule are
  rejected, each with why.
- `add_time_off`: time off entered, and a repair requested (in the outbox, in the same transaction) for every
  production version that assigns the person a role on those dates: a crash after the commit cannot lose it.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.coverage import corrections
from services.coverage.calculation import calculation_id_for
from services.drafting import inputs, repairs
from services.drafting.store import Options, load_problem
from shared.db import version_state
from shared.db.models import DraftRun, ScheduleVersion
from shared.kernel import ids
from shared.kernel.contracts import CalculateCoverage, RepairSchedule
from shared.kernel.states import AssignmentSource, DraftRowState
from shared.messaging import outbox


@dataclass(frozen=True)
class Requested:
    run_id: uuid.UUID
    person: str


def request(
    session: Session, version_id: uuid.UUID, person: str, first: date, last: date | None, actor: str,
    reason: str | None, time_limit_s: float | None = None,
) -> Requested:  # fmt: skip
    """`person` (an email, a name or an alias) unavailable from `first` to `last` (default `first`): the repair's
    `RepairSchedule` in the outbox (the drafting worker's relay publishes it) and its run's id. RepairRefused, nothing
    written, when the version does not exist, nobody is called `person`, or the dates are not within the version's
    period."""
    last = last or first
    version = session.scalar(
        version_state.with_lifecycle(select(ScheduleVersion)).where(
            ScheduleVersion.id == version_id, version_state.not_deleted()
        )
    )
    if version is None:
        raise repairs.RepairRefused(f"Schedule version {version_id} does not exist.")
    who = _person(session, person)
    if last < first:
        raise repairs.RepairRefused(f"The last date {last.isoformat()} comes before the first {first.isoformat()}.")
    if first < version.period_start or last > version.period_end:
        raise repairs.RepairRefused(
            f"{first.isoformat()} .. {last.isoformat()} is not within the version's period "
            f"{version.period_start.isoformat()} .. {version.period_end.isoformat()}."
        )
    message_id = f"repair:{version_id}:{uuid.uuid4()}"
    command = RepairSchedule(
        version_id=version_id, requested_by=actor, reason=reason, person_id=who.id, first=first, last=last,
        time_limit_s=time_limit_s,
    )  # fmt: skip
    outbox.add(session, command, message_id=message_id, correlation_id=message_id)
    return Requested(ids.draft_run_id(message_id), who.name)


@dataclass(frozen=True)
class Approved:
    moves: list[str]
    recalculation_id: uuid.UUID


def approve(session: Session, run_id: uuid.UUID, actor: str) -> Approved:
    found = repairs.approvable(session, run_id)
    version_id = found.run.version_id
    reason = f"repair {run_id} approved"
    applied = []
    for row in found.rows:
        try:
            corrections.add(
                session, version_id, row.schedule_date, row.role, found.emails[row.person_id], reason, actor,
                replace=row.displaced_person_id is not None, source=AssignmentSource.OVERRIDE,
            )  # fmt: skip
        except corrections.CorrectionError as error:
            raise repairs.RepairRefused(f"Refused, nothing applied: {row.because} {error}") from None
        applied.append(row.because or f"{row.role} on {row.schedule_date.isoformat()}")
    repairs.decided(session, found.run, found.rows, DraftRowState.APPROVED, actor, reason)
    message_id = f"repair:{run_id}:recalculate"
    outbox.add(session, CalculateCoverage(version_id=version_id), message_id=message_id, correlation_id=str(version_id))
    return Approved(applied, calculation_id_for(message_id))


@dataclass(frozen=True)
class TimeOffAdded:
    row_id: int
    person: str
    repairs: list[tuple[uuid.UUID, uuid.UUID]]  # (production version, repair run)

    def lines(self) -> list[str]:
        return [f"added time off {self.row_id}"] + [
            f"{self.person} holds roles in production version {version_id} then: repair requested, run {run_id}"
            for version_id, run_id in self.repairs
        ]


def add_time_off(
    session: Session, person: str, first: date, last: date, actor: str, note: str | None, reason: str | None
) -> TimeOffAdded:
    row_id = inputs.add_time_off(session, person, first, last, actor, note, reason)
    who = inputs.find_person(session, person)
    requested = repairs.request_for_time_off(session, row_id, who.id, first, last, actor, note or "time off")
    return TimeOffAdded(row_id, who.name, requested)


def reject(session: Session, run_id: uuid.UUID, position: int, reason: str, actor: str, options: Options) -> list[str]:
    """Why each further move was rejected by the re-check."""
    run = repairs.reject(session, run_id, position, reason, actor)
    return repairs.recheck(session, run, load_problem(session, run.version_id, options), actor, {position: "rejected"})


def edit(session: Session, run_id: uuid.UUID, position: int, person: str, actor: str, options: Options) -> list[str]:
    """`person` (an email, a name or an alias) on the move; the move, then why each further move was rejected by
    the re-check."""
    run = session.get(DraftRun, run_id)
    if run is None:
        raise repairs.RepairRefused(f"No repair run {run_id}.")
    who = _person(session, person)
    problem = load_problem(session, run.version_id, options)
    repairs.edit(session, run_id, position, who.id, problem, actor)
    return [f"move {position} goes to {who.name}", *repairs.recheck(session, run, problem, actor, {position: "edited"})]


def _person(session: Session, person: str) -> inputs.Named:
    """The person named by an email, a name or an alias; refused when nobody is."""
    try:
        return inputs.find_person(session, person)
    except inputs.InputError as error:
        raise repairs.RepairRefused(str(error)) from None
