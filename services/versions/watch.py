"""Watching Amion: each hospital group's PRODUCTION versions (and STAGING ones with `watch_staging`) are
checked against Amion on a schedule, and a change starts a re-scrape workflow.

Design:
- `amion_watches` (this service's table) holds one row per watched group: paused or not, the next check
  (every `watch_interval_s`, moved by up to `watch_jitter_s` either way so groups spread out), the last check,
  its outcome, and the last change. A group gets its row the first time it has a version to watch; its first
  check comes one interval later (the version was just scraped).
- The near-term watch: each group also has a next near-term check (every `watch_near_interval_s`, moved by up to
  `watch_near_jitter_s`): it compares only the dates of the next `watch_near_hours`, one small Amion request
  (the report's `Day` and `Days`). A full check covers those dates too, so a group due for both gets the full one.
- `tick` (a periodic job of the versions worker, every `watch_tick_s`) takes the groups due and not paused,
  sends one `CheckAmion` per Amion account to amion_scraper, listing each watched version of those groups with
  what to compare (the months of its period from today's on, or its near-term dates; a version with a running
  workflow is left to it), and moves the next checks on, in one transaction. It keeps to each Amion account's
  request budget: `amion_check_budgets` holds when the checks already sent to the account end at its
  politeness, and a group is sent only while that is at most `watch_backlog_s` away, near-term checks first,
  then the longest due; the others stay due for a later tick. So near-term checks never wait behind a queue of
  full ones, and no account is sent more than it can answer (the scraper's politeness,
  services/amion_scraper/rate_limit.py, spaces the requests themselves).
- The scraper fetches under the account's politeness, compares Amion's content with the pages of the version's
  applied scrape batch and answers `AmionChecked`; it writes nothing.
- `on_amion_checked` records the time and outcome of each group's check (one statement for the account's
  unchanged groups): when Amion is unchanged that is the only write. CHANGED starts a RESCRAPE workflow
  (services/versions/starts.py `start_rescrape`, trigger `watch`): the scrape and coverage phases, fenced and timed
  like an import's; its coverage publishes `CoverageChanged`. A near-term change starts the same re-scrape.
- Operators pause and resume a group (`schedcu watch pause|resume`), audited.
"""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.versions.coordinator import CONSUMER
from services.versions.starts import start_rescrape
from shared import audit
from shared.db import version_state
from shared.db.models import AmionCheckBudget, AmionWatch, HospitalGroup, ScheduleVersion, Workflow
from shared.db.session import transaction
from shared.kernel.contracts import AmionChecked, CheckAmion, DateSpan, VersionCheck, VersionChecked
from shared.kernel.states import VersionState, WatchOutcome, WorkflowState
from shared.messaging import outbox
from shared.messaging.consumer import Delivery
from shared.messaging.unit_of_work import unit_of_work
from shared.settings import Settings

log = logging.getLogger(__name__)


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


def near_span(start: date, end: date, now: datetime, settings: Settings) -> DateSpan | None:
    """The dates of `start..end` within the next `watch_near_hours` (local dates, from today's); None when none."""
    if settings.watch_near_hours <= 0:
        return None
    first = max(start, now.astimezone(settings.tz).date())
    last = min(end, (now + timedelta(hours=settings.watch_near_hours)).astimezone(settings.tz).date())
    return DateSpan(start=first, days=(last - first).days + 1) if first <= last else None


@dataclass(frozen=True)
class Check:
    """One CheckAmion to send, and how many Amion requests it costs its account."""

    target: Target
    months: list[date]
    near: DateSpan | None
    requests: int


def requests_of(target: Target, months: list[date], near: DateSpan | None, settings: Settings) -> int:
    """What a check costs Amion: a near-term check one request of the report (the grid: the months that hold its
    dates), a full check one request per month."""
    account = settings.amion_accounts.get(target.amion_account)
    if near is None:
        return len(months)
    if account is None or account.source == "report":
        return 1
    return len({near.start.replace(day=1), near.end.replace(day=1)})


def requests_per_s(account: str, settings: Settings) -> float:
    known = settings.amion_accounts.get(account)
    return known.requests_per_s if known is not None else 1.0


def schedule(
    due: list[tuple[int, datetime, list[Check]]], busy_until: dict[str, datetime], now: datetime, settings: Settings
) -> list[list[Check]]:
    """The groups' checks to send now, within each account's request budget. `due` holds each due group's checks
    with its rank (0: near-term, 1: full) and since when it is due; near-term ones go first, then the longest
    due. A group is sent while every account it asks is busy (with the checks sent before, at its politeness)
    for at most `watch_backlog_s`; the others stay due. Moves `busy_until` on."""
    sent = []
    for _, _, checks in sorted(due, key=lambda d: (d[0], d[1])):
        accounts = {c.target.amion_account for c in checks}
        if any((busy_until.get(a, now) - now).total_seconds() > settings.watch_backlog_s for a in accounts):
            continue
        for check in checks:
            account = check.target.amion_account
            seconds = check.requests / requests_per_s(account, settings)
            busy_until[account] = max(busy_until.get(account, now), now) + timedelta(seconds=seconds)
        sent.append(checks)
    return sent


def budget_problems(targets: list[Target], now: datetime, settings: Settings) -> dict[str, str]:
    """Per Amion account whose politeness cannot carry its groups' checks at their intervals, what happens
    instead: the checks queue, and each comes about `demand / budget` times its interval apart."""
    today = now.astimezone(settings.tz).date()
    demand: dict[str, float] = {}
    groups: dict[str, set[str]] = {}
    for target in targets:
        months = months_to_check(target.start, target.end, today)
        per_s = len(months) / settings.watch_interval_s
        if (span := near_span(target.start, target.end, now, settings)) is not None:
            per_s += requests_of(target, months, span, settings) / settings.watch_near_interval_s
        demand[target.amion_account] = demand.get(target.amion_account, 0.0) + per_s
        groups.setdefault(target.amion_account, set()).add(target.group)
    problems = {}
    for account, needed in sorted(demand.items()):
        budget = requests_per_s(account, settings)
        if needed > budget:
            stretch = needed / budget
            problems[account] = (
                f"Amion account {account}: {len(groups[account])} groups need {needed:.2f} requests/s, more than "
                f"its politeness of {budget:g}/s: near-term checks come about every "
                f"{settings.watch_near_interval_s * stretch:.0f} s (target {settings.watch_near_interval_s:.0f} s), "
                f"full checks every {settings.watch_interval_s * stretch:.0f} s; spread the groups over more accounts"
            )
    return problems


def tick(settings: Settings, rng: random.Random | None = None) -> int:
    """Send the checks of the groups due, within each account's budget; returns how many groups were sent."""
    rng = rng or random.Random()
    now = _now()
    today = now.astimezone(settings.tz).date()

    def next_full() -> datetime:
        return next_check(now, settings.watch_interval_s, settings.watch_jitter_s, rng)

    def next_near() -> datetime:
        return next_check(now, settings.watch_near_interval_s, settings.watch_near_jitter_s, rng)

    with transaction() as session:
        targets = watched_versions(session, today, settings.watch_staging)
        if not targets:
            return 0
        groups = sorted({t.group for t in targets})
        first_checks = [
            {"group_name": g, "next_check_at": next_full(), "next_near_check_at": next_near()} for g in groups
        ]
        session.execute(
            insert(AmionWatch).values(first_checks).on_conflict_do_nothing(index_elements=[AmionWatch.group_name])
        )
        near_on = settings.watch_near_hours > 0
        is_due = AmionWatch.next_check_at <= now
        if near_on:
            is_due = or_(is_due, AmionWatch.next_near_check_at <= now, AmionWatch.next_near_check_at.is_(None))
        due = session.scalars(
            select(AmionWatch)
            .where(AmionWatch.group_name.in_(groups), AmionWatch.paused.is_(False), is_due)
            .with_for_update(skip_locked=True)
        ).all()
        if not due:
            return 0
        by_group = {w.group_name: w for w in due}
        checked = [t for t in targets if t.group in by_group]
        busy = _busy(session, [t.version_id for t in checked])
        candidates: dict[str, list[Check]] = {g: [] for g in by_group}
        for target in checked:
            if target.version_id in busy:
                continue
            if by_group[target.group].next_check_at <= now:
                months = months_to_check(target.start, target.end, today)
                if months:
                    candidates[target.group].append(Check(target, months, None, len(months)))
            elif (span := near_span(target.start, target.end, now, settings)) is not None:
                candidates[target.group].append(Check(target, [], span, requests_of(target, [], span, settings)))
        accounts = sorted({c.target.amion_account for checks in candidates.values() for c in checks})
        budgets = {
            b.account: b
            for b in session.scalars(
                select(AmionCheckBudget).where(AmionCheckBudget.account.in_(accounts)).with_for_update()
            )
        }
        busy_until = {a: b.busy_until for a, b in budgets.items()}
        due_list = [
            (
                0 if w.next_check_at > now else 1,
                w.next_check_at if w.next_check_at <= now else w.next_near_check_at or now,
                candidates[w.group_name],
            )
            for w in due
        ]
        sent = schedule(due_list, busy_until, now, settings)
        sent_groups = {checks[0].target.group for checks in sent if checks}
        by_account: dict[str, list[VersionCheck]] = {}
        for check in (c for checks in sent for c in checks):
            t = check.target
            by_account.setdefault(t.amion_account, []).append(
                VersionCheck(group=t.group, version_id=t.version_id, months=check.months, near=check.near)
            )
        for account, versions in sorted(by_account.items()):
            check_id = f"{account}:{now.isoformat()}"
            outbox.add(
                session,
                CheckAmion(check_id=check_id, amion_account=account, versions=versions),
                message_id=f"watch:{check_id}",
                correlation_id=f"watch:{account}",
            )
        if busy_until != {a: b.busy_until for a, b in budgets.items()}:
            upsert = insert(AmionCheckBudget).values([{"account": a, "busy_until": t} for a, t in busy_until.items()])
            session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[AmionCheckBudget.account], set_={"busy_until": upsert.excluded.busy_until}
                )
            )
        for watch in due:
            if watch.group_name not in sent_groups and candidates[watch.group_name]:
                continue  # stays due: its account's budget is spent for now
            if watch.next_check_at <= now:
                watch.next_check_at = next_full()
            watch.next_near_check_at = next_near()
        return len(sent_groups)


def _group_outcomes(event: AmionChecked) -> dict[str, VersionChecked]:
    """Each group's outcome: of its versions' results, a change first, then a failure."""
    rank = {WatchOutcome.CHANGED: 0, WatchOutcome.FAILED: 1, WatchOutcome.UNCHANGED: 2}
    outcomes: dict[str, VersionChecked] = {}
    for result in event.results:
        kept = outcomes.get(result.group)
        if kept is None or rank[result.outcome] < rank[kept.outcome]:
            outcomes[result.group] = result
    return outcomes


def on_amion_checked(event: AmionChecked, delivery: Delivery, settings: Settings) -> None:
    """The time and outcome of each group's check, in one statement; a change starts a re-scrape of the version."""
    with unit_of_work(CONSUMER, delivery) as work:
        if work.skipped:
            return
        now = _now()
        outcomes = _group_outcomes(event)
        rows = [
            {"group_name": group, "last_check_at": now, "last_outcome": r.outcome, "last_error": r.reason,
             **({"last_change_at": now} if r.outcome is WatchOutcome.CHANGED else {})}
            for group, r in outcomes.items()
        ]  # fmt: skip
        unchanged = [r for r in rows if "last_change_at" not in r]
        if unchanged:
            work.session.execute(update(AmionWatch), unchanged)
        changed = [r for r in event.results if r.outcome is WatchOutcome.CHANGED]
        if not changed:
            return
        work.session.execute(update(AmionWatch), [r for r in rows if "last_change_at" in r])
        busy = _busy(work.session, [r.version_id for r in changed])
        for result in changed:
            if result.version_id in busy:
                log.info("Amion changed for version %s, which a running workflow already handles", result.version_id)
                continue
            import_workflow_id = work.session.scalar(
                select(ScheduleVersion.workflow_id).where(ScheduleVersion.id == result.version_id)
            )
            if import_workflow_id is None:
                continue
            kind = "near" if result.near else "full"
            workflow_id = start_rescrape(
                work.session,
                result.version_id,
                import_workflow_id,
                f"{event.check_id}:{kind}:{result.version_id}",
                settings,
            )
            log.info("Amion changed (%s) for version %s: re-scrape workflow %s",
                     ", ".join(result.changed_months), result.version_id, workflow_id)  # fmt: skip


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
