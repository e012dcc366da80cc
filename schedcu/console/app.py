"""The console's routes. Pages are plain `def` endpoints (Starlette runs them in its thread pool, where the
database sessions and `asyncio.run` of the broker tools belong); actions go through `action`, which checks
the role and the CSRF token before anything is read or done."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import sqlalchemy.exc
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schedcu.console.users import Role, User, authenticate, csrf_key
from schedcu.errors import Mistake, UsageMistake
from services.coverage.proposal_states import OPEN as OPEN_PROPOSAL_STATES
from shared.settings import Settings
from shared.states import ProposalState

if TYPE_CHECKING:
    from schedcu.gap_groups import GapGroup

HERE = Path(__file__).parent
ACT = "act"  # the scope of the operator role: may take actions
READ = "read"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE_S = 12 * 3600
PAGE_SIZE = 50
GAPS_SHOWN = 200
DIFF_ITEMS_SHOWN = 20
READ_ONLY = "your role is read-only: ask an operator to do this"
WORKFLOW_STATES = ["RUNNING", "COMPLETED", "COMPLETED_WITH_WARNINGS", "FAILED"]
PROPOSAL_STATES = [str(s) for s in ProposalState]
OPEN = {str(s) for s in OPEN_PROPOSAL_STATES}

Action = Callable[[Request, FormData, str], Response]


class TokenAuthentication(AuthenticationBackend):
    def __init__(self, users: list[User]) -> None:
        self.users = users

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        user = authenticate(self.users, conn.headers.get("authorization"))
        if user is None:
            raise AuthenticationError("a token is needed")
        scopes = [READ, ACT] if user.role == Role.OPERATOR else [READ]
        return AuthCredentials(scopes), SimpleUser(user.name)


def _unauthorized(_: HTTPConnection, __: Exception) -> Response:
    return PlainTextResponse(
        "401: give your console token (bearer, or basic auth with your user name)",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="schedcu console", charset="UTF-8"'},
    )


class NoFraming:
    """Other sites may not frame the console's pages (a framed confirmation page could be clicked blindly)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = "frame-ancestors 'none'"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Console:
    """The pages and actions, with what they share: settings, templates and the CSRF signer."""

    def __init__(self, settings: Settings, csrf_key: bytes) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=HERE / "templates")
        # the key comes from the users file: open forms survive a restart and work on every replica,
        # until the file changes
        self.csrf = URLSafeTimedSerializer(csrf_key, salt="schedcu-console-csrf")

    # ---- rendering and checks

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        user = request.user.display_name if request.user.is_authenticated else None
        return self.templates.TemplateResponse(
            request,
            name,
            {
                **context,
                "user": user,
                "operator": ACT in request.auth.scopes if user else False,
                "csrf_field": CSRF_FIELD,
                "csrf_token": self.csrf.dumps(user) if user else "",
            },
            status_code=status_code,
        )

    def refuse(self, request: Request, why: str) -> Response:
        return self.render(request, "error.html", 403, title="Forbidden", message=why)

    def not_found(self, request: Request, what: str) -> Response:
        return self.render(request, "error.html", 404, title="Not found", message=what)

    def csrf_valid(self, token: object, user: str) -> bool:
        if not isinstance(token, str) or not token:
            return False
        try:
            return bool(self.csrf.loads(token, max_age=CSRF_MAX_AGE_S) == user)
        except BadSignature:
            return False

    def action(self, work: Action) -> Callable[[Request], Awaitable[Response]]:
        """An action endpoint: the operator role and the form's CSRF token, then `work` in the thread pool."""

        async def endpoint(request: Request) -> Response:
            if ACT not in request.auth.scopes:
                return self.refuse(request, READ_ONLY)
            form = await request.form()
            user = request.user.display_name
            if not self.csrf_valid(form.get(CSRF_FIELD), user):
                return self.refuse(request, "the form has no valid CSRF token: reload the page and try again")
            return await run_in_threadpool(work, request, form, user)

        return endpoint

    # ---- status

    def status_page(self, request: Request) -> Response:
        from schedcu import status
        from shared.db.session import transaction

        with transaction() as session:
            collected = status.collect(session, self.settings)
        return self.render(request, "status.html", status=collected)

    # ---- workflows

    def workflows_page(self, request: Request) -> Response:
        from schedcu.queries.versions import workflow_rows
        from shared.db.session import transaction

        q = request.query_params
        state = q.get("state") or None
        if state is not None and state not in WORKFLOW_STATES:
            raise HTTPException(400, f"no workflow state {state!r}")
        created_from, created_to = _date(q.get("from")), _date(q.get("to"))
        page = max(1, _int(q.get("page"), 1))
        with transaction() as session:
            rows = workflow_rows(
                session, state, PAGE_SIZE + 1, group=q.get("group") or None, request_id=q.get("request") or None,
                created_from=created_from, created_to=created_to, offset=(page - 1) * PAGE_SIZE,
            )  # fmt: skip
        search = {k: v for k, v in q.items() if k != "page" and v}
        return self.render(
            request, "workflows.html", rows=rows[:PAGE_SIZE], page=page, more=len(rows) > PAGE_SIZE,
            search=search, states=WORKFLOW_STATES,
        )  # fmt: skip

    def workflow_page(self, request: Request, notice: str | None = None, refused: str | None = None) -> Response:
        from schedcu.queries.versions import workflow_view
        from shared.db.session import transaction

        workflow_id = request.path_params["id"]
        with transaction() as session:
            view = workflow_view(session, workflow_id)
        if view is None:
            return self.not_found(request, f"no workflow {workflow_id}")
        return self.render(
            request, "workflow.html", 409 if refused else 200, wf=view, notice=notice, refused=refused,
            terminal=view["state"] != "RUNNING",
        )  # fmt: skip

    def retry_workflow(self, request: Request, form: FormData, user: str) -> Response:
        from services.versions import saga
        from services.versions.workflow import Refused

        try:
            phase = saga.retry(request.path_params["id"], user)
        except Refused as error:
            return self.workflow_page(request, refused=str(error))
        return self.workflow_page(request, notice=f"retrying from {phase}")

    def cancel_workflow(self, request: Request, form: FormData, user: str) -> Response:
        from services.versions import saga
        from services.versions.workflow import Refused

        reason = str(form.get("reason") or "").strip() or "no reason given"
        try:
            saga.cancel(request.path_params["id"], user, reason)
        except Refused as error:
            return self.workflow_page(request, refused=str(error))
        return self.workflow_page(request, notice="cancelled")

    # ---- versions

    def versions_page(self, request: Request) -> Response:
        from schedcu.queries.versions import version_rows
        from shared.db.session import transaction
        from shared.states import VersionState

        q = request.query_params
        with transaction() as session:
            rows = version_rows(session, q.get("group") or None, q.get("state") or None)
        return self.render(
            request, "versions.html", rows=rows, search={k: v for k, v in q.items() if v},
            states=[str(s) for s in VersionState],
        )  # fmt: skip

    def version_page(self, request: Request, notice: str | None = None, refused: str | None = None) -> Response:
        from schedcu.coverage_page import heat_map_section
        from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
        from schedcu.queries.versions import version_view
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        with transaction() as session:
            view = version_view(session, version_id)
            calc = latest_calculation(session, version_id) if view else None
            all_cells = cells(session, uuid.UUID(calc["calculation_id"])) if calc else []
            groups = critical_gap_groups(session, version_id, calc["summary"], self.settings) if calc else []
        if view is None:
            return self.not_found(request, f"no schedule version {version_id}")
        heat_map = (
            heat_map_section(calc, all_cells, groups, self.settings.tz, frozenset(self.settings.holidays))
            if calc
            else None
        )
        return self.render(
            request, "version.html", 409 if refused else 200, v=view, heat_map=heat_map, notice=notice,
            refused=refused,
        )  # fmt: skip

    def gaps_page(self, request: Request) -> Response:
        from schedcu.gap_groups import group_gaps
        from schedcu.queries.proposals import proposals
        from services.coverage.calculation import CalculationOptions
        from services.coverage.gaps import gap_report
        from services.coverage.rest import hours_text
        from shared.db.models import ScheduleVersion
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        day = _date(request.query_params.get("date"))
        with transaction() as session:
            if session.get(ScheduleVersion, version_id) is None:
                return self.not_found(request, f"no schedule version {version_id}")
            report = gap_report(session, version_id, CalculationOptions.from_settings(self.settings), day)
            open_proposals = [p for p in proposals(session, version_id) if p["state"] in OPEN]
        groups = group_gaps(report.gaps) if report else []
        return self.render(
            request, "gaps.html", version_id=version_id, report=report, day=day, shown=GAPS_SHOWN,
            lines=[(g, _proposals_of(g, open_proposals)) for g in groups[:GAPS_SHOWN]], groups=groups,
            tz=self.settings.tz, rest=hours_text(report.rest) if report else None,
        )  # fmt: skip

    # ---- proposals and fairness: the functions of `schedcu proposals` and `schedcu fairness`

    def proposals_page(self, request: Request, notice: str | None = None, refused: str | None = None) -> Response:
        from schedcu.queries.proposals import proposals
        from shared.db.models import ScheduleVersion
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        state = request.query_params.get("state") or None
        if state is not None and state not in PROPOSAL_STATES:
            raise HTTPException(400, f"no proposal state {state!r}")
        with transaction() as session:
            if session.get(ScheduleVersion, version_id) is None:
                return self.not_found(request, f"no schedule version {version_id}")
            found = proposals(session, version_id, state)
        return self.render(
            request, "proposals.html", 409 if refused else 200, version_id=version_id, proposals=found, state=state,
            states=PROPOSAL_STATES, notice=notice, refused=refused,
        )  # fmt: skip

    def create_proposals(self, request: Request, form: FormData, user: str) -> Response:
        from services.coverage import proposals
        from services.coverage.calculation import CalculationOptions
        from shared.db.session import transaction

        day = _date(_text(form, "date"))
        try:
            with transaction() as session:
                created = proposals.create(
                    session, request.path_params["id"], CalculationOptions.from_settings(self.settings), user, day
                )
        except proposals.ProposalError as error:
            return self.proposals_page(request, refused=str(error))
        return self.proposals_page(request, notice=created.text())

    def proposal_page(self, request: Request, notice: str | None = None, refused: str | None = None) -> Response:
        from sqlalchemy import select

        from schedcu.queries.proposals import proposal
        from services.coverage import proposals
        from services.coverage.calculation import CalculationOptions
        from shared.db.models import PersonRow, Proposal
        from shared.db.session import transaction

        proposal_id = request.path_params["id"]
        candidates: list[dict[str, Any]] = []
        no_gap = None
        with transaction() as session:
            view = proposal(session, proposal_id)
            if view is None:
                return self.not_found(request, f"no proposal {proposal_id}")
            is_open = view["state"] in OPEN
            if is_open:
                try:
                    gap = proposals.current_gap(
                        session, session.get_one(Proposal, proposal_id), CalculationOptions.from_settings(self.settings)
                    )
                except proposals.ProposalError as error:
                    no_gap = str(error)
                else:
                    emails = {pid: value for pid, value in session.execute(select(PersonRow.id, PersonRow.email))}
                    candidates = [
                        {"email": emails[c.person.id], "name": c.person.name, "nights": c.nights,
                         "weekends": c.weekends, "holidays": c.holidays}
                        for c in gap.candidates
                        if c.person.id != view["person"]["person_id"]
                    ]  # fmt: skip
        return self.render(
            request, "proposal.html", 409 if refused else 200, p=view, open=is_open, candidates=candidates,
            no_gap=no_gap, notice=notice, refused=refused,
        )  # fmt: skip

    def _proposal_step(self, request: Request, step: Callable[[Any, Any], str]) -> Response:
        """`step(session, options)` in one transaction; its text as the notice, a ProposalError as the refusal."""
        from services.coverage import proposals
        from services.coverage.calculation import CalculationOptions
        from shared.db.session import transaction

        try:
            with transaction() as session:
                message = step(session, CalculationOptions.from_settings(self.settings))
        except proposals.ProposalError as error:
            return self.proposal_page(request, refused=str(error))
        return self.proposal_page(request, notice=message)

    def edit_proposal(self, request: Request, form: FormData, user: str) -> Response:
        from services.coverage import proposals

        candidate = _text(form, "candidate")
        if candidate is None:
            return self.proposal_page(request, refused="choose a candidate")

        def step(session: Any, options: Any) -> str:
            proposals.edit(session, request.path_params["id"], candidate, options, user)
            return "edited"

        return self._proposal_step(request, step)

    def approve_proposal(self, request: Request, form: FormData, user: str) -> Response:
        from services.coverage import proposals

        def step(session: Any, options: Any) -> str:
            _, recalculation = proposals.approve(session, request.path_params["id"], options, user)
            return f"approved: assigned as OVERRIDE; recalculation requested: calculation {recalculation}"

        return self._proposal_step(request, step)

    def reject_proposal(self, request: Request, form: FormData, user: str) -> Response:
        from services.coverage import proposals

        def step(session: Any, options: Any) -> str:
            proposals.reject(session, request.path_params["id"], _text(form, "reason") or "", user)
            return "rejected"

        return self._proposal_step(request, step)

    def fairness_page(self, request: Request) -> Response:
        from schedcu.coverage_page import fairness_section
        from services.coverage.calculation import CalculationOptions
        from services.coverage.fairness import fairness_report
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        start, end = _date(request.query_params.get("from")), _date(request.query_params.get("to"))
        with transaction() as session:
            report = fairness_report(session, version_id, CalculationOptions.from_settings(self.settings), start, end)
        if report is None:
            return self.not_found(request, f"no schedule version {version_id}")
        return self.render(
            request, "fairness.html", version_id=version_id, start=report.start, end=report.end,
            section=fairness_section(report.to_dict()),
        )  # fmt: skip

    def _transition(self, request: Request, change: Callable[[Any], str]) -> Response:
        from services.versions.lifecycle import TransitionRefused
        from shared.db.session import transaction

        try:
            with transaction() as session:
                message = change(session)
        except TransitionRefused as refused:
            return self.version_page(request, refused=str(refused))
        return self.version_page(request, notice=message)

    def promote_version(self, request: Request, form: FormData, user: str) -> Response:
        from services.versions import lifecycle

        version_id, force, reason = request.path_params["id"], form.get("force") == "yes", _text(form, "reason")

        def change(session: Any) -> str:
            archived = lifecycle.promote(session, version_id, user, force=force, reason=reason)
            return "promoted to PRODUCTION" + (f"; archived {', '.join(map(str, archived))}" if archived else "")

        return self._transition(request, change)

    def archive_version(self, request: Request, form: FormData, user: str) -> Response:
        from services.versions import lifecycle

        version_id, reason = request.path_params["id"], _text(form, "reason")

        def change(session: Any) -> str:
            lifecycle.archive(session, version_id, user, reason)
            return "archived"

        return self._transition(request, change)

    def diff_page(self, request: Request) -> Response:
        from schedcu.diff import diff
        from schedcu.queries.versions import version_rows
        from shared.db.models import ScheduleVersion
        from shared.db.session import transaction

        a, b = _uuid(request.query_params.get("a")), _uuid(request.query_params.get("b"))
        changes = None
        with transaction() as session:
            versions = version_rows(session)
            if a and b:
                missing = [str(v) for v in (a, b) if session.get(ScheduleVersion, v) is None]
                if missing:
                    return self.not_found(request, f"no schedule version {', '.join(missing)}")
                changes = diff(session, a, b)
        return self.render(
            request, "diff.html", versions=versions, a=str(a or ""), b=str(b or ""), changes=changes,
            shown=DIFF_ITEMS_SHOWN,
        )  # fmt: skip

    # ---- dead letters

    def _queue(self, request: Request) -> Any:
        from schedcu.registries import all_queues
        from shared.messaging import dead_letters

        try:
            return dead_letters.consumer_queue(request.path_params["queue"], all_queues())
        except dead_letters.UnknownQueue as error:
            raise HTTPException(404, str(error)) from None

    def dead_letters_page(self, request: Request, notice: str | None = None) -> Response:
        from schedcu.registries import all_queues
        from shared.messaging import dead_letters

        groups = []
        for queue in all_queues():
            letters = asyncio.run(dead_letters.peek(self.settings.amqp_url, queue, limit=None))
            for reason, same in groupby(sorted(letters, key=lambda x: x.reason), key=lambda x: x.reason):
                grouped = list(same)
                times = sorted(x.at for x in grouped if x.at)
                groups.append(
                    {"queue": queue.consumer, "dead_letter_queue": queue.dead_letter_name, "reason": reason,
                     "letters": grouped, "oldest": times[0] if times else None,
                     "newest": times[-1] if times else None}
                )  # fmt: skip
        return self.render(request, "dead_letters.html", groups=groups, notice=notice)

    def dead_letter_page(self, request: Request) -> Response:
        from shared.messaging import dead_letters

        queue, message_id = self._queue(request), request.query_params.get("id")
        letters = asyncio.run(dead_letters.peek(self.settings.amqp_url, queue, limit=None))
        found = [x for x in letters if message_id and x.message_id == message_id]
        if not found:
            return self.not_found(request, f"no dead letter {message_id} in {queue.dead_letter_name}")
        return self.render(request, "dead_letter.html", queue=queue.consumer, letter=found[0])

    def redrive(self, request: Request, form: FormData, user: str) -> Response:
        from shared.db.session import transaction
        from shared.messaging import dead_letters

        queue, message_id, reason = self._queue(request), _text(form, "message_id"), _text(form, "reason")
        if message_id is None and reason is None:
            raise HTTPException(400, "redrive one message (message_id) or one group (reason)")
        letters = asyncio.run(
            dead_letters.redrive(self.settings.amqp_url, queue, message_id, reason, actor=user, transaction=transaction)
        )
        return self.dead_letters_page(request, notice=f"{len(letters)} redriven from {queue.dead_letter_name}")

    def confirm_discard(self, request: Request) -> Response:
        """The confirmation step of a discard: a page for operators only."""
        if ACT not in request.auth.scopes:
            return self.refuse(request, READ_ONLY)
        queue = self._queue(request)
        message_id, reason = request.query_params.get("message_id"), request.query_params.get("reason")
        if not message_id and not reason:
            raise HTTPException(400, "discard one message (message_id) or one group (reason)")
        return self.render(
            request, "discard.html", queue=queue.consumer, dead_letter_queue=queue.dead_letter_name,
            message_id=message_id, reason=reason,
        )  # fmt: skip

    def discard(self, request: Request, form: FormData, user: str) -> Response:
        from shared.db.session import transaction
        from shared.messaging import dead_letters

        queue, message_id, reason = self._queue(request), _text(form, "message_id"), _text(form, "reason")
        if message_id is None and reason is None:
            raise HTTPException(400, "discard one message (message_id) or one group (reason)")
        if form.get("confirmed") != "yes":
            return self.render(
                request, "discard.html", queue=queue.consumer, dead_letter_queue=queue.dead_letter_name,
                message_id=message_id, reason=reason,
            )  # fmt: skip
        letters = asyncio.run(
            dead_letters.discard(self.settings.amqp_url, queue, message_id, reason, actor=user, transaction=transaction)
        )
        return self.dead_letters_page(request, notice=f"{len(letters)} discarded from {queue.dead_letter_name}")

    # ---- errors

    # ---- exports: the CLI's `schedcu export ...` and `schedcu oncall`, for any signed-in user

    def cells_csv(self, request: Request) -> Response:
        from schedcu.exports import cells_csv
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        with transaction() as session:
            body = cells_csv(session, version_id)
        return _download(body, "text/csv; charset=utf-8", f"cells-{version_id}.csv")

    def coverage_ods(self, request: Request) -> Response:
        from schedcu.exports import coverage_workbook
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        with transaction() as session:
            body = coverage_workbook(session, version_id, self.settings)
        return _download(body, "application/vnd.oasis.opendocument.spreadsheet", f"coverage-{version_id}.ods")

    def calendar(self, request: Request) -> Response:
        from schedcu.exports import calendars
        from shared.db.session import transaction

        with transaction() as session:
            feeds = calendars(session, request.path_params["id"], self.settings, request.path_params["email"])
        return Response(next(iter(feeds.values())), media_type="text/calendar; charset=utf-8")

    def on_call(self, request: Request) -> Response:
        from schedcu.exports import on_call
        from shared.db.session import transaction

        q = request.query_params
        if not q.get("worklist"):
            raise UsageMistake("give the worklist: /oncall?worklist=CPMC CT Body[&at=2026-03-09T22:00-05:00]")
        at = _instant(q.get("at"), self.settings)
        with transaction() as session:
            answer = on_call(session, q["worklist"], at, self.settings, q.get("group") or None)
        return JSONResponse(answer)

    def mistake(self, request: Request, error: Exception) -> Response:
        """An export asked for something that is not there: the CLI's one line, as 400 or 404."""
        status = 400 if isinstance(error, UsageMistake) else 404
        if request.url.path == "/oncall":
            return JSONResponse({"error": str(error)}, status)
        return self.render(request, "error.html", status, title="Not found" if status == 404 else "Bad request",
                           message=str(error))  # fmt: skip

    def http_error(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        title = {404: "Not found", 400: "Bad request"}.get(error.status_code, "Error")
        return self.render(request, "error.html", error.status_code, title=title, message=error.detail)

    def unavailable(self, request: Request, error: Exception) -> Response:
        """PostgreSQL or RabbitMQ cannot be used: the CLI's one line in a banner, never a traceback."""
        from schedcu.cli import explain

        _, message = explain(error)
        return self.render(request, "error.html", 503, title="Unavailable", message=message, banner=True)


def _proposals_of(group: "GapGroup", open_proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open proposals for the cells a gap line leaves uncovered or mismatched."""
    worklists = {*group.uncovered, *group.mismatched}
    return [
        p for p in open_proposals
        if p["date"] == group.schedule_date.isoformat() and p["role"] == group.role and p["window"] in group.windows
        and p["worklist"] in worklists
    ]  # fmt: skip


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a date: use YYYY-MM-DD") from None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a number") from None


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _instant(text: str | None, settings: Settings) -> datetime:
    """`at` as ISO 8601; without an offset, in the configured zone; absent: now."""
    if not text:
        return datetime.now(settings.tz)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageMistake(f"{text!r} is not a time: give ISO 8601, e.g. 2026-03-09T22:00-05:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=settings.tz)


def _uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a version id") from None


def create_app(users: list[User], settings: Settings) -> Starlette:
    console = Console(settings, csrf_key(users))
    act = console.action
    routes = [
        Route("/", lambda _: RedirectResponse("/status", 303)),
        Route("/status", console.status_page),
        Route("/workflows", console.workflows_page),
        Route("/workflows/{id:uuid}", console.workflow_page),
        Route("/workflows/{id:uuid}/retry", act(console.retry_workflow), methods=["POST"]),
        Route("/workflows/{id:uuid}/cancel", act(console.cancel_workflow), methods=["POST"]),
        Route("/versions", console.versions_page),
        Route("/versions/diff", console.diff_page),
        Route("/versions/{id:uuid}", console.version_page),
        Route("/versions/{id:uuid}/gaps", console.gaps_page),
        Route("/versions/{id:uuid}/cells.csv", console.cells_csv),
        Route("/versions/{id:uuid}/coverage.ods", console.coverage_ods),
        Route("/versions/{id:uuid}/calendars/{email}.ics", console.calendar),
        Route("/oncall", console.on_call),
        Route("/versions/{id:uuid}/promote", act(console.promote_version), methods=["POST"]),
        Route("/versions/{id:uuid}/proposals", console.proposals_page),
        Route("/versions/{id:uuid}/proposals", act(console.create_proposals), methods=["POST"]),
        Route("/versions/{id:uuid}/fairness", console.fairness_page),
        Route("/proposals/{id:uuid}", console.proposal_page),
        Route("/proposals/{id:uuid}/edit", act(console.edit_proposal), methods=["POST"]),
        Route("/proposals/{id:uuid}/approve", act(console.approve_proposal), methods=["POST"]),
        Route("/proposals/{id:uuid}/reject", act(console.reject_proposal), methods=["POST"]),
        Route("/versions/{id:uuid}/archive", act(console.archive_version), methods=["POST"]),
        Route("/dead-letters", console.dead_letters_page),
        Route("/dead-letters/{queue}/message", console.dead_letter_page),
        Route("/dead-letters/{queue}/redrive", act(console.redrive), methods=["POST"]),
        Route("/dead-letters/{queue}/discard", console.confirm_discard, methods=["GET"]),
        Route("/dead-letters/{queue}/discard", act(console.discard), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(NoFraming),
            Middleware(AuthenticationMiddleware, backend=TokenAuthentication(users), on_error=_unauthorized),
        ],
        exception_handlers={
            HTTPException: console.http_error,
            Mistake: console.mistake,
            sqlalchemy.exc.OperationalError: console.unavailable,
            aio_pika.exceptions.AMQPConnectionError: console.unavailable,
            ConnectionError: console.unavailable,
        },
    )
