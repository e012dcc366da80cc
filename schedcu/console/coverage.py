"""A version's coverage: its gap lines (with their open proposals and repairs) and the fairness report (`schedcu gaps`,
`schedcu fairness`)."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import Console, Pages, page
from schedcu.console.proposals import OPEN
from schedcu.errors import UsageMistake
from schedcu.queries.proposals import proposals
from schedcu.views.coverage_page import fairness_section
from services.coverage.calculation import CalculationOptions
from services.coverage.fairness import OutsidePeriod, fairness_report
from services.coverage.gap_lines import GapGroup, group_gaps
from services.coverage.gaps import gap_report
from services.drafting.repairs import open_targets
from shared.db.models import ScheduleVersion
from shared.db.session import transaction
from shared.kernel.rest import hours_text

GAPS_SHOWN = 200


class CoveragePages(Pages):
    def gaps_page(self, request: Request, q: params.GapsQuery) -> Response:
        version_id, day = request.path_params["id"], q.date
        with transaction() as session:
            if session.get(ScheduleVersion, version_id) is None:
                return self.console.not_found(request, f"no schedule version {version_id}")
            report = gap_report(session, version_id, CalculationOptions.from_settings(self.console.settings), day)
            open_proposals = [p for p in proposals(session, version_id, self.console.settings.tz) if p["state"] in OPEN]
            repairing = open_targets(session, version_id)
        groups = group_gaps(report.gaps) if report else []
        return self.console.render(
            request, "gaps.html", version_id=version_id, report=report, day=day, shown=GAPS_SHOWN, repairing=repairing,
            lines=[(g, _proposals_of(g, open_proposals)) for g in groups[:GAPS_SHOWN]], groups=groups,
            tz=self.console.settings.tz, rest=hours_text(report.rest) if report else None,
        )  # fmt: skip

    def fairness_page(self, request: Request, q: params.FairnessQuery) -> Response:
        version_id = request.path_params["id"]
        try:
            with transaction() as session:
                report = fairness_report(
                    session, version_id, CalculationOptions.from_settings(self.console.settings), q.start, q.end
                )
        except OutsidePeriod as error:
            raise UsageMistake(str(error)) from None
        if report is None:
            return self.console.not_found(request, f"no schedule version {version_id}")
        return self.console.render(
            request, "fairness.html", version_id=version_id, start=report.start, end=report.end,
            section=fairness_section(report.to_dict()),
        )  # fmt: skip


def _proposals_of(group: GapGroup, open_proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open proposal for a gap line: the one for its role as written that date."""
    return [
        p for p in open_proposals
        if (p["date"], p["assign_role"]) == (group.schedule_date.isoformat(), group.assign_role)
    ]  # fmt: skip


def routes(console: Console) -> list[BaseRoute]:
    pages = CoveragePages(console)
    return [
        Route("/versions/{id:uuid}/gaps", page(pages.gaps_page, params.GapsQuery)),
        Route("/versions/{id:uuid}/fairness", page(pages.fairness_page, params.FairnessQuery)),
    ]
