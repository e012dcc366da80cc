"""The console's route table: each path to its page or action (`app.py`, and the drafting pages of
`drafting.py`), behind the sign-in and the console's own error pages."""

import aio_pika
import sqlalchemy.exc
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from schedcu.console import drafting, params
from schedcu.console.app import (
    HERE,
    Console,
    ConsoleApp,
    RefuseControlCharacters,
    TokenAuthentication,
    page,
    unauthorized,
)
from schedcu.console.params import BadParameter
from schedcu.console.users import WatchedUsers
from schedcu.errors import Mistake
from shared.settings import Settings


def create_app(users: WatchedUsers, settings: Settings) -> ConsoleApp:
    console = Console(settings)
    act = console.action
    routes = [
        Route("/", lambda _: RedirectResponse("/status", 303)),
        Route("/status", console.status_page),
        Route("/workflows", page(console.workflows_page, params.WorkflowsQuery)),
        Route("/workflows/{id:uuid}", console.workflow_page),
        Route("/workflows/{id:uuid}/retry", act(console.retry_workflow), methods=["POST"]),
        Route("/workflows/{id:uuid}/cancel", act(console.cancel_workflow, params.ReasonForm), methods=["POST"]),
        Route("/versions", page(console.versions_page, params.VersionsQuery)),
        Route("/versions/diff", page(console.diff_page, params.DiffQuery)),
        Route("/versions/{id:uuid}", console.version_page),
        Route("/versions/{id:uuid}/gaps", page(console.gaps_page, params.GapsQuery)),
        Route("/versions/{id:uuid}/cells.csv", console.cells_csv),
        Route("/versions/{id:uuid}/coverage.ods", console.coverage_ods),
        Route("/versions/{id:uuid}/calendars/{email}.ics", console.calendar),
        Route("/oncall", page(console.on_call, params.OnCallQuery)),
        Route("/versions/{id:uuid}/promote", act(console.promote_version, params.PromoteForm), methods=["POST"]),
        Route("/versions/{id:uuid}/proposals", page(console.proposals_page, params.VersionProposalsQuery)),
        Route(
            "/versions/{id:uuid}/proposals", act(console.create_proposals, params.CreateProposalsForm), methods=["POST"]
        ),
        Route("/versions/{id:uuid}/fairness", page(console.fairness_page, params.FairnessQuery)),
        Route("/proposals", page(console.open_proposals_page, params.OpenProposalsQuery)),
        Route("/proposals/{id:uuid}", console.proposal_page),
        Route("/proposals/{id:uuid}/edit", act(console.edit_proposal, params.EditProposalForm), methods=["POST"]),
        Route("/proposals/{id:uuid}/approve", act(console.approve_proposal), methods=["POST"]),
        Route("/proposals/{id:uuid}/reject", act(console.reject_proposal, params.ReasonForm), methods=["POST"]),
        Route("/repairs/{id:uuid}", console.repair_page),
        Route("/repairs/{id:uuid}/approve", act(console.approve_repair), methods=["POST"]),
        Route("/repairs/{id:uuid}/reject", act(console.reject_repair, params.RejectMoveForm), methods=["POST"]),
        Route("/repairs/{id:uuid}/edit", act(console.edit_repair, params.EditMoveForm), methods=["POST"]),
        Route("/versions/{id:uuid}/archive", act(console.archive_version, params.ReasonForm), methods=["POST"]),
        Route("/dead-letters", console.dead_letters_page),
        Route("/dead-letters/{queue}/message", page(console.dead_letter_page, params.DeadLetterQuery)),
        Route("/dead-letters/{queue}/redrive", act(console.redrive, params.LettersForm), methods=["POST"]),
        Route("/dead-letters/{queue}/discard", page(console.confirm_discard, params.DiscardQuery), methods=["GET"]),
        Route("/dead-letters/{queue}/discard", act(console.discard, params.LettersForm), methods=["POST"]),
        *drafting.routes(console),
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
