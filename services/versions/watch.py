"""Watching Amion: each hospital group's PRODUCTION versions (and STAGING ones with `watch_staging`) are
checked against Amion on a schedule, and a change starts a re-scrape workflow.

Design:
- `amion_watches` (this service's table) holds one row per watched group: paused or not, the next check
  (every `watch_interval_s`, moved by up to `watch_jitter_s` either way so groups spread out), the last check,
  its outcome, and the last change. A group gets its row the first time it has a version to watch; its first
  check comes one interval later (the version was just scraped).
- `tick` (a periodic job of the versions worker, every `watch_tick_s`) takes the groups due and not paused,
  sends one `CheckAmion` per watched version to amion_scraper (only the months of the version's period from
  today's on; a version with a running workflow is left to it) and moves the next check on, in one transaction.
- The scraper fetches those months under the account's politeness, compares Amion's content month by month
  with the pages of the version's applied scrape batch and answers `AmionChecked`; it writes nothing.
- `on_amion_checked` records the time and outcome of the check: when Amion is unchanged that is the only
  write. CHANGED starts a RESCRAPE workflow (services/versions/saga.py `start_rescrape`, trigger `watch`): the
  scrape and coverage phases, fenced and timed like an import's; its coverage publishes `CoverageChanged`.
- Operators pause and resume a group (`schedcu watch pause|resume`), audited.
"""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions.saga import start_rescrape
from shared import audit
from shared.contracts import AmionChecked, CheckAmion
from shared.db import version_state
from shared.db.models import AmionWatch, HospitalGroup, ScheduleVersion, Workflow
from shared.db.session import transaction
from shared.messaging import outbox
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import unit_of_work
from shared.settings import Settings, get_settings
from shared.states import VersionState, WatchOutcome, WorkflowState

log = logging.getLogger(__name__)

CONSUMER = "versions"


class UnknownGroup(Exception):
    """No watch for that group: it has no version to watch."""


@dataclass(frozen=True)
class Target:
    """A version to check: its group, period, the import workflow that built it and its Amion account."""

    group: str
    version_id: uuid.UUID
    start: date
    end: date
    import_workflow_id: uuid.UUID
    amion_account: str


def _now() -> datetime:
    return datetime.now(UTC)


def next_check(now: datetime, interval_s: float, jitter_s: float, rng: random.Random) -> datetime:
    """`interval_s` from now, moved by up to `jitter_s` either way, never sooner than a tenth of the interval."""
    seconds = max(interval_s / 10, interval_s + rng.uniform(-jitter_s, jitter_s))
    return now + timedelta(seconds=seconds)


def months_to_check(start: date, end: date, today: date) -> list[date]:
    """The first day of each month of `start..end` from today's month on (none when the period is over)."""
    if max(start, today) > end:
        return []
    first = max(start, today).replace(day=1)
    months: list[date] = []
    while first <= end:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def watched_versions(session: Session, today: date, staging: bool) -> list[Target]:
    """The versions to watch: PRODUCTION (and STAGING when `staging`), not deleted, not over before today."""
    states = [VersionState.PRODUCTION.value] + ([VersionState.STAGING.value] if staging else [])
    query = version_state.with_lifecycle(
        select(
            HospitalGroup.name,
            ScheduleVersion.id,
            ScheduleVersion.period_start,
            ScheduleVersion.period_end,
            Workflow.id,
            Workflow.request["amion_account"].astext,
        )
        .join(HospitalGroup, HospitalGroup.id == ScheduleVersion.group_id)
        .join(Workflow, Workflow.id == ScheduleVersion.workflow_id)
    ).where(version_state.state().in_(states), version_state.not_deleted(), ScheduleVersion.period_end >= today)
    return [Target(*row) for row in session.execute(query.order_by(HospitalGroup.name, ScheduleVersion.period_start))]


def _busy(session: Session, version_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The versions with a running workflow (an import or a re-scrape): the watch leaves them to it."""
    if not version_ids:
        return set()
    found = session.scalars(
        select(Workflow.version_id).where(Workflow.version_id.in_(version_ids), Workflow.state == WorkflowState.RUNNING)
    )
    return {v for v in found if v is not None}


def tick(settings: Settings | None = None, rng: random.Random | None = None) -> int:
    """Send the checks of every group due; returns how many groups were due."""
    settings = settings or get_settings()
    rng = rng or random.Random()
    now = _now()
    today = now.astimezone(settings.tz).date()
    with transaction() as session:
        targets = watched_versions(session, today, settings.watch_staging)
        if not targets:
            return 0
        groups = sorted({t.group for t in targets})
        first_checks = [
            {"group_name": g, "next_check_at": next_check(now, settings.watch_interval_s, settings.watch_jitter_s, rng)}
            for g in groups
        ]
        session.execute(
            insert(AmionWatch).values(first_checks).on_conflict_do_nothing(index_elements=[AmionWatch.group_name])
        )
        due = session.scalars(
            select(AmionWatch)
            .where(AmionWatch.group_name.in_(groups), AmionWatch.paused.is_(False), AmionWatch.next_check_at <= now)
            .with_for_update(skip_locked=True)
        ).all()
        if not due:
            return 0
        due_groups = {w.group_name for w in due}
        checked = [t for t in targets if t.group in due_groups]
        busy = _busy(session, [t.version_id for t in checked])
        for target in checked:
            months = months_to_check(target.start, target.end, today)
            if target.version_id in busy or not months:
                continue
            check_id = f"{target.group}:{now.isoformat()}"
            outbox.add(
                session,
                CheckAmion(check_id=check_id, group=target.group, version_id=target.version_id,
                           amion_account=target.amion_account, months=months),
                message_id=f"watch:{check_id}:{target.version_id}",
                correlation_id=f"watch:{target.group}",
            )  # fmt: skip
        for watch in due:
            watch.next_check_at = next_check(now, settings.watch_interval_s, settings.watch_jitter_s, rng)
        return len(due)


def on_amion_checked(event: AmionChecked, delivery: Delivery) -> None:
    """The time and outcome of the check; a change starts a re-scrape of the version."""
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        now = _now()
        values: dict[str, object] = {"last_check_at": now, "last_outcome": event.outcome, "last_error": event.reason}
        if event.outcome is WatchOutcome.CHANGED:
            values["last_change_at"] = now
        work.session.execute(update(AmionWatch).where(AmionWatch.group_name == event.group).values(**values))
        if event.outcome is not WatchOutcome.CHANGED:
            return
        if _busy(work.session, [event.version_id]):
            log.info("Amion changed for version %s, which a running workflow already handles", event.version_id)
            return
        import_workflow_id = work.session.scalar(
            select(ScheduleVersion.workflow_id).where(ScheduleVersion.id == event.version_id)
        )
        if import_workflow_id is None:
            return
        workflow_id = start_rescrape(
            work.session, event.version_id, import_workflow_id, f"{event.check_id}:{event.version_id}"
        )
        log.info("Amion changed (%s) for version %s: re-scrape workflow %s",
                 ", ".join(event.changed_months), event.version_id, workflow_id)  # fmt: skip


def set_paused(session: Session, group: str, paused: bool, actor: str, reason: str | None) -> bool:
    """Pause or resume a group's watch, audited; False when it already was so. Raises UnknownGroup."""
    watch = session.scalars(select(AmionWatch).where(AmionWatch.group_name == group).with_for_update()).first()
    if watch is None:
        raise UnknownGroup(f"no watch for group {group!r}: it has no version being watched")
    if watch.paused == paused:
        return False
    before, after = ("RUNNING", "PAUSED") if paused else ("PAUSED", "RUNNING")
    watch.paused = paused
    audit.record(
        session, actor=actor, entity="amion_watch", entity_id=group, action="pause" if paused else "resume",
        from_state=before, to_state=after, reason=reason, details={},
    )  # fmt: skip
    return True
