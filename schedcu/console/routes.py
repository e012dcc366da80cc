"""The console's route table: the routes of each area (`status.py`, `workflows.py`, `versions.py`, `coverage.py`,
`exports.py`, `proposals.py`, `repairs.py`, `dead_letters.py`, `drafting.py`: each module's `routes`), behind the
sign-in and the console's own error pages (`app.py`)."""

import aio_pika
import sqlalchemy.exc
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from schedcu.console import coverage, dead_letters, drafting, exports, proposals, repairs, status, versions, workflows
from schedcu.console.app import HERE, Console, ConsoleApp, RefuseControlCharacters, TokenAuthentication, unauthorized
from schedcu.console.params import BadParameter
from schedcu.console.users import WatchedUsers
from schedcu.errors import Mistake
from shared.settings import Settings


def create_app(users: WatchedUsers, settings: Settings) -> ConsoleApp:
    console = Console(settings)
    areas = (status, workflows, versions, coverage, exports, proposals, repairs, dead_letters, drafting)
    routes = [
        Route("/", lambda _: RedirectResponse("/status", 303)),
        *(route for area in areas for route in area.routes(console)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return ConsoleApp(
        routes=routes,
        middleware=[
            Middleware(AuthenticationMiddleware, backend=TokenAuthentication(users), on_error=unauthorized),
            Middleware(RefuseControlCharacters, console=console),
        ],
        exception_handlers={
            Exception: console.failed,
            HTTPException: console.http_error,
            BadParameter: console.bad_parameter,
            Mistake: console.mistake,
            sqlalchemy.exc.OperationalError: console.unavailable,
            aio_pika.exceptions.AMQPConnectionError: console.unavailable,
            ConnectionError: console.unavailable,
        },
    )
