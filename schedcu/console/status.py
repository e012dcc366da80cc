"""The status page: `schedcu status` in the browser."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console.app import Console, Pages
from schedcu.operations import status
from shared.db.session import transaction


class StatusPage(Pages):
    def status_page(self, request: Request) -> Response:
        with transaction() as session:
            collected = status.collect(session, self.console.settings)
        return self.console.render(request, "status.html", status=collected)


def routes(console: Console) -> list[BaseRoute]:
    pages = StatusPage(console)
    return [Route("/status", pages.status_page)]
