"""A version's exports for any signed-in user: cells CSV, the coverage workbook, a person's calendar, and who is on
call (`/oncall`, JSON): the functions of `schedcu export ...` and `schedcu oncall`."""

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import Console, Pages, download, page
from schedcu.errors import UsageMistake
from schedcu.operations import exports
from shared.db.session import transaction
from shared.settings import Settings


class ExportPages(Pages):
    def cells_csv(self, request: Request) -> Response:
        version_id = request.path_params["id"]
        with transaction() as session:
            body = exports.cells_csv(session, version_id)
        return download(body, "text/csv; charset=utf-8", f"cells-{version_id}.csv")

    def coverage_ods(self, request: Request) -> Response:
        version_id = request.path_params["id"]
        with transaction() as session:
            body = exports.coverage_workbook(session, version_id, self.console.settings)
        return download(body, "application/vnd.oasis.opendocument.spreadsheet", f"coverage-{version_id}.ods")

    def calendar(self, request: Request) -> Response:
        with transaction() as session:
            feeds = exports.calendars(
                session, request.path_params["id"], self.console.settings, request.path_params["email"]
            )
        return Response(next(iter(feeds.values())), media_type="text/calendar; charset=utf-8")

    def on_call(self, request: Request, q: params.OnCallQuery) -> Response:
        if not q.worklist:
            raise UsageMistake("give the worklist: /oncall?worklist=CPMC CT Body[&at=2026-03-09T22:00-05:00]")
        at = _instant(q.at, self.console.settings)
        with transaction() as session:
            answer = exports.on_call(session, q.worklist, at, self.console.settings, q.group)
        return JSONResponse(answer)


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
    return exports.local_instant(at, settings.tz)


def routes(console: Console) -> list[BaseRoute]:
    pages = ExportPages(console)
    return [
        Route("/versions/{id:uuid}/cells.csv", pages.cells_csv),
        Route("/versions/{id:uuid}/coverage.ods", pages.coverage_ods),
        Route("/versions/{id:uuid}/calendars/{email}.ics", pages.calendar),
        Route("/oncall", page(pages.on_call, params.OnCallQuery)),
    ]
