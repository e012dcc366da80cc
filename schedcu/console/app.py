"""What every console page and action shares: the sign-in, the security layers, rendering, and the answers to an
action and to an error (the pages of each area are in a module of their own, `Pages`; the route table is
`routes.py`). Pages are plain `def` endpoints (Starlette runs them in its thread pool, where the database sessions
and `asyncio.run` of the broker tools belong), their query string parsed by `page` into the route's model
(`params.py`); actions go through `action`, which checks the role, the CSRF token and the form before anything is
read or done, and answer with a redirect to the page that shows the outcome (Post/Redirect/Get: the outcome travels
in a signed cookie read once)."""

import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
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
from schedcu.console.throttle import SignInThrottle
from schedcu.console.users import Role, User, UsersFileError, WatchedUsers, authenticate, credentials, csrf_key
from schedcu.errors import UsageMistake
from schedcu.views.explain import explain
from shared.db.session import transaction
from shared.settings import Settings

HERE = Path(__file__).parent
ACT = "act"  # the scope of the operator role: may take actions
READ = "read"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE_S = 12 * 3600
OUTCOME_COOKIE = "schedcu_outcome"
OUTCOME_MAX_AGE_S = 60
PAGE_SIZE = 50
READ_ONLY = "your role is read-only: ask an operator to do this"
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
    """What the pages and actions share: the settings, the templates, rendering, the checks of an action and the
    error pages (each user carries the signers of their forms and outcomes: `ConsoleUser`)."""

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

    def act(self, request: Request, to: str, step: Callable[[Session], str], refusals: type[Exception]) -> Response:
        """`step(session)` in one transaction, then the page `to` with its text as the notice, or with the refusal
        when it raises one of `refusals` (nothing written)."""
        try:
            with transaction() as session:
                notice = step(session)
        except refusals as error:
            return self.done(request, to, refused=str(error))
        return self.done(request, to, notice=notice)

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
        _, message = explain(error)
        return self.error(request, 503, message, banner=True)

    def failed(self, request: Request, error: Exception) -> Response:
        """A fault of the console itself: a page saying so (the traceback goes to the log, never to the page)."""
        return self.error(request, 500, "the console failed on this request: the log has the details")


class Pages:
    """The pages and actions of one area, rendered and answered through the console's own (`Console`)."""

    def __init__(self, console: Console) -> None:
        self.console = console


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
