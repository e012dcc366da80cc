"""The workflows: the list, one workflow's timeline, and retry and cancel (the functions of `schedcu workflows
retry|cancel`)."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import PAGE_SIZE, Console, Pages, page
from schedcu.queries.versions import workflow_rows, workflow_view
from services.versions import operator_actions
from services.versions.workflow import Refused, retry_phase
from shared.db.session import transaction
from shared.kernel.states import Phase, PhaseState, WorkflowKind, WorkflowState

WORKFLOW_STATES = [str(s) for s in WorkflowState]


class WorkflowPages(Pages):
    def workflows_page(self, request: Request, q: params.WorkflowsQuery) -> Response:
        with transaction() as session:
            rows = workflow_rows(
                session, q.state, PAGE_SIZE + 1, group=q.group, request_id=q.request, created_from=q.created_from,
                created_to=q.created_to, offset=(q.page - 1) * PAGE_SIZE, prefix=True,
            )  # fmt: skip
        search = {k: v for k, v in request.query_params.items() if k != "page" and v}
        return self.console.render(
            request, "workflows.html", rows=rows[:PAGE_SIZE], page=q.page, more=len(rows) > PAGE_SIZE,
            search=search, states=WORKFLOW_STATES,
        )  # fmt: skip

    def workflow_page(self, request: Request) -> Response:
        workflow_id = request.path_params["id"]
        with transaction() as session:
            view = workflow_view(session, workflow_id)
        if view is None:
            return self.console.not_found(request, f"no workflow {workflow_id}")
        phases = {Phase(p["phase"]): PhaseState(p["state"]) for p in view["phases"]}
        return self.console.render(
            request, "workflow.html", wf=view, running=view["state"] == WorkflowState.RUNNING,
            retry_from=retry_phase(WorkflowKind(view["kind"]), WorkflowState(view["state"]), phases),
        )  # fmt: skip

    def retry_workflow(self, request: Request, form: params.NoFields, user: str) -> Response:
        to = f"/workflows/{request.path_params['id']}"
        try:
            phase = operator_actions.retry(request.path_params["id"], user, self.console.settings)
        except Refused as error:
            return self.console.done(request, to, refused=str(error))
        return self.console.done(request, to, notice=f"retrying from {phase}")

    def cancel_workflow(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        to = f"/workflows/{request.path_params['id']}"
        if form.reason is None:
            return self.console.done(
                request, to, refused="give the reason for the cancel: it is recorded with the workflow"
            )
        try:
            operator_actions.cancel(request.path_params["id"], user, form.reason, self.console.settings)
        except Refused as error:
            return self.console.done(request, to, refused=str(error))
        return self.console.done(request, to, notice="cancelled")


def routes(console: Console) -> list[BaseRoute]:
    pages, act = WorkflowPages(console), console.action
    return [
        Route("/workflows", page(pages.workflows_page, params.WorkflowsQuery)),
        Route("/workflows/{id:uuid}", pages.workflow_page),
        Route("/workflows/{id:uuid}/retry", act(pages.retry_workflow), methods=["POST"]),
        Route("/workflows/{id:uuid}/cancel", act(pages.cancel_workflow, params.ReasonForm), methods=["POST"]),
    ]
