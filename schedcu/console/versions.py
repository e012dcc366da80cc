"""The schedule versions: the list, one version with its heat map, promote and archive (the functions of `schedcu
versions promote|archive`), and the diff of two versions."""

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import Console, Pages, page
from schedcu.operations.diff import diff, tables
from schedcu.queries.coverage import cells, critical_gap_groups, latest_calculation
from schedcu.queries.versions import assigned_people, latest_coverage, version_rows, version_view
from schedcu.views.coverage_page import heat_map_section
from services.versions import lifecycle
from services.versions.lifecycle import TransitionRefused
from shared.db.models import ScheduleVersion
from shared.db.session import transaction
from shared.kernel.states import VersionState

DIFF_ITEMS_SHOWN = 100


class VersionPages(Pages):
    def versions_page(self, request: Request, q: params.VersionsQuery) -> Response:
        with transaction() as session:
            rows = version_rows(session, q.group, q.state, prefix=True)
            coverage = latest_coverage(session, [r["version_id"] for r in rows])
        return self.console.render(
            request, "versions.html", rows=rows, coverage=coverage,
            search={k: v for k, v in request.query_params.items() if v}, states=[str(s) for s in VersionState],
        )  # fmt: skip

    def version_page(self, request: Request) -> Response:
        version_id = request.path_params["id"]
        with transaction() as session:
            view = version_view(session, version_id)
            calc = latest_calculation(session, version_id) if view else None
            all_cells = cells(session, uuid.UUID(calc["calculation_id"])) if calc else []
            groups = critical_gap_groups(session, version_id, calc["summary"], self.console.settings) if calc else []
            people = assigned_people(session, version_id) if view else []
        if view is None:
            return self.console.not_found(request, f"no schedule version {version_id}")
        heat_map = (
            heat_map_section(
                calc, all_cells, groups, self.console.settings.tz, frozenset(self.console.settings.holidays)
            )
            if calc
            else None
        )
        return self.console.render(request, "version.html", v=view, heat_map=heat_map, people=people)

    def _transition(self, request: Request, change: Callable[[Session], str]) -> Response:
        return self.console.act(request, f"/versions/{request.path_params['id']}", change, TransitionRefused)

    def promote_version(self, request: Request, form: params.PromoteForm, user: str) -> Response:
        version_id, force, reason = request.path_params["id"], form.force == "yes", form.reason

        def change(session: Session) -> str:
            archived = lifecycle.promote(session, version_id, user, force=force, reason=reason)
            return "promoted to PRODUCTION" + (f"; archived {', '.join(map(str, archived))}" if archived else "")

        return self._transition(request, change)

    def archive_version(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        version_id, reason = request.path_params["id"], form.reason

        def change(session: Session) -> str:
            lifecycle.archive(session, version_id, user, reason)
            return "archived"

        return self._transition(request, change)

    def diff_page(self, request: Request, q: params.DiffQuery) -> Response:
        a, b = q.a, q.b
        changes = None
        with transaction() as session:
            versions = version_rows(session)
            if a and b:
                missing = [str(v) for v in (a, b) if session.get(ScheduleVersion, v) is None]
                if missing:
                    return self.console.not_found(request, f"no schedule version {', '.join(missing)}")
                changes = tables(diff(session, a, b))
        return self.console.render(
            request, "diff.html", versions=versions, a=str(a or ""), b=str(b or ""), changes=changes,
            shown=DIFF_ITEMS_SHOWN,
        )  # fmt: skip


def routes(console: Console) -> list[BaseRoute]:
    pages, act = VersionPages(console), console.action
    return [
        Route("/versions", page(pages.versions_page, params.VersionsQuery)),
        Route("/versions/diff", page(pages.diff_page, params.DiffQuery)),
        Route("/versions/{id:uuid}", pages.version_page),
        Route("/versions/{id:uuid}/promote", act(pages.promote_version, params.PromoteForm), methods=["POST"]),
        Route("/versions/{id:uuid}/archive", act(pages.archive_version, params.ReasonForm), methods=["POST"]),
    ]
