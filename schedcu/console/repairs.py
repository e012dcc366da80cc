"""Repair runs: a sick call from the version page (the function of `schedcu draft repair`), one run's moves, and
approve, reject and edit a move (the functions of `schedcu draft repair-approve|repair-reject|repair-edit`)."""

from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import Console, Pages
from schedcu.operations import repairs
from services.drafting.handlers import options_from
from services.drafting.repairs import RepairRefused
from services.drafting.runs import run_view
from shared.db.session import transaction


class RepairPages(Pages):
    def request_repair(self, request: Request, form: params.RepairForm, user: str) -> Response:
        version_id = request.path_params["id"]

        def step(session: Session) -> str:
            asked = repairs.request(session, version_id, form.person, form.first, form.last, user, form.reason)
            return f"repair requested for {asked.person}: run {asked.run_id}, at /repairs/{asked.run_id} once proposed"

        return self.console.act(request, f"/versions/{version_id}", step, RepairRefused)

    def repair_page(self, request: Request) -> Response:
        run_id = request.path_params["id"]
        with transaction() as session:
            view = run_view(session, run_id)
        if view is None or view["kind"] != "repair":
            return self.console.not_found(request, f"no repair run {run_id}")
        states = {(row["date"], row["role"]): row["state"] for row in view["rows"]}
        moves = [
            m | {"state": states.get((m["date"], m["role"]), "-")} for m in (view["repair"] or {}).get("moves", [])
        ]
        is_open = any(m["state"] in ("PROPOSED", "EDITED") for m in moves)
        return self.console.render(request, "repair.html", r=view, moves=moves, open=is_open)

    def _repair_step(self, request: Request, step: Callable[[Session], str]) -> Response:
        return self.console.act(request, f"/repairs/{request.path_params['id']}", step, RepairRefused)

    def approve_repair(self, request: Request, form: params.NoFields, user: str) -> Response:
        def step(session: Session) -> str:
            approved = repairs.approve(session, request.path_params["id"], user)
            n, recalculation = len(approved.moves), approved.recalculation_id
            return f"approved {n} move{'s' * (n != 1)}; recalculation requested: calculation {recalculation}"

        return self._repair_step(request, step)

    def reject_repair(self, request: Request, form: params.RejectMoveForm, user: str) -> Response:
        if form.move is None or not form.reason:
            return self.console.done(
                request, f"/repairs/{request.path_params['id']}", refused="choose a move and give a reason"
            )
        move, reason = form.move, form.reason

        def step(session: Session) -> str:
            why = repairs.reject(
                session, request.path_params["id"], move, reason, user, options_from(self.console.settings)
            )
            return "; ".join([f"move {move} rejected", *why])

        return self._repair_step(request, step)

    def edit_repair(self, request: Request, form: params.EditMoveForm, user: str) -> Response:
        if form.move is None or not form.person:
            return self.console.done(
                request, f"/repairs/{request.path_params['id']}", refused="choose a move and a person"
            )
        move, person = form.move, form.person

        def step(session: Session) -> str:
            options = options_from(self.console.settings)
            return "; ".join(repairs.edit(session, request.path_params["id"], move, person, user, options))

        return self._repair_step(request, step)


def routes(console: Console) -> list[BaseRoute]:
    pages, act = RepairPages(console), console.action
    return [
        Route("/versions/{id:uuid}/repair", act(pages.request_repair, params.RepairForm), methods=["POST"]),
        Route("/repairs/{id:uuid}", pages.repair_page),
        Route("/repairs/{id:uuid}/approve", act(pages.approve_repair), methods=["POST"]),
        Route("/repairs/{id:uuid}/reject", act(pages.reject_repair, params.RejectMoveForm), methods=["POST"]),
        Route("/repairs/{id:uuid}/edit", act(pages.edit_repair, params.EditMoveForm), methods=["POST"]),
    ]
