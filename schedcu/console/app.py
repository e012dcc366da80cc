"""The console's pages and actions (the route table is `routes.py`). Pages are plain `def` endpoints (Starlette
runs them in its thread pool, where the database sessions and `asyncio.run` of the broker tools belong), their
query string parsed by `page` into the route's model (`params.py`); actions go through `action`, which checks the
role, the CSRF token and the form before anything is read or done, and answer with a redirect to the page that
shows the outcome (Post/Redirect/Get: the outcome travels in a signed cookie read once)."""

import asyncio
import dataclasses
import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

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
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schedcu.console import params, throttle
from schedcu.console.http import SECURITY_HEADERS
from schedcu.console.params import Params
from schedcu.console.redaction import redact_secrets
from schedcu.console.throttle import SignInThrottle
from schedcu.console.users import Role, User, UsersFileError, WatchedUsers, authenticate, credentials, csrf_key
from schedcu.errors import UsageMistake
from services.coverage.proposal_states import OPEN as OPEN_PROPOSAL_STATES
from shared.kernel.states import Phase, PhaseState, ProposalState, WorkflowKind, WorkflowState
from shared.settings import Settings

if TYPE_CHECKING:
    from services.coverage.gap_lines import GapGroup

HERE = Path(__file__).parent
ACT = "act"  # the scope of the operator role: may take actions
READ = "read"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE_S = 12 * 3600
OUTCOME_COOKIE = "schedcu_outcome"
OUTCOME_MAX_AGE_S = 60
PAGE_SIZE = 50
GAPS_SHOWN = 200
DIFF_ITEMS_SHOWN = 100
READ_ONLY = "your role is read-only: ask an operator to do this"
WORKFLOW_STATES = [str(s) for s in WorkflowState]
PROPOSAL_STATES = [str(s) for s in ProposalState]
OPEN = {str(s) for s in OPEN_PROPOSAL_STATES}
JSON_PATHS = frozenset({"/oncall"})  # routes that answer JSON, errors included

P = TypeVar("P", bound=Params)
Action = Callable[[Request, Any, str], Response]


class ConsoleUser(SimpleUser):
    """A signed-in user with the signers of their forms and of the outcomes of their actions."""

    def __init__(self, user: User) -> None:
        super().__init__(user.name)
        self.csrf = URLSafeTimedSerializer(csrf_key(user), salt="schedcu-console-csrf")
        self.outcome = URLSafeTimedSerializer(csrf_key(user), salt="schedcu-console-outcome")


class UsersUnavailable(AuthenticationError):
    """The users file cannot be read or is wrong: nobody can be checked."""


class Throttled(AuthenticationError):
    """Too many failed sign-ins from this address or for this user: 429 until `retry_after_s` has passed."""

    def __init__(self, who: str, retry_after_s: float) -> None:
        super().__init__(who)
        self.who = who
        self.retry_after_s = math.ceil(retry_after_s)


class TokenAuthentication(AuthenticationBackend):
    """The request's user, by the users file as it is now (read again whenever it changes). A wrong token counts
    against its address and the user name it gives (`throttle.py`)."""

    def __init__(self, users: WatchedUsers) -> None:
        self.users = users
        self.throttle = SignInThrottle()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        try:
            users = self.users.users()
        except UsersFileError as error:
            raise UsersUnavailable(str(error)) from None
        authorization = conn.headers.get("authorization")
        given = credentials(authorization)
        counted = throttle.keys(conn.client.host if conn.client else None, given[0] if given else None)
        throttled = self.throttle.retry_after(counted) if authorization else None
        if throttled is not None:
            raise Throttled(*throttled)
        user = authenticate(users, authorization)
        if user is None:
            if authorization:
                self.throttle.failed(counted)
            raise AuthenticationError("a token is needed")
        scopes = [READ, ACT] if user.role == Role.OPERATOR else [READ]
        return AuthCredentials(scopes), ConsoleUser(user)


def unauthorized(conn: HTTPConnection, error: Exception) -> Response:
    if isinstance(error, UsersUnavailable):
        return _plain(conn, f"{error}; nobody can sign in until it is fixed", 503)
    if isinstance(error, Throttled):
        return _plain(
            conn,
            f"too many failed sign-ins {error.who}: try again in {error.retry_after_s} s",
            429,
            {"Retry-After": str(error.retry_after_s)},
        )
    return _plain(
        conn,
        "give your console token (bearer, or basic auth with your user name)",
        401,
        {"WWW-Authenticate": 'Basic realm="schedcu console", charset="UTF-8"'},
    )


def _plain(conn: HTTPConnection, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """An answer without a page around it (no user to show): JSON on a JSON route, else text."""
    if conn.url.path in JSON_PATHS:
        return JSONResponse({"error": message}, status, headers)
    return PlainTextResponse(f"{status}: {message}", status, headers)


class RefuseControlCharacters:
    """A path or query string with a control character (NUL, escape, a line break...) is refused with 400
    before any page reads it."""

    def __init__(self, app: ASGIApp, console: "Console") -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            texts = [scope["path"], *(text for pair in request.query_params.multi_items() for text in pair)]
            if any(params.URL_CONTROL.search(text) for text in texts):
                message = "control characters (such as NUL or a line break) are not allowed in a URL"
                await self.console.error(request, 400, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """`SECURITY_HEADERS` on every answer: other sites may not frame the pages (a framed confirmation page could
    be clicked blindly), a browser sniffs no type, sends no referrer and stores no page (they show personal
    schedules)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ConsoleApp(Starlette):
    """Starlette whose outermost layer is `SecurityHeaders`: a 500 is answered by Starlette's error middleware,
    which runs outside the middleware an app is given."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


class Console:
    """The pages and actions, with what they share: the settings and the templates (each user carries the signers
    of their forms and outcomes: `ConsoleUser`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=HERE / "templates")

    # ---- rendering and checks

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        """The template with the user, their CSRF token and the outcome of the action that led here, if any."""
        user = request.scope.get("user")
        signed_in = isinstance(user, ConsoleUser)
        outcome = _outcome(request, user) if signed_in else {}
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                **context,
                **outcome,
                "user": user.display_name if signed_in else None,
                "operator": signed_in and ACT in request.auth.scopes,
                "csrf_field": CSRF_FIELD,
                "csrf_token": user.csrf.dumps(user.display_name) if signed_in else "",
            },
            status_code=status_code,
        )
        if OUTCOME_COOKIE in request.cookies:
            response.delete_cookie(OUTCOME_COOKIE, httponly=True, samesite="strict")
        return response

    def error(self, request: Request, status: int, message: str, banner: bool = False) -> Response:
        """An error page, or `{"error": message}` on a JSON route."""
        if request.url.path in JSON_PATHS:
            return JSONResponse({"error": message}, status)
        title = {400: "Bad request", 403: "Forbidden", 404: "Not found", 503: "Unavailable"}.get(status, "Error")
        return self.render(request, "error.html", status, title=title, message=message, banner=banner)

    def refuse(self, request: Request, why: str) -> Response:
        return self.error(request, 403, why)

    def not_found(self, request: Request, what: str) -> Response:
        return self.error(request, 404, what)

    def done(self, request: Request, to: str, notice: str | None = None, refused: str | None = None) -> Response:
        """The answer to an action: 303 to the page `to`, which shows `notice` or `refused` once."""
        response = RedirectResponse(to, 303)
        outcome = request.user.outcome.dumps({"to": to, "notice": notice, "refused": refused})
        response.set_cookie(OUTCOME_COOKIE, outcome, max_age=OUTCOME_MAX_AGE_S, httponly=True, samesite="strict")
        return response

    def csrf_valid(self, token: object, user: ConsoleUser) -> bool:
        if not isinstance(token, str) or not token:
            return False
        try:
            return bool(user.csrf.loads(token, max_age=CSRF_MAX_AGE_S) == user.display_name)
        except BadSignature:
            return False

    def action(self, work: Action, form: type[Params] = params.NoFields) -> Callable[[Request], Awaitable[Response]]:
        """An action endpoint: the operator role, the form's CSRF token, then `work` in the thread pool with the
        form as `form`."""

        async def endpoint(request: Request) -> Response:
            if ACT not in request.auth.scopes:
                return self.refuse(request, READ_ONLY)
            sent = await request.form()
            if not self.csrf_valid(sent.get(CSRF_FIELD), request.user):
                return self.refuse(request, "the form has no valid CSRF token: reload the page and try again")
            fields = params.parse(form, _text_fields(sent))
            return await run_in_threadpool(work, request, fields, request.user.display_name)

        endpoint.form = form  # type: ignore[attr-defined]
        return endpoint

    # ---- status

    def status_page(self, request: Request) -> Response:
        from schedcu.operations import status
        from shared.db.session import transaction

        with transaction() as session:
            collected = status.collect(session, self.settings)
        return self.render(request, "status.html", status=collected)

    # ---- workflows

    def workflows_page(self, request: Request, q: params.WorkflowsQuery) -> Response:
        from schedcu.queries.versions import workflow_rows
        from shared.db.session import transaction

        with transaction() as session:
            rows = workflow_rows(
                session, q.state, PAGE_SIZE + 1, group=q.group, request_id=q.request, created_from=q.created_from,
                created_to=q.created_to, offset=(q.page - 1) * PAGE_SIZE, prefix=True,
            )  # fmt: skip
        search = {k: v for k, v in request.query_params.items() if k != "page" and v}
        return self.render(
            request, "workflows.html", rows=rows[:PAGE_SIZE], page=q.page, more=len(rows) > PAGE_SIZE,
            search=search, states=WORKFLOW_STATES,
        )  # fmt: skip

    def workflow_page(self, request: Request) -> Response:
        from schedcu.queries.versions import workflow_view
        from services.versions.workflow import retry_phase
        from shared.db.session import transaction

        workflow_id = request.path_params["id"]
        with transaction() as session:
            view = workflow_view(session, workflow_id)
        if view is None:
            return self.not_found(request, f"no workflow {workflow_id}")
        phases = {Phase(p["phase"]): PhaseState(p["state"]) for p in view["phases"]}
        return self.render(
            request, "workflow.html", wf=view, running=view["state"] == WorkflowState.RUNNING,
            retry_from=retry_phase(WorkflowKind(view["kind"]), WorkflowState(view["state"]), phases),
        )  # fmt: skip

    def retry_workflow(self, request: Request, form: params.NoFields, user: str) -> Response:
        from services.versions import operator_actions
        from services.versions.workflow import Refused

        to = f"/workflows/{request.path_params['id']}"
        try:
            phase = operator_actions.retry(request.path_params["id"], user, self.settings)
        except Refused as error:
            return self.done(request, to, refused=str(error))
        return self.done(request, to, notice=f"retrying from {phase}")

    def cancel_workflow(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        from services.versions import operator_actions
        from services.versions.workflow import Refused

        to = f"/workflows/{request.path_params['id']}"
        if form.reason is None:
            return self.done(request, to, refused="give the reason for the cancel: it is recorded with the workflow")
        try:
            operator_actions.cancel(request.path_params["id"], user, form.reason, self.settings)
        except Refused as error:
            return self.done(request, to, refused=str(error))
        return self.done(request, to, notice="cancelled")

    # ---- versions

    def versions_page(self, request: Request, q: params.VersionsQuery) -> Response:
        from schedcu.queries.versions import latest_coverage, version_rows
        from shared.db.session import transaction
        from shared.kernel.states import VersionState

        with transaction() as session:
            rows = version_rows(session, q.group, q.state, prefix=True)
            coverage = latest_coverage(session, [r["version_id"] for r in rows])
        return self.render(
            request, "versions.html", rows=rows, coverage=coverage,
            search={k: v for k, v in request.query_params.items() if v}, states=[str(s) for s in VersionState],
        )  # fmt: skip

    def version_page(self, request: Request) -> Response:
        from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
        from schedcu.queries.versions import assigned_people, version_view
        from schedcu.views.coverage_page import heat_map_section
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        with transaction() as session:
            view = version_view(session, version_id)
            calc = latest_calculation(session, version_id) if view else None
            all_cells = cells(session, uuid.UUID(calc["calculation_id"])) if calc else []
            groups = critical_gap_groups(session, version_id, calc["summary"], self.settings) if calc else []
            people = assigned_people(session, version_id) if view else []
        if view is None:
            return self.not_found(request, f"no schedule version {version_id}")
        heat_map = (
            heat_map_section(calc, all_cells, groups, self.settings.tz, frozenset(self.settings.holidays))
            if calc
            else None
        )
        return self.render(request, "version.html", v=view, heat_map=heat_map, people=people)

    def gaps_page(self, request: Request, q: params.GapsQuery) -> Response:
        from schedcu.queries.proposals import proposals
        from services.coverage.calculation import CalculationOptions
        from services.coverage.gap_lines import group_gaps
        from services.coverage.gaps import gap_report
        from services.drafting.repairs import open_targets
        from shared.db.models import ScheduleVersion
        from shared.db.session import transaction
        from shared.kernel.rest import hours_text

        version_id, day = request.path_params["id"], q.date
        with transaction() as session:
            if session.get(ScheduleVersion, version_id) is None:
                return self.not_found(request, f"no schedule version {version_id}")
            report = gap_report(session, version_id, CalculationOptions.from_settings(self.settings), day)
            open_proposals = [p for p in proposals(session, version_id, self.settings.tz) if p["state"] in OPEN]
            repairing = open_targets(session, version_id)
        groups = group_gaps(report.gaps) if report else []
        return self.render(
            request, "gaps.html", version_id=version_id, report=report, day=day, shown=GAPS_SHOWN, repairing=repairing,
            lines=[(g, _proposals_of(g, open_proposals)) for g in groups[:GAPS_SHOWN]], groups=groups,
            tz=self.settings.tz, rest=hours_text(report.rest) if report else None,
        )  # fmt: skip

    # ---- proposals and fairness: the functions of `schedcu proposals` and `schedcu fairness`

    def open_proposals_page(self, request: Request, q: params.OpenProposalsQuery) -> Response:
        from schedcu.queries.proposals import open_proposals
        from shared.db.session import transaction

        with transaction() as session:
            rows = open_proposals(session, q.group, q.person, PAGE_SIZE + 1, (q.page - 1) * PAGE_SIZE)
        search = {k: v for k, v in request.query_params.items() if k != "page" and v}
        return self.render(
            request, "open_proposals.html", rows=rows[:PAGE_SIZE], page=q.page, more=len(rows) > PAGE_SIZE,
            search=search,
        )  # fmt: skip

    def proposals_page(self, request: Request, q: params.VersionProposalsQuery) -> Response:
        from schedcu.queries.proposals import proposals
        from shared.db.models import ScheduleVersion
        from shared.db.session import transaction

        version_id, state = request.path_params["id"], q.state
        with transaction() as session:
            if session.get(ScheduleVersion, version_id) is None:
                return self.not_found(request, f"no schedule version {version_id}")
            found = proposals(session, version_id, self.settings.tz, state)
        return self.render(
            request, "proposals.html", version_id=version_id, proposals=found, state=state, states=PROPOSAL_STATES
        )

    def create_proposals(self, request: Request, form: params.CreateProposalsForm, user: str) -> Response:
        from services.coverage import proposals
        from services.coverage.calculation import CalculationOptions
        from shared.db.session import transaction

        to = f"/versions/{request.path_params['id']}/proposals"
        try:
            with transaction() as session:
                created = proposals.create(
                    session, request.path_params["id"], CalculationOptions.from_settings(self.settings), user, form.date
                )
        except proposals.ProposalError as error:
            return self.done(request, to, refused=str(error))
        return self.done(request, to, notice=created.text())

    def proposal_page(self, request: Request) -> Response:
        from sqlalchemy import select

        from schedcu.queries.proposals import proposal
        from services.coverage import proposals
        from services.coverage.calculation import CalculationOptions
        from shared.db.models import Person, Proposal
        from shared.db.session import transaction

        proposal_id = request.path_params["id"]
        candidates: list[dict[str, Any]] = []
        no_gap = None
        with transaction() as session:
            view = proposal(session, proposal_id, self.settings.tz)
            if view is None:
                return self.not_found(request, f"no proposal {proposal_id}")
            is_open = view["state"] in OPEN
            if is_open:
                try:
                    line = proposals.current_line(
                        session, session.get_one(Proposal, proposal_id), CalculationOptions.from_settings(self.settings)
                    )
                except proposals.ProposalError as error:
                    no_gap = str(error)
                else:
                    emails = {pid: value for pid, value in session.execute(select(Person.id, Person.email))}
                    candidates = [
                        {"email": emails[c.person.id], "name": c.person.name, "fills": c.fills, "gaps": line.gaps,
                         "nights": c.nights, "weekends": c.weekends, "holidays": c.holidays}
                        for c in line.candidates
                        if c.person.id != view["person"]["person_id"]
                    ]  # fmt: skip
        return self.render(request, "proposal.html", p=view, open=is_open, candidates=candidates, no_gap=no_gap)

    def _proposal_step(self, request: Request, step: Callable[[Any, Any], str]) -> Response:
        """`step(session, options)` in one transaction; its text as the notice, a ProposalError as the refusal."""
        from services.coverage import proposals
        from services.coverage.calculation import CalculationOptions
        from shared.db.session import transaction

        to = f"/proposals/{request.path_params['id']}"
        try:
            with transaction() as session:
                message = step(session, CalculationOptions.from_settings(self.settings))
        except proposals.ProposalError as error:
            return self.done(request, to, refused=str(error))
        return self.done(request, to, notice=message)

    def edit_proposal(self, request: Request, form: params.EditProposalForm, user: str) -> Response:
        from services.coverage import proposals

        candidate = form.candidate
        if candidate is None:
            return self.done(request, f"/proposals/{request.path_params['id']}", refused="choose a candidate")

        def step(session: Any, options: Any) -> str:
            proposals.edit(session, request.path_params["id"], candidate, options, user)
            return "edited"

        return self._proposal_step(request, step)

    # ---- repair runs: the functions of `schedcu draft repair-approve|repair-reject|repair-edit`

    def repair_page(self, request: Request) -> Response:
        from services.drafting.runs import run_view
        from shared.db.session import transaction

        run_id = request.path_params["id"]
        with transaction() as session:
            view = run_view(session, run_id)
        if view is None or view["kind"] != "repair":
            return self.not_found(request, f"no repair run {run_id}")
        states = {(row["date"], row["role"]): row["state"] for row in view["rows"]}
        moves = [
            m | {"state": states.get((m["date"], m["role"]), "-")} for m in (view["repair"] or {}).get("moves", [])
        ]
        is_open = any(m["state"] in ("PROPOSED", "EDITED") for m in moves)
        return self.render(request, "repair.html", r=view, moves=moves, open=is_open)

    def _repair_step(self, request: Request, step: Callable[[Any], str]) -> Response:
        """`step(session)` in one transaction; its text as the notice, a RepairRefused as the refusal."""
        from services.drafting.repairs import RepairRefused
        from shared.db.session import transaction

        to = f"/repairs/{request.path_params['id']}"
        try:
            with transaction() as session:
                message = step(session)
        except RepairRefused as error:
            return self.done(request, to, refused=str(error))
        return self.done(request, to, notice=message)

    def approve_repair(self, request: Request, form: params.NoFields, user: str) -> Response:
        from schedcu.operations import repairs

        def step(session: Any) -> str:
            approved = repairs.approve(session, request.path_params["id"], user)
            n, recalculation = len(approved.moves), approved.recalculation_id
            return f"approved {n} move{'s' * (n != 1)}; recalculation requested: calculation {recalculation}"

        return self._repair_step(request, step)

    def reject_repair(self, request: Request, form: params.RejectMoveForm, user: str) -> Response:
        from schedcu.operations import repairs
        from services.drafting.handlers import options_from

        if form.move is None or not form.reason:
            return self.done(
                request, f"/repairs/{request.path_params['id']}", refused="choose a move and give a reason"
            )
        move, reason = form.move, form.reason

        def step(session: Any) -> str:
            why = repairs.reject(session, request.path_params["id"], move, reason, user, options_from(self.settings))
            return "; ".join([f"move {move} rejected", *why])

        return self._repair_step(request, step)

    def edit_repair(self, request: Request, form: params.EditMoveForm, user: str) -> Response:
        from schedcu.operations import repairs
        from services.drafting.handlers import options_from

        if form.move is None or not form.person:
            return self.done(request, f"/repairs/{request.path_params['id']}", refused="choose a move and a person")
        move, person = form.move, form.person

        def step(session: Any) -> str:
            options = options_from(self.settings)
            return "; ".join(repairs.edit(session, request.path_params["id"], move, person, user, options))

        return self._repair_step(request, step)

    def approve_proposal(self, request: Request, form: params.NoFields, user: str) -> Response:
        from services.coverage import proposals

        def step(session: Any, options: Any) -> str:
            _, recalculation = proposals.approve(session, request.path_params["id"], options, user)
            return f"approved: assigned as OVERRIDE; recalculation requested: calculation {recalculation}"

        return self._proposal_step(request, step)

    def reject_proposal(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        from services.coverage import proposals

        def step(session: Any, options: Any) -> str:
            proposals.reject(session, request.path_params["id"], form.reason or "", user)
            return "rejected"

        return self._proposal_step(request, step)

    def fairness_page(self, request: Request, q: params.FairnessQuery) -> Response:
        from schedcu.views.coverage_page import fairness_section
        from services.coverage.calculation import CalculationOptions
        from services.coverage.fairness import OutsidePeriod, fairness_report
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        try:
            with transaction() as session:
                report = fairness_report(
                    session, version_id, CalculationOptions.from_settings(self.settings), q.start, q.end
                )
        except OutsidePeriod as error:
            raise UsageMistake(str(error)) from None
        if report is None:
            return self.not_found(request, f"no schedule version {version_id}")
        return self.render(
            request, "fairness.html", version_id=version_id, start=report.start, end=report.end,
            section=fairness_section(report.to_dict()),
        )  # fmt: skip

    def _transition(self, request: Request, change: Callable[[Any], str]) -> Response:
        from services.versions.lifecycle import TransitionRefused
        from shared.db.session import transaction

        to = f"/versions/{request.path_params['id']}"
        try:
            with transaction() as session:
                message = change(session)
        except TransitionRefused as refused:
            return self.done(request, to, refused=str(refused))
        return self.done(request, to, notice=message)

    def promote_version(self, request: Request, form: params.PromoteForm, user: str) -> Response:
        from services.versions import lifecycle

        version_id, force, reason = request.path_params["id"], form.force == "yes", form.reason

        def change(session: Any) -> str:
            archived = lifecycle.promote(session, version_id, user, force=force, reason=reason)
            return "promoted to PRODUCTION" + (f"; archived {', '.join(map(str, archived))}" if archived else "")

        return self._transition(request, change)

    def archive_version(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        from services.versions import lifecycle

        version_id, reason = request.path_params["id"], form.reason

        def change(session: Any) -> str:
            lifecycle.archive(session, version_id, user, reason)
            return "archived"

        return self._transition(request, change)

    def diff_page(self, request: Request, q: params.DiffQuery) -> Response:
        from schedcu.operations.diff import diff, tables
        from schedcu.queries.versions import version_rows
        from shared.db.models import ScheduleVersion
        from shared.db.session import transaction

        a, b = q.a, q.b
        changes = None
        with transaction() as session:
            versions = version_rows(session)
            if a and b:
                missing = [str(v) for v in (a, b) if session.get(ScheduleVersion, v) is None]
                if missing:
                    return self.not_found(request, f"no schedule version {', '.join(missing)}")
                changes = tables(diff(session, a, b))
        return self.render(
            request, "diff.html", versions=versions, a=str(a or ""), b=str(b or ""), changes=changes,
            shown=DIFF_ITEMS_SHOWN,
        )  # fmt: skip

    # ---- dead letters

    def _queue(self, request: Request) -> Any:
        from schedcu.runtime.registries import all_queues
        from shared.messaging import dead_letters

        try:
            return dead_letters.consumer_queue(request.path_params["queue"], all_queues())
        except dead_letters.UnknownQueue as error:
            raise HTTPException(404, str(error)) from None

    def dead_letters_page(self, request: Request) -> Response:
        from schedcu.runtime.registries import all_queues
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
        return self.render(request, "dead_letters.html", groups=groups)

    def dead_letter_page(self, request: Request, q: params.DeadLetterQuery) -> Response:
        from shared.messaging import dead_letters

        queue, message_id = self._queue(request), q.id
        letters = asyncio.run(dead_letters.peek(self.settings.amqp_url, queue, limit=None))
        found = [x for x in letters if message_id and x.message_id == message_id]
        if not found:
            return self.not_found(request, f"no dead letter {message_id} in {queue.dead_letter_name}")
        letter = found[0]
        if ACT not in request.auth.scopes:
            letter = dataclasses.replace(letter, body_preview=redact_secrets(letter.body_preview))
        return self.render(request, "dead_letter.html", queue=queue.consumer, letter=letter)

    def redrive(self, request: Request, form: params.LettersForm, user: str) -> Response:
        from shared.db.session import transaction
        from shared.messaging import dead_letters

        queue, message_id, reason = self._queue(request), form.message_id, form.reason
        if message_id is None and reason is None:
            raise HTTPException(400, "redrive one message (message_id) or one group (reason)")
        letters = asyncio.run(
            dead_letters.redrive(self.settings.amqp_url, queue, message_id, reason, actor=user, transaction=transaction)
        )
        return self.done(request, "/dead-letters", notice=f"{len(letters)} redriven from {queue.dead_letter_name}")

    def confirm_discard(self, request: Request, q: params.DiscardQuery) -> Response:
        """The confirmation step of a discard: a page for operators only."""
        if ACT not in request.auth.scopes:
            return self.refuse(request, READ_ONLY)
        queue = self._queue(request)
        message_id, reason = q.message_id, q.reason
        if not message_id and not reason:
            raise HTTPException(400, "discard one message (message_id) or one group (reason)")
        return self.render(
            request, "discard.html", queue=queue.consumer, dead_letter_queue=queue.dead_letter_name,
            message_id=message_id, reason=reason,
        )  # fmt: skip

    def discard(self, request: Request, form: params.LettersForm, user: str) -> Response:
        from shared.db.session import transaction
        from shared.messaging import dead_letters

        queue, message_id, reason = self._queue(request), form.message_id, form.reason
        if message_id is None and reason is None:
            raise HTTPException(400, "discard one message (message_id) or one group (reason)")
        if form.confirmed != "yes":
            which = {"message_id": message_id} if message_id else {"reason": reason}
            return RedirectResponse(f"/dead-letters/{queue.consumer}/discard?{urlencode(which)}", 303)
        letters = asyncio.run(
            dead_letters.discard(self.settings.amqp_url, queue, message_id, reason, actor=user, transaction=transaction)
        )
        return self.done(request, "/dead-letters", notice=f"{len(letters)} discarded from {queue.dead_letter_name}")

    # ---- exports: the CLI's `schedcu export ...` and `schedcu oncall`, for any signed-in user

    def cells_csv(self, request: Request) -> Response:
        from schedcu.operations.exports import cells_csv
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        with transaction() as session:
            body = cells_csv(session, version_id)
        return download(body, "text/csv; charset=utf-8", f"cells-{version_id}.csv")

    def coverage_ods(self, request: Request) -> Response:
        from schedcu.operations.exports import coverage_workbook
        from shared.db.session import transaction

        version_id = request.path_params["id"]
        with transaction() as session:
            body = coverage_workbook(session, version_id, self.settings)
        return download(body, "application/vnd.oasis.opendocument.spreadsheet", f"coverage-{version_id}.ods")

    def calendar(self, request: Request) -> Response:
        from schedcu.operations.exports import calendars
        from shared.db.session import transaction

        with transaction() as session:
            feeds = calendars(session, request.path_params["id"], self.settings, request.path_params["email"])
        return Response(next(iter(feeds.values())), media_type="text/calendar; charset=utf-8")

    def on_call(self, request: Request, q: params.OnCallQuery) -> Response:
        from schedcu.operations.exports import on_call
        from shared.db.session import transaction

        if not q.worklist:
            raise UsageMistake("give the worklist: /oncall?worklist=CPMC CT Body[&at=2026-03-09T22:00-05:00]")
        at = _instant(q.at, self.settings)
        with transaction() as session:
            answer = on_call(session, q.worklist, at, self.settings, q.group)
        return JSONResponse(answer)

    # ---- errors: a page (or JSON on a JSON route) that says what to do, never a bare 500

    def mistake(self, request: Request, error: Exception) -> Response:
        """An export asked for something that is not there: the CLI's one line, as 400 or 404."""
        return self.error(request, 400 if isinstance(error, UsageMistake) else 404, str(error))

    def bad_parameter(self, request: Request, error: Exception) -> Response:
        return self.error(request, 400, str(error))

    def http_error(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return self.error(request, error.status_code, error.detail)

    def unavailable(self, request: Request, error: Exception) -> Response:
        """PostgreSQL or RabbitMQ cannot be used: the CLI's one line in a banner, never a traceback."""
        from schedcu.views.explain import explain

        _, message = explain(error)
        return self.error(request, 503, message, banner=True)

    def failed(self, request: Request, error: Exception) -> Response:
        """A fault of the console itself: a page saying so (the traceback goes to the log, never to the page)."""
        return self.error(request, 500, "the console failed on this request: the log has the details")


def _proposals_of(group: "GapGroup", open_proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open proposal for a gap line: the one for its role as written that date."""
    return [
        p for p in open_proposals
        if (p["date"], p["assign_role"]) == (group.schedule_date.isoformat(), group.assign_role)
    ]  # fmt: skip


def _text_fields(sent: FormData) -> dict[str, str | list[str]]:
    """A form's text fields; one sent more than once (the rows ticked in a list) as the list of its values."""
    values: dict[str, list[str]] = {}
    for key, value in sent.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    return {key: found[0] if len(found) == 1 else found for key, found in values.items()}


def _outcome(request: Request, user: ConsoleUser) -> dict[str, str | None]:
    """The notice or refusal an action left for this page (`Console.done`), once."""
    try:
        found = user.outcome.loads(request.cookies.get(OUTCOME_COOKIE, ""), max_age=OUTCOME_MAX_AGE_S)
    except BadSignature:
        return {}
    if not isinstance(found, dict) or found.get("to") != request.url.path:
        return {}
    return {"notice": found.get("notice"), "refused": found.get("refused")}


def page(show: Callable[[Request, P], Response], query: type[P]) -> Callable[[Request], Response]:
    """A page endpoint whose query string is parsed into `query` first (a wrong value: 400)."""

    def endpoint(request: Request) -> Response:
        return show(request, params.parse(query, dict(request.query_params)))

    endpoint.query = query  # type: ignore[attr-defined]
    return endpoint


def download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _instant(text: str | None, settings: Settings) -> datetime:
    """`at` as ISO 8601; without an offset, on the configured zone's wall clock (a time it skips or passes twice
    is refused, as `schedcu oncall --at` refuses it); absent: now."""
    if not text:
        return datetime.now(settings.tz)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageMistake(f"{text!r} is not a time: give ISO 8601, e.g. 2026-03-09T22:00-05:00") from None
    if not params.MIN_DATE <= at.date() <= params.MAX_DATE:
        raise UsageMistake(f"{text!r} is out of range: give a time from {params.MIN_DATE} to {params.MAX_DATE}")
    from schedcu.operations.exports import local_instant

    return local_instant(at, settings.tz)
