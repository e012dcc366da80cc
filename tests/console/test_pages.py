"""The pages a scheduler works from, through Starlette's TestClient on a real database: the open proposals of
every version, the versions list with coverage and gaps, calendars linked per person, every candidate of a gap
line, the diff as tables, case-insensitive prefix search, Post/Redirect/Get, Retry offered only where it would
be accepted, and a cancel only with a reason. (The heat map by keyboard is test_browser.py's: the page's
script makes squares focusable.)"""

import html
import re
import uuid
from datetime import date

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from schedcu.queries.coverage import latest_calculation
from services.coverage import proposals
from services.coverage.calculation import CalculationOptions
from services.coverage.gap_lines import group_gaps
from services.coverage.gaps import gap_report
from shared.db.models import Workflow, WorkflowPhase
from shared.settings import get_settings
from tests.conftest import Services
from tests.console.conftest import OPERATOR_TOKEN, READER_TOKEN, bearer, csrf_token
from tests.console.test_routes import gapped_week, start_workflow
from tests.coverage.test_corrections import MON, TUE, week
from tests.versions.test_lifecycle import new_version

pytestmark = pytest.mark.integration

READER = bearer(READER_TOKEN)


def open_proposal_rows(page: str) -> list[list[str]]:
    """The open proposals pages' rows: version (short), group, date, role, person, state, created."""
    rows = re.findall(r'<tr class="proposal".*?</tr>', page, re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", r, re.S)]
            for r in rows]  # fmt: skip


def every_page(client: TestClient, params: dict[str, str] | None = None) -> str:
    """The open proposals pages, following "next" to the last, one after the other."""
    pages, url = [], "/proposals"
    while True:
        page = client.get(url, params=params if url == "/proposals" else None, headers=READER).text
        pages.append(page)
        following = re.search(r'<a href="([^"]+)" id="next">', page)
        if following is None:
            return "".join(pages)
        url = html.unescape(following.group(1))


def create(services: Services, version_id: uuid.UUID, day: date) -> list[uuid.UUID]:
    with Session(services.engine) as session, session.begin():
        made = proposals.create(session, version_id, CalculationOptions.from_settings(get_settings()), "setup", day)
    return list(made.proposals)


def test_the_open_proposals_of_every_version_on_one_page(client: TestClient, settings_for: Services) -> None:
    first, second = gapped_week(settings_for), gapped_week(settings_for)
    on_first, on_second = (
        create(settings_for, first, MON) + create(settings_for, first, TUE),
        create(settings_for, second, TUE),
    )
    closed = on_first[-1]  # one of the first version's proposals is closed: its Tuesday
    with Session(settings_for.engine) as session, session.begin():
        proposals.reject(session, closed, "not needed", "setup")

    page = every_page(client)

    listed = set(re.findall(r'data-proposal-id="([0-9a-f-]+)"', page))
    assert {str(p) for p in [*on_first[:-1], *on_second]} <= listed and str(closed) not in listed
    rows = open_proposal_rows(page)
    mine = [r for r in rows if r[0] in (str(first)[:8], str(second)[:8])]
    assert {r[1] for r in mine} == {"coverage-tests"}
    assert {r[2] for r in mine} == {MON.isoformat(), TUE.isoformat()}
    assert {r[3] for r in mine} >= {"Mid3"} and {r[5] for r in mine} == {"PROPOSED"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", r[6]) for r in mine)
    assert f'href="/proposals/{on_second[0]}"' in page and 'href="/proposals"' in page  # linked, and in the menu


def test_the_open_proposals_search_takes_the_beginning_of_a_name_in_any_case(
    client: TestClient, settings_for: Services
) -> None:
    version_id = gapped_week(settings_for)
    made = create(settings_for, version_id, MON)
    person = open_proposal_rows(client.get("/proposals", headers=READER).text)[0][4]

    by_group = every_page(client, {"group": "COVERAGE-t"})
    assert str(made[0]) in by_group
    assert "no open proposal matches" in client.get("/proposals", params={"group": "overage"}, headers=READER).text
    by_person = open_proposal_rows(every_page(client, {"person": person[:3].lower()}))
    assert by_person and all(r[4].lower().startswith(person[:3].lower()) for r in by_person)


def test_the_versions_list_shows_coverage_and_critical_gaps(client: TestClient, settings_for: Services) -> None:
    gapped = gapped_week(settings_for)
    never = new_version(settings_for, f"g-{uuid.uuid4().hex[:8]}", date(2026, 3, 1), date(2026, 3, 31), cells=None)
    with Session(settings_for.engine) as session:
        calc = latest_calculation(session, gapped)
    assert calc is not None
    summary = calc["summary"]

    page = client.get("/versions", headers=READER).text

    row = re.search(rf'<tr data-version-id="{gapped}">(.*?)</tr>', page, re.S)
    assert row is not None
    coverage = re.search(r'<td class="coverage">(.*?)</td>', row.group(1)).group(1)  # type: ignore[union-attr]
    assert coverage == f"{summary['coverage_ratio'] * 100:.1f}%"
    assert f'<a href="/versions/{gapped}/gaps">{summary["critical_gaps_total"]}</a>' in row.group(1)
    assert summary["critical_gaps_total"] > 0
    other = re.search(rf'<tr data-version-id="{never}">(.*?)</tr>', page, re.S)
    assert other is not None and "not calculated" in other.group(1)


def test_each_persons_calendar_is_linked_from_the_version(client: TestClient, settings_for: Services) -> None:
    version_id = week(settings_for)

    page = client.get(f"/versions/{version_id}", headers=READER).text

    links = re.findall(r'<a href="(/versions/[^"]+/calendars/[^"]+\.ics)" class="calendar">([^<]+)</a>', page)
    assert len(links) >= 5
    href, name = links[0]
    calendar = client.get(href, headers=READER)
    assert calendar.status_code == 200 and calendar.headers["content-type"].startswith("text/calendar")
    assert f"X-WR-CALNAME:{html.unescape(name)}" in calendar.text.replace("\r\n ", "")


def test_every_candidate_of_a_gap_line_can_be_opened(client: TestClient, settings_for: Services) -> None:
    version_id = gapped_week(settings_for)
    with Session(settings_for.engine) as session:
        report = gap_report(session, version_id, CalculationOptions.from_settings(get_settings()), MON)
    assert report is not None
    line = next(g for g in group_gaps(report.gaps) if len(g.candidates) > 3)

    page = client.get(f"/versions/{version_id}/gaps", params={"date": MON.isoformat()}, headers=READER).text

    row = next(r for r in page.split('<tr class="gap-line">')[1:] if f"<td>{line.role}</td>" in r)
    shown = [html.unescape(text) for text in re.findall(r"<div>\d+\. (.*?)</div>", row)]
    assert shown == [line.candidate_text(c) for c in line.candidates]
    assert f"<summary>{len(line.candidates) - 3} more</summary>" in row


def test_the_diff_is_a_table_of_what_was_added_removed_and_changed(client: TestClient, settings_for: Services) -> None:
    before, after = week(settings_for), gapped_week(settings_for)  # after: nobody on Mid3 on Monday and Tuesday

    page = client.get("/versions/diff", params={"a": str(before), "b": str(after)}, headers=READER).text

    assert '{"' not in page  # no JSON
    assignments = page.split('data-what="assignments"')[1].split("</table>")[0]
    removed = re.findall(r'<tr class="removed"><td>removed</td><td>(.*?)</td><td>(.*?)</td>', assignments)
    assert sorted(removed) == [(MON.isoformat(), "Mid3"), (TUE.isoformat(), "Mid3")]
    assert "<th>person</th>" in assignments and "<th>source</th>" in assignments
    assert "assignments: 0 added, 2 removed, 0 changed" in page


def test_workflow_and_version_searches_take_the_beginning_in_any_case(
    client: TestClient, settings_for: Services
) -> None:
    group = f"Radiology-{uuid.uuid4().hex[:8]}"
    workflow_id = start_workflow(group)
    with Session(settings_for.engine) as session:
        request_id = session.get_one(Workflow, workflow_id).request_id
    version_id = new_version(settings_for, group, date(2026, 4, 1), date(2026, 4, 30), cells=None)

    for params in ({"group": group[:14].upper()}, {"request": request_id[:20].upper()}):
        assert str(workflow_id) in client.get("/workflows", params=params, headers=READER).text, params
    assert str(workflow_id) not in client.get("/workflows", params={"group": group[1:]}, headers=READER).text
    assert str(version_id) in client.get("/versions", params={"group": group[:14].lower()}, headers=READER).text
    assert str(version_id) not in client.get("/versions", params={"group": group[3:]}, headers=READER).text


def test_after_an_action_the_browser_is_sent_to_the_page_and_a_reload_shows_it_again(client: TestClient) -> None:
    workflow_id = start_workflow()
    page = f"/workflows/{workflow_id}"
    headers = bearer(OPERATOR_TOKEN)
    csrf = csrf_token(client.get(page, headers=headers).text)

    answer = client.post(
        f"{page}/cancel", data={"csrf_token": csrf, "reason": "wrong month"}, headers=headers, follow_redirects=False
    )

    assert answer.status_code == 303 and answer.headers["location"] == page
    shown = client.get(page, headers=headers)
    assert shown.status_code == 200 and 'id="notice">cancelled' in shown.text
    reloaded = client.get(page, headers=headers)
    assert reloaded.status_code == 200 and 'id="notice"' not in reloaded.text  # the outcome is shown once
    assert 'id="state">FAILED' in reloaded.text


def test_a_refusal_is_shown_on_the_page_the_action_redirects_to(client: TestClient) -> None:
    workflow_id = start_workflow()
    page, headers = f"/workflows/{workflow_id}", bearer(OPERATOR_TOKEN)
    csrf = csrf_token(client.get(page, headers=headers).text)

    answer = client.post(f"{page}/retry", data={"csrf_token": csrf}, headers=headers)

    assert [r.status_code for r in answer.history] == [303] and answer.url.path == page
    assert "refused: the workflow is RUNNING with no failed phase: nothing to retry" in answer.text


def test_retry_is_offered_only_where_it_would_be_accepted(client: TestClient, settings_for: Services) -> None:
    running, failed, completed = start_workflow(), start_workflow(), start_workflow()
    csrf = csrf_token(client.get(f"/workflows/{running}", headers=bearer(OPERATOR_TOKEN)).text)
    client.post(f"/workflows/{failed}/cancel", data={"csrf_token": csrf, "reason": "x"}, headers=bearer(OPERATOR_TOKEN))
    with Session(settings_for.engine) as session, session.begin():  # as the saga leaves a workflow that succeeded
        session.execute(update(WorkflowPhase).where(WorkflowPhase.workflow_id == completed).values(state="SUCCEEDED"))
        session.execute(update(Workflow).where(Workflow.id == completed).values(state="COMPLETED"))

    def buttons(workflow_id: uuid.UUID) -> list[str]:
        page = client.get(f"/workflows/{workflow_id}", headers=bearer(OPERATOR_TOKEN)).text
        return re.findall(r'<button type="submit"[^>]*id="(retry|cancel)">([^<]*)</button>', page)

    assert buttons(running) == [("cancel", "Cancel")]
    assert buttons(failed) == [("retry", "Retry from ODS_IMPORT")]
    assert buttons(completed) == []


def test_a_cancel_needs_a_reason(client: TestClient, settings_for: Services) -> None:
    workflow_id = start_workflow()
    page, headers = f"/workflows/{workflow_id}", bearer(OPERATOR_TOKEN)
    shown = client.get(page, headers=headers).text
    assert re.search(r'<input name="reason" size="40" required>', shown)

    answer = client.post(f"{page}/cancel", data={"csrf_token": csrf_token(shown), "reason": "  "}, headers=headers)

    assert answer.url.path == page and "refused: give the reason for the cancel" in answer.text
    with Session(settings_for.engine) as session:
        assert session.get_one(Workflow, workflow_id).state == "RUNNING"
