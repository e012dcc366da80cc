"""The console's drafting pages: each group's drafting inputs (listed for everyone, changed by operators through
the functions `schedcu draft ...` calls, audited alike with the console user as the actor), time off, the draft
runs and one run's page (figures per level, progress while it solves, grid, unfilled roles with each person's
reason, fairness table and chart)."""

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import PAGE_SIZE, Console, page
from schedcu.draft_view import settings_text
from shared.db.models import HospitalGroup

REFRESH_S = 5  # a running run's page reloads itself this often (a meta refresh: the console runs no script)


def group_path(group: str) -> str:
    return f"/drafting/groups/{quote(group, safe='')}"


def _given(form: params.Params, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields the form gave (absent: unchanged), `none` as None (cleared)."""
    values = {name: getattr(form, name) for name in names}
    return {name: None if value == "none" else value for name, value in values.items() if value is not None}


class DraftingPages:
    """The drafting pages and actions, rendered and answered through the console's own (`Console`)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    # ---- inputs

    def _change(self, request: Request, to: str, change: Callable[[Any], str]) -> Response:
        """`change(session)` in one transaction; its text as the notice, an InputError as the refusal."""
        from services.drafting.inputs import InputError
        from shared.db.session import transaction

        try:
            with transaction() as session:
                notice = change(session)
        except InputError as error:
            return self.console.done(request, to, refused=str(error))
        return self.console.done(request, to, notice=notice)

    def index_page(self, request: Request) -> Response:
        from services.drafting.runs import run_rows
        from shared.db.session import transaction

        with transaction() as session:
            groups = list(session.scalars(select(HospitalGroup.name).order_by(HospitalGroup.name)))
            runs = run_rows(session, None, 10)
        return self.console.render(request, "drafting.html", groups=groups, runs=runs, group_path=group_path)

    def group_page(self, request: Request) -> Response:
        from services.drafting import inputs
        from shared.db.session import transaction

        group = request.path_params["group"]
        with transaction() as session:
            try:
                found = {
                    "limits": inputs.group_limits(session, group),
                    "people": inputs.people_settings(session, group),
                    "hours": inputs.role_hours(session, group),
                    "rotations": inputs.rotations(session, group),
                    "exceptions": inputs.exceptions(session, group),
                    "requests": inputs.requests(session, group),
                }
            except inputs.InputError as error:
                return self.console.not_found(request, str(error))
        return self.console.render(
            request, "draft_group.html", group=group, path=group_path(group), weekdays=inputs.WEEKDAYS, **found
        )

    def set_limits(self, request: Request, form: params.LimitsForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]
        values = _given(form, inputs.LIMITS)
        if not values:
            return self.console.done(request, group_path(group), refused="give a limit to set, or none to clear one")
        return self._change(
            request,
            group_path(group),
            lambda s: "limits: " + settings_text(inputs.set_group_limits(s, group, values, user, form.reason)),
        )

    def set_person(self, request: Request, form: params.DraftPersonForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]
        values = _given(form, inputs.PERSON_COLUMNS)
        if not values:
            refused = "say what to set: the FTE, the active dates or a limit"
            return self.console.done(request, group_path(group), refused=refused)
        return self._change(
            request,
            group_path(group),
            lambda s: (
                f"{form.person}: " + settings_text(inputs.set_person(s, group, form.person, values, user, form.reason))
            ),
        )

    def set_hours(self, request: Request, form: params.HoursForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]
        if form.hours is None:
            refused = "give the role's hours, e.g. 10p-8a (Clear gives it the template's span again)"
            return self.console.done(request, group_path(group), refused=refused)
        return self._change(
            request, group_path(group), lambda s: inputs.set_hours(s, group, form.role, form.hours, user, form.reason)
        )

    def clear_hours(self, request: Request, form: params.HoursForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]
        return self._change(
            request, group_path(group), lambda s: inputs.set_hours(s, group, form.role, None, user, form.reason)
        )

    def add_rotation(self, request: Request, form: params.RotationForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]

        def change(s: Any) -> str:
            added = inputs.add_rotation(
                s, group, form.weekday, form.role, form.person, form.first, form.last, user, form.reason
            )
            return f"added rotation {added}"

        return self._change(request, group_path(group), change)

    def set_exception(self, request: Request, form: params.ExceptionForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]
        if (form.person is None) == (form.nobody is None):
            refused = "give the person who holds the role that date, or tick nobody"
            return self.console.done(request, group_path(group), refused=refused)
        return self._change(
            request,
            group_path(group),
            lambda s: inputs.set_exception(s, group, form.date, form.role, form.person, user, form.reason),
        )

    def add_request(self, request: Request, form: params.RequestForm, user: str) -> Response:
        from services.drafting import inputs

        group = request.path_params["group"]

        def change(s: Any) -> str:
            added = inputs.add_request(
                s, group, form.person, form.kind == "on", form.weight, user, form.date, form.weekday, form.role,
                form.reason,
            )  # fmt: skip
            return f"added request {added}"

        return self._change(request, group_path(group), change)

    def remove_of_group(
        self, what: str, listed: Callable[[Any, str], list[int]], remove: Callable[..., None]
    ) -> Callable[[Request, params.ReasonForm, str], Response]:
        """An action removing the group's `what` whose id the path names (an id of another group is refused)."""
        from services.drafting.inputs import InputError

        def action(request: Request, form: params.ReasonForm, user: str) -> Response:
            group, row = request.path_params["group"], request.path_params["row"]

            def change(s: Any) -> str:
                if row not in listed(s, group):
                    raise InputError(f"{group} has no {what} {row}.")
                remove(s, row, user, form.reason)
                return f"removed {what} {row}"

            return self._change(request, group_path(group), change)

        return action

    # ---- time off: the person's, in every group

    def time_off_page(self, request: Request) -> Response:
        from services.drafting import inputs
        from shared.db.session import transaction

        with transaction() as session:
            rows = inputs.time_off(session)
        return self.console.render(request, "draft_time_off.html", rows=rows)

    def add_time_off(self, request: Request, form: params.TimeOffForm, user: str) -> Response:
        from schedcu import repairs

        def change(s: Any) -> str:  # over dates a production version assigns, its repair is requested with it
            added = repairs.add_time_off(s, form.person, form.first, form.last, user, form.note, form.reason)
            return "; ".join(added.lines())

        return self._change(request, "/drafting/time-off", change)

    def remove_time_off(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        from services.drafting import inputs

        row = request.path_params["row"]

        def change(s: Any) -> str:
            if row not in [r[0] for r in inputs.time_off(s)]:
                raise inputs.InputError(f"There is no time off {row}.")
            inputs.remove_time_off(s, row, user, form.reason)
            return f"removed time off {row}"

        return self._change(request, "/drafting/time-off", change)

    # ---- runs

    def runs_page(self, request: Request, q: params.DraftRunsQuery) -> Response:
        from services.drafting.runs import run_rows
        from shared.db.session import transaction

        with transaction() as session:
            runs = run_rows(session, q.version, PAGE_SIZE)
        return self.console.render(request, "draft_runs.html", runs=runs, version=q.version)

    def run_page(self, request: Request) -> Response:
        from schedcu.draft_view import CATEGORIES, fairness_chart, fairness_rows, grid, progress_text, value_text
        from schedcu.queries.drafting import run_detail
        from shared.db.session import transaction

        run_id: uuid.UUID = request.path_params["id"]
        with transaction() as session:
            view = run_detail(session, run_id)
        if view is None:
            return self.console.not_found(request, f"no draft run {run_id}")
        roles, days = grid(view)
        fairness = fairness_rows(view["fairness"])
        running = view["state"] == "running"
        return self.console.render(
            request, "draft_run.html", run=view, group_path=group_path, roles=roles, days=days, fairness=fairness,
            categories=CATEGORIES, chart=fairness_chart(fairness) if fairness else None, value_text=value_text,
            progress=progress_text(view["progress"]) if running else None, refresh=REFRESH_S if running else None,
        )  # fmt: skip


def routes(console: Console) -> list[BaseRoute]:
    from services.drafting import inputs

    pages, act = DraftingPages(console), console.action
    group = "/drafting/groups/{group}"

    removals = {
        "rotations": pages.remove_of_group(
            "rotation", lambda s, g: [r.id for r in inputs.rotations(s, g)], inputs.remove_rotation
        ),
        "exceptions": pages.remove_of_group(
            "exception", lambda s, g: [r[0] for r in inputs.exceptions(s, g)], inputs.remove_exception
        ),
        "requests": pages.remove_of_group(
            "request", lambda s, g: [r.id for r in inputs.requests(s, g)], inputs.remove_request
        ),
    }
    return [
        Route("/drafting", pages.index_page),
        Route("/drafting/runs", page(pages.runs_page, params.DraftRunsQuery)),
        Route("/drafting/runs/{id:uuid}", pages.run_page),
        # the approval of a run's rows (approve, reject, edit) goes here, beside the run's page
        Route("/drafting/time-off", pages.time_off_page),
        Route("/drafting/time-off", act(pages.add_time_off, params.TimeOffForm), methods=["POST"]),
        Route("/drafting/time-off/{row:int}/remove", act(pages.remove_time_off, params.ReasonForm), methods=["POST"]),
        Route(group, pages.group_page),
        Route(f"{group}/limits", act(pages.set_limits, params.LimitsForm), methods=["POST"]),
        Route(f"{group}/people", act(pages.set_person, params.DraftPersonForm), methods=["POST"]),
        Route(f"{group}/hours", act(pages.set_hours, params.HoursForm), methods=["POST"]),
        Route(f"{group}/hours/clear", act(pages.clear_hours, params.HoursForm), methods=["POST"]),
        Route(f"{group}/rotations", act(pages.add_rotation, params.RotationForm), methods=["POST"]),
        Route(f"{group}/exceptions", act(pages.set_exception, params.ExceptionForm), methods=["POST"]),
        Route(f"{group}/requests", act(pages.add_request, params.RequestForm), methods=["POST"]),
        *(
            Route(f"{group}/{what}/{{row:int}}/remove", act(remove, params.ReasonForm), methods=["POST"])
            for what, remove in removals.items()
        ),
    ]
