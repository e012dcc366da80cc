"""The console's drafting pages: each group's drafting inputs (listed for everyone, changed by operators through
the functions `schedcu draft ...` calls, audited alike with the console user as the actor), time off, the draft
runs and one run's page (figures per level, progress while it solves, grid, unfilled roles with each person's
reason, fairness table and chart). Operators draft a period, and approve, reject and edit a run's rows, through
the functions of `schedcu draft new|approve|reject|edit`; anyone signed in downloads an approved draft's exports
(`schedcu draft export`)."""

import io
import uuid
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schedcu.console import params
from schedcu.console.app import PAGE_SIZE, Console, Pages, download, page
from schedcu.operations import repairs
from schedcu.operations.draft_approval import REFUSED, approved, edited, rejected
from schedcu.operations.draft_new import NotDrafted, request_draft
from schedcu.operations.exports import approved_draft, calendar_name, draft_calendars, draft_csv, draft_workbook
from schedcu.queries.drafting import run_detail
from schedcu.views.draft_view import (
    CATEGORIES,
    fairness_chart,
    fairness_rows,
    grid,
    progress_text,
    settings_text,
    value_text,
)
from services.drafting import inputs
from services.drafting.handlers import options_from
from services.drafting.inputs import InputError
from services.drafting.runs import run_rows
from shared.db.models import HospitalGroup
from shared.db.session import transaction

REFRESH_S = 5  # a running run's page reloads itself this often (a meta refresh: the console runs no script)
OPEN_ROWS = ("PROPOSED", "EDITED")  # the rows an approval, a rejection or an edit may still change


def run_path(run_id: uuid.UUID | str) -> str:
    return f"/drafting/runs/{run_id}"


def group_path(group: str) -> str:
    return f"/drafting/groups/{quote(group, safe='')}"


def _given(form: params.Params, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields the form gave (absent: unchanged), `none` as None (cleared)."""
    values = {name: getattr(form, name) for name in names}
    return {name: None if value == "none" else value for name, value in values.items() if value is not None}


class DraftingPages(Pages):
    """The drafting pages and actions."""

    # ---- inputs

    def _change(self, request: Request, to: str, change: Callable[[Any], str]) -> Response:
        """`change(session)` in one transaction; its text as the notice, an InputError as the refusal."""
        try:
            with transaction() as session:
                notice = change(session)
        except InputError as error:
            return self.console.done(request, to, refused=str(error))
        return self.console.done(request, to, notice=notice)

    def index_page(self, request: Request) -> Response:
        with transaction() as session:
            groups = list(session.scalars(select(HospitalGroup.name).order_by(HospitalGroup.name)))
            runs = run_rows(session, None, 10)
        return self.console.render(request, "drafting.html", groups=groups, runs=runs, group_path=group_path)

    def group_page(self, request: Request) -> Response:
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
        group = request.path_params["group"]
        if form.hours is None:
            refused = "give the role's hours, e.g. 10p-8a (Clear gives it the template's span again)"
            return self.console.done(request, group_path(group), refused=refused)
        return self._change(
            request, group_path(group), lambda s: inputs.set_hours(s, group, form.role, form.hours, user, form.reason)
        )

    def clear_hours(self, request: Request, form: params.HoursForm, user: str) -> Response:
        group = request.path_params["group"]
        return self._change(
            request, group_path(group), lambda s: inputs.set_hours(s, group, form.role, None, user, form.reason)
        )

    def add_rotation(self, request: Request, form: params.RotationForm, user: str) -> Response:
        group = request.path_params["group"]

        def change(s: Any) -> str:
            added = inputs.add_rotation(
                s, group, form.weekday, form.role, form.person, form.first, form.last, user, form.reason
            )
            return f"added rotation {added}"

        return self._change(request, group_path(group), change)

    def set_exception(self, request: Request, form: params.ExceptionForm, user: str) -> Response:
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
        with transaction() as session:
            rows = inputs.time_off(session)
        return self.console.render(request, "draft_time_off.html", rows=rows)

    def add_time_off(self, request: Request, form: params.TimeOffForm, user: str) -> Response:
        def change(s: Any) -> str:  # over dates a production version assigns, its repair is requested with it
            added = repairs.add_time_off(s, form.person, form.first, form.last, user, form.note, form.reason)
            return "; ".join(added.lines())

        return self._change(request, "/drafting/time-off", change)

    def remove_time_off(self, request: Request, form: params.ReasonForm, user: str) -> Response:
        row = request.path_params["row"]

        def change(s: Any) -> str:
            if row not in [r[0] for r in inputs.time_off(s)]:
                raise inputs.InputError(f"There is no time off {row}.")
            inputs.remove_time_off(s, row, user, form.reason)
            return f"removed time off {row}"

        return self._change(request, "/drafting/time-off", change)

    # ---- runs

    def runs_page(self, request: Request, q: params.DraftRunsQuery) -> Response:
        with transaction() as session:
            runs = run_rows(session, q.version, PAGE_SIZE)
            groups = list(session.scalars(select(HospitalGroup.name).order_by(HospitalGroup.name)))
        return self.console.render(request, "draft_runs.html", runs=runs, version=q.version, groups=groups)

    def draft_new(self, request: Request, form: params.DraftNewForm, user: str) -> Response:
        """`schedcu draft new GROUP --start --end [--time-limit]`, the console user asking."""
        try:
            requested = request_draft(form.group, form.start, form.end, user, form.reason, form.time_limit, None)
        except NotDrafted as error:
            return self.console.done(request, "/drafting/runs", refused=str(error))
        return self.console.done(request, "/drafting/runs", notice=requested.text())

    def run_page(self, request: Request) -> Response:
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
            open_rows=OPEN_ROWS, path=run_path(run_id), calendars=self._approved_people(run_id, view),
            open_count=sum(r["state"] in OPEN_ROWS for r in view["rows"]),
        )  # fmt: skip

    def _approved_people(self, run_id: uuid.UUID, view: dict[str, Any]) -> list[tuple[str, str]]:
        """(name, email) of each person with an approved row, for their calendar's link."""
        if not any(r["state"] == "APPROVED" for r in view["rows"]):
            return []
        with transaction() as session:
            people = approved_draft(session, run_id, self.console.settings).people
        return sorted((name, email) for email, name in people.values())

    # ---- a run's rows decided: the functions of `schedcu draft approve|reject|edit`

    def _decide(self, request: Request, decision: Callable[[Any], str]) -> Response:
        """`decision(session)` in one transaction; its text as the notice, a refusal (the rule in words) shown."""
        to = run_path(request.path_params["id"])
        try:
            with transaction() as session:
                notice = decision(session)
        except REFUSED as error:
            return self.console.done(request, to, refused=str(error))
        return self.console.done(request, to, notice=notice)

    def _decide_rows(
        self, request: Request, form: params.DraftRowsForm, what: str, decision: Callable[[Any, Any], str]
    ) -> Response:
        """`decision(session, rows)` on the rows ticked, or (`whole`) every open row; nothing ticked is refused."""
        if form.whole != "yes" and not form.row:
            return self.console.done(request, run_path(request.path_params["id"]), refused=f"tick the rows to {what}")
        picked = None if form.whole == "yes" else list(form.row)
        return self._decide(request, lambda s: decision(s, picked))

    def approve_rows(self, request: Request, form: params.DraftRowsForm, user: str) -> Response:
        run_id = request.path_params["id"]
        return self._decide_rows(
            request, form, "approve, or approve every open row", lambda s, p: approved(s, run_id, p, user, form.reason)
        )

    def reject_rows(self, request: Request, form: params.DraftRowsForm, user: str) -> Response:
        run_id = request.path_params["id"]
        return self._decide_rows(request, form, "reject", lambda s, p: rejected(s, run_id, p, user, form.reason))

    def edit_row(self, request: Request, form: params.DraftEditForm, user: str) -> Response:
        options = options_from(self.console.settings)
        return self._decide(
            request,
            lambda s: edited(s, request.path_params["id"], form.date, form.role, form.person, options, user,
                             form.reason),
        )  # fmt: skip

    # ---- an approved draft's exports: `schedcu draft export`, for anyone signed in

    def _approved(self, request: Request) -> Any:
        with transaction() as session:
            return approved_draft(session, request.path_params["id"], self.console.settings)

    def export_csv(self, request: Request) -> Response:
        body = draft_csv(self._approved(request), self.console.settings)
        return download(body, "text/csv; charset=utf-8", f"draft-{request.path_params['id']}.csv")

    def export_ods(self, request: Request) -> Response:
        body = draft_workbook(self._approved(request))
        return download(
            body, "application/vnd.oasis.opendocument.spreadsheet", f"draft-{request.path_params['id']}.ods"
        )

    def export_calendars(self, request: Request) -> Response:
        """Every person's calendar in one zip, each named as `schedcu draft export --format ics` names its files."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for email, data in draft_calendars(self._approved(request), self.console.settings).items():
                archive.writestr(calendar_name(email), data)
        return download(out.getvalue(), "application/zip", f"draft-{request.path_params['id']}-calendars.zip")

    def export_calendar(self, request: Request) -> Response:
        email = request.path_params["email"]
        calendars = {k.lower(): v for k, v in draft_calendars(self._approved(request), self.console.settings).items()}
        if email.lower() not in calendars:
            return self.console.not_found(
                request, f"{email} holds no approved row of draft run {request.path_params['id']}"
            )
        return Response(calendars[email.lower()], media_type="text/calendar; charset=utf-8")


def routes(console: Console) -> list[BaseRoute]:
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
        Route("/drafting/runs", act(pages.draft_new, params.DraftNewForm), methods=["POST"]),
        Route("/drafting/runs/{id:uuid}", pages.run_page),
        Route("/drafting/runs/{id:uuid}/approve", act(pages.approve_rows, params.DraftRowsForm), methods=["POST"]),
        Route("/drafting/runs/{id:uuid}/reject", act(pages.reject_rows, params.DraftRowsForm), methods=["POST"]),
        Route("/drafting/runs/{id:uuid}/edit", act(pages.edit_row, params.DraftEditForm), methods=["POST"]),
        Route("/drafting/runs/{id:uuid}/draft.csv", pages.export_csv),
        Route("/drafting/runs/{id:uuid}/draft.ods", pages.export_ods),
        Route("/drafting/runs/{id:uuid}/calendars.zip", pages.export_calendars),
        Route("/drafting/runs/{id:uuid}/calendars/{email}.ics", pages.export_calendar),
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
