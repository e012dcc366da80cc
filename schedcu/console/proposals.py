"""Proposals to fill gaps: the open ones, a version's, one proposal with its candidates, and create, edit, approve and
reject (the functions of `schedcu proposals`)."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import PAGE_SIZE, Console, Pages, page
from schedcu.queries.proposals import open_proposals, proposal
from schedcu.queries.proposals import proposals as version_proposals
from services.coverage import proposals
from services.coverage.calculation import CalculationOptions
from services.coverage.proposal_states import OPEN as OPEN_PROPOSAL_STATES
from shared.db.models import Person, Proposal, ScheduleVersion
from shared.db.session import transaction
from shared.kernel.states import ProposalState

PROPOSAL_STATES = [str(s) for s in ProposalState]
OPEN = {str(s) for s in OPEN_PROPOSAL_STATES}  # the states a proposal may still be decided in


class ProposalPages(Pages):
    def open_proposals_page(self, request: Request, q: params.OpenProposalsQuery) -> Response:
        with transaction() as session:
            rows = open_proposals(session, q.group, q.person, PAGE_SIZE + 1, (q.page - 1) * PAGE_SIZE)
        search = {k: v for k, v in request.query_params.items() if k != "page" and v}
        return self.console.render(
            request, "open_proposals.html", rows=rows[:PAGE_SIZE], page=q.page, more=len(rows) > PAGE_SIZE,
            search=search,
        )  # fmt: skip

    def proposals_page(self, request: Request, q: params.VersionProposalsQuery) -> Response:
        version_id, state = request.path_params["id"], q.state
        with transaction() as session:
            if session.get(ScheduleVersion, version_id) is None:
                return self.console.not_found(request, f"no schedule version {version_id}")
            found = version_proposals(session, version_id, self.console.settings.tz, state)
        return self.console.render(
            request, "proposals.html", version_id=version_id, proposals=found, state=state, states=PROPOSAL_STATES
        )

    def create_proposals(self, request: Request, form: params.CreateProposalsForm, user: str) -> Response:
        to = f"/versions/{request.path_params['id']}/proposals"
        try:
            with transaction() as session:
                created = proposals.create(
                    session,
                    request.path_params["id"],
                    CalculationOptions.from_settings(self.console.settings),
                    user,
                    form.date,
                )
        except proposals.ProposalError as error:
            return self.console.done(request, to, refused=str(error))
        return self.console.done(request, to, notice=created.text())

    def proposal_page(self, request: Request) -> Response:
        proposal_id = request.path_params["id"]
        candidates: list[dict[str, Any]] = []
        no_gap = None
        with transaction() as session:
            view = proposal(session, proposal_id, self.console.settings.tz)
            if view is None:
                return self.console.not_found(request, f"no proposal {proposal_id}")
            is_open = view["state"] in OPEN
            if is_open:
                try:
                    line = proposals.current_line(
                        session,
                        session.get_one(Proposal, proposal_id),
                        CalculationOptions.from_settings(self.console.settings),
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
        return self.console.render(request, "proposal.html", p=view, open=is_open, candidates=candidates, no_gap=no_gap)

    def _proposal_step(self, request: Request, step: Callable[[Session, CalculationOptions], str]) -> Response:
        """`step(session, options)`: its text as the notice, a ProposalError as the refusal."""
        options = CalculationOptions.from_settings(self.console.settings)
        to = f"/proposals/{request.path_params['id']}"
        return self.console.act(request, to, lambda session: step(session, options), proposals.ProposalError)

    def edit_proposal(self, request: Request, form: params.EditProposalForm, user: str) -> Response:
        candidate = form.candidate
        if candidate is None:
            return self.console.done(request, f"/proposals/{request.path_params['id']}", refused="choose a candidate")

        def step(session: Session, options: CalculationOptions) -> str:
            proposals.edit(session, request.path_params["id"], candidate, options, user)
            return "edited"

        return self._proposal_step(request, step)

    def approve_proposal(self, request: Request, form: params.NoFields, user: str) -> Response:
        def step(session: Session, options: CalculationOptions) -> str:
            _, recalculation = proposals.approve(session, request.path_params["id"], options, user)
            return f"approved: assigned as OVERRIDE; recalculation requested: calculation {recalculation}"

        return self._proposal_step(request, step)

    def reject_proposal(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        def step(session: Session, options: CalculationOptions) -> str:
            proposals.reject(session, request.path_params["id"], form.reason or "", user)
            return "rejected"

        return self._proposal_step(request, step)


def routes(console: Console) -> list[BaseRoute]:
    pages, act = ProposalPages(console), console.action
    return [
        Route("/versions/{id:uuid}/proposals", page(pages.proposals_page, params.VersionProposalsQuery)),
        Route(
            "/versions/{id:uuid}/proposals", act(pages.create_proposals, params.CreateProposalsForm), methods=["POST"]
        ),
        Route("/proposals", page(pages.open_proposals_page, params.OpenProposalsQuery)),
        Route("/proposals/{id:uuid}", pages.proposal_page),
        Route("/proposals/{id:uuid}/edit", act(pages.edit_proposal, params.EditProposalForm), methods=["POST"]),
        Route("/proposals/{id:uuid}/approve", act(pages.approve_proposal), methods=["POST"]),
        Route("/proposals/{id:uuid}/reject", act(pages.reject_proposal, params.ReasonForm), methods=["POST"]),
    ]
