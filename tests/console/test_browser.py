"""The console in headless Chromium (Debian's chromium and chromium-driver, through selenium), served by
`schedcu console` against the running pipeline: a workflow search, a version's heat map (by mouse and by
keyboard), a proposal for a gap approved until the recalculated coverage shows the cell covered, the open
proposals of every version, a dead-letter redrive and a discard, a week drafted from its form and approved from
its run page, every page in a 500 px window, and Post/Redirect/Get after an action, asserting what the pages
show."""

import json
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import AuditRecord
from shared.kernel import ids
from tests.conftest import Pipeline, eventually
from tests.console.conftest import OPERATOR_TOKEN, bearer, running_console, write_users_file
from tests.support import amqp_client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(
        not (shutil.which("chromium") and shutil.which("chromedriver")), reason="needs chromium and chromium-driver"
    ),
]

WAIT_S = 60.0


@pytest.fixture(scope="module")
def console(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`schedcu console` on a free port, for the pipeline's database and broker; its root URL."""
    work = tmp_path_factory.mktemp("console")
    with running_console(pipeline.env, work, write_users_file(work / "users.yaml")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:
        # every request of this browser carries the operator's token
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": bearer(OPERATOR_TOKEN)})
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, css: str) -> WebElement:
    return WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def notice_after(driver: WebDriver, button: WebElement) -> str:
    """Click `button`; the notice of the page the action answers with, never the one of the page before."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, WAIT_S).until(staleness_of(page))
    return wait_for(driver, "#notice").text


def row_of(driver: WebDriver, message_id: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f'tr.letter[data-message-id="{message_id}"]')


def audited(pipeline: Pipeline, entity_id: str) -> list[tuple[str, str]]:
    with Session(pipeline.services.engine) as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.entity_id == entity_id)).all()
        return [(a.actor, a.action) for a in rows]


def test_search_a_workflow_open_its_timeline_and_its_versions_heat_map(
    pipeline: Pipeline, console: str, browser: WebDriver
) -> None:
    request_id = f"browser-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-08")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"

    browser.get(f"{console}/workflows")
    assert "olga (operator)" in wait_for(browser, "#who").text
    browser.find_element(By.NAME, "request").send_keys(request_id)
    browser.find_element(By.CSS_SELECTOR, "#search button").click()
    rows = WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#workflows tr")[1:] if "request=" in d.current_url else None
    )
    assert len(rows) == 1 and request_id in rows[0].text and "COMPLETED" in rows[0].text

    rows[0].find_element(By.LINK_TEXT, str(workflow_id)).click()
    timeline = wait_for(browser, "#timeline").text
    assert all(phase in timeline for phase in ("ODS_IMPORT", "AMION_SCRAPE", "COVERAGE"))
    assert browser.find_element(By.ID, "state").text == "COMPLETED"
    assert not browser.find_elements(By.ID, "retry")  # nothing failed: a retry would be refused
    assert not browser.find_elements(By.ID, "cancel")

    version_link = browser.find_element(By.XPATH, "//p[contains(., 'version')]/a[contains(@href, '/versions/')]")
    version_link.click()
    assert wait_for(browser, "#coverage").text.startswith("coverage ")
    squares = browser.find_elements(By.CSS_SELECTOR, "table.month td[data-cell]")
    assert len(squares) >= 7 * 5  # a week of the sample template's worklists
    assert browser.find_elements(By.CSS_SELECTOR, "table.month td.s-COVERED")
    ActionChains(browser).move_to_element(squares[0]).perform()
    tip = browser.find_element(By.ID, "tip")
    WebDriverWait(browser, WAIT_S).until(lambda _: tip.is_displayed())
    assert "2026-03-0" in tip.text

    browser.find_element(By.ID, "gaps-link").click()
    count = wait_for(browser, "#gaps-count").text
    assert re.match(
        r"\d+ gaps in \d+ lines by date, role and hours \(calculation [0-9a-f-]+, rest period 10 h\)", count
    )


def test_create_proposals_for_a_versions_gaps_and_approve_one(
    pipeline: Pipeline, console: str, browser: WebDriver
) -> None:
    request_id = f"browser-proposals-{uuid.uuid4()}"  # the pipeline's Amion has nobody on Mid3 on the 18th
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-16", "2026-03-18")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    version_id = ids.version_id_for(workflow_id)

    browser.get(f"{console}/versions/{version_id}")
    wait_for(browser, "#proposals-link").click()
    created = notice_after(browser, wait_for(browser, "#create-proposals"))
    assert re.match(r"[1-9]\d* proposals created .*; 0 gap lines already proposed", created)
    rows = [r for r in browser.find_elements(By.CSS_SELECTOR, "tr.proposal") if "2026-03-18" in r.text]
    (row,) = [r for r in rows if r.find_elements(By.CSS_SELECTOR, "td")[1].text.startswith("Mid3")]
    person = row.find_elements(By.CSS_SELECTOR, "td")[5].text
    assert "PROPOSED" in row.text
    row.find_element(By.CSS_SELECTOR, "a").click()

    assert wait_for(browser, "#proposal-state").text == "PROPOSED"
    fills = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#fills li")]
    worklist = fills[0].split(" in ")[0]
    assert len(fills) > 1 and not browser.find_elements(By.ID, "stays-open")
    proposal_url = browser.current_url
    approved = notice_after(browser, browser.find_element(By.ID, "approve"))
    assert approved.startswith("approved: assigned as OVERRIDE; recalculation requested")
    assert browser.current_url == proposal_url  # Post/Redirect/Get: the browser is on the proposal's page
    assert browser.find_element(By.ID, "proposal-state").text == "APPROVED"
    history = [tr.text for tr in browser.find_elements(By.CSS_SELECTOR, "#proposal-history tr")[1:]]
    assert len(history) == 2 and "olga create" in history[0] and "PROPOSED" in history[0]
    assert f"olga approve PROPOSED ({person}) APPROVED ({person})" in history[1]
    assert not browser.find_elements(By.ID, "approve")

    def covered() -> bool:
        browser.get(f"{console}/versions/{version_id}")
        square = wait_for(browser, f'table.month td[data-cell="2026-03-18|{worklist}"]')
        return "s-COVERED" in (square.get_attribute("class") or "").split()

    eventually(covered, WAIT_S * 2, f"{worklist} on 2026-03-18 covered after the recalculation")


@pytest.fixture(scope="module")
def gapped_version(pipeline: Pipeline) -> uuid.UUID:
    """An imported version whose 18th has nobody on Mid3 in the pipeline's Amion."""
    request_id = f"browser-gapped-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-16", "2026-03-18")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) == "COMPLETED"
    return ids.version_id_for(workflow_id)


def active(driver: WebDriver) -> WebElement:
    return driver.switch_to.active_element


def test_the_heat_map_by_keyboard_tab_to_a_square_and_read_its_tooltip(
    console: str, browser: WebDriver, gapped_version: uuid.UUID
) -> None:
    browser.get(f"{console}/versions/{gapped_version}")
    wait_for(browser, "table.month")
    tip = browser.find_element(By.ID, "tip")
    assert not tip.is_displayed()

    def on_a_square() -> WebElement | None:
        ActionChains(browser).send_keys(Keys.TAB).perform()
        element = active(browser)
        return element if element.get_attribute("data-cell") else None

    first = eventually(on_a_square, WAIT_S, "Tab to reach a heat map square")
    day, worklist = (first.get_attribute("data-cell") or "").split("|")
    assert first.get_attribute("aria-label") == f"{day} {worklist}: {first.get_attribute('data-status')}"
    WebDriverWait(browser, WAIT_S).until(lambda _: tip.is_displayed())
    assert f"{day} · {worklist}" in tip.text and " — " in tip.text  # its windows, roles, people and statuses
    box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top];", tip)
    assert box[0] >= 0 and box[1] >= 0  # inside the window

    ActionChains(browser).send_keys(Keys.TAB).perform()
    second = active(browser)
    assert second.get_attribute("data-cell") not in (None, first.get_attribute("data-cell"))
    WebDriverWait(browser, WAIT_S).until(lambda _: (second.get_attribute("data-cell") or "").split("|")[1] in tip.text)
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    assert not tip.is_displayed()


def test_the_open_proposals_of_every_version(console: str, browser: WebDriver, gapped_version: uuid.UUID) -> None:
    browser.get(f"{console}/versions/{gapped_version}/proposals")
    assert re.match(r"[1-9]\d* proposals created", notice_after(browser, wait_for(browser, "#create-proposals")))

    browser.find_element(By.LINK_TEXT, "Proposals").click()
    rows = WebDriverWait(browser, WAIT_S).until(
        lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#open-proposals tr.proposal")
                   if r.text.startswith(str(gapped_version)[:8])]
    )  # fmt: skip
    header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#open-proposals th")]
    assert header == ["version", "group", "date", "role", "person", "state", "created"]
    version, group, day, role, person, state, created = (td.text for td in rows[0].find_elements(By.TAG_NAME, "td"))
    assert version == str(gapped_version)[:8] and group and role and state == "PROPOSED"
    assert day.startswith("2026-03-1") and created.startswith("20")

    browser.find_element(By.NAME, "person").send_keys(person[:2].lower())
    browser.find_element(By.CSS_SELECTOR, "#search button").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: "person=" in d.current_url)
    found = [r.find_elements(By.TAG_NAME, "td")[4].text for r in browser.find_elements(By.CSS_SELECTOR, "tr.proposal")]
    assert person in found and all(name.lower().startswith(person[:2].lower()) for name in found)

    browser.find_element(By.CSS_SELECTOR, "tr.proposal td:nth-child(3) a").click()
    assert wait_for(browser, "#proposal-state").text == "PROPOSED"


def test_every_page_fits_a_500_px_window(
    pipeline: Pipeline, console: str, browser: WebDriver, gapped_version: uuid.UUID
) -> None:
    (workflow_id,) = pipeline.query("SELECT workflow_id FROM schedule_versions WHERE id = :id", id=gapped_version)[0]
    proposal = pipeline.query("SELECT id FROM proposals LIMIT 1")
    pages = [
        "/status", "/workflows", f"/workflows/{workflow_id}", "/versions", f"/versions/{gapped_version}",
        f"/versions/{gapped_version}/gaps", f"/versions/{gapped_version}/proposals",
        f"/versions/{gapped_version}/fairness", f"/versions/diff?a={gapped_version}&b={gapped_version}",
        "/proposals", "/dead-letters", *(f"/proposals/{p}" for (p,) in proposal),
        "/drafting", "/drafting/runs", "/drafting/time-off", "/drafting/groups/test-group",
    ]  # fmt: skip
    browser.set_window_size(500, 900)
    try:
        width = browser.execute_script("return window.innerWidth")
        assert 400 < width <= 500
        for path in pages:
            browser.get(f"{console}{path}")
            wait_for(browser, "#who")
            scroll = browser.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} is {scroll} px wide in a {width} px window"
    finally:
        browser.set_window_size(1400, 1000)


def test_after_an_action_the_url_is_the_page_and_reload_shows_it(
    pipeline: Pipeline, console: str, browser: WebDriver
) -> None:
    request_id = f"browser-prg-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-03")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    version_id = ids.version_id_for(ids.workflow_id_for(request_id))
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"
    page = f"{console}/versions/{version_id}"
    browser.get(page)

    wait_for(browser, "#promote-form input[name=force]").click()
    browser.find_element(By.CSS_SELECTOR, "#promote-form input[name=reason]").send_keys("checked by phone")
    assert notice_after(browser, browser.find_element(By.ID, "promote")).startswith("promoted to PRODUCTION")
    assert browser.current_url == page
    browser.refresh()  # a GET: no form sent again, no 405
    assert wait_for(browser, "#state").text == "PRODUCTION"
    assert not browser.find_elements(By.ID, "notice")  # the outcome was shown once
    assert [a for a in audited(pipeline, str(version_id)) if a[1] == "promote"] == [("olga", "promote")]


def test_redrive_a_dead_letter_from_its_group(pipeline: Pipeline, console: str, browser: WebDriver) -> None:
    request_id = f"browser-redrive-{uuid.uuid4()}"
    body = json.dumps(amqp_client.import_requested(request_id, pipeline.template, "2026-03-02", "2026-03-08"))
    message_id = f"browser-redrive-{uuid.uuid4()}"
    dlq = "schedcu.versions.dead-letter"
    amqp_client.park_in_dead_letters(pipeline.services.amqp_url, dlq, body.encode(), "import.requested", message_id)

    browser.get(f"{console}/dead-letters")
    (row,) = WebDriverWait(browser, WAIT_S).until(lambda d: row_of(d, message_id))
    group = row.find_element(By.XPATH, "ancestor::section")
    assert "worker crashed (test)" in group.find_element(By.CSS_SELECTOR, "h2").text
    assert "import.requested" in row.text
    assert notice_after(browser, row.find_element(By.CSS_SELECTOR, "button.redrive")) == f"1 redriven from {dlq}"
    assert not row_of(browser, message_id)
    assert pipeline.wait_terminal(ids.workflow_id_for(request_id)) == "COMPLETED"
    assert audited(pipeline, f"{dlq}/{message_id}") == [("olga", "redrive")]


def test_discard_a_dead_letter_after_confirming(pipeline: Pipeline, console: str, browser: WebDriver) -> None:
    message_id = amqp_client.publish(pipeline.services.amqp_url, b'{"schema_version": 1}')  # dead-lettered: invalid
    dlq = "schedcu.versions.dead-letter"

    def listed(driver: WebDriver) -> list[WebElement]:
        driver.get(f"{console}/dead-letters")
        return row_of(driver, message_id)

    (row,) = eventually(lambda: listed(browser), WAIT_S, "the invalid request in the dead letters page")
    when, deliveries = (cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")[2:4])
    assert when.startswith("20") and deliveries == "1"
    row.find_element(By.CSS_SELECTOR, "a.discard").click()
    assert message_id in wait_for(browser, "#what").text
    assert audited(pipeline, f"{dlq}/{message_id}") == []  # nothing happens before the confirmation
    assert notice_after(browser, browser.find_element(By.ID, "confirm")) == f"1 discarded from {dlq}"
    assert not row_of(browser, message_id)
    browser.get(f"{console}/dead-letters")
    wait_for(browser, "#who")
    assert not row_of(browser, message_id)
    assert audited(pipeline, f"{dlq}/{message_id}") == [("olga", "discard")]


def test_draft_a_week_and_read_its_run_page_with_the_fairness_chart(
    pipeline: Pipeline, console: str, browser: WebDriver
) -> None:
    request_id = f"browser-draft-{uuid.uuid4()}"  # a June week: Amion holds March only, so nothing is kept
    body = amqp_client.import_requested(request_id, pipeline.template, "2026-06-01", "2026-06-07")
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    workflow_id = ids.workflow_id_for(request_id)
    assert pipeline.wait_terminal(workflow_id) in ("COMPLETED", "COMPLETED_WITH_WARNINGS")

    browser.get(f"{console}/drafting")
    wait_for(browser, "#groups").find_element(By.LINK_TEXT, "test-group").click()
    form = wait_for(browser, "#rotation-form")
    Select(form.find_element(By.NAME, "weekday")).select_by_visible_text("mon")
    form.find_element(By.NAME, "role").send_keys("ON1")
    form.find_element(By.NAME, "person").send_keys("Adams, Ada")
    for name, day in (("from", "2026-06-01"), ("to", "2026-06-07")):
        browser.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, name), day)
    rotation = re.fullmatch(r"added rotation (\d+)", notice_after(browser, form.find_element(By.ID, "add-rotation")))
    assert rotation is not None
    assert "Adams, Ada" in browser.find_element(By.CSS_SELECTOR, f'#rotations tr[data-id="{rotation[1]}"]').text

    browser.get(f"{console}/drafting/runs")  # the period drafted as `schedcu draft new` drafts it
    form = wait_for(browser, "#draft-new-form")
    Select(form.find_element(By.NAME, "group")).select_by_visible_text("test-group")
    for name, value in (("start", "2026-06-01"), ("end", "2026-06-07"), ("time_limit", "20"), ("reason", "browser")):
        browser.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, name), value)
    requested = re.fullmatch(
        r"draft of version \S+ requested: workflow \S+, run (\S+)",
        notice_after(browser, form.find_element(By.ID, "draft-new")),
    )
    assert requested is not None
    run_id = requested[1]
    eventually(lambda: pipeline.query("SELECT 1 FROM draft_runs WHERE id = :r", r=run_id), WAIT_S, "the run to start")
    browser.get(f"{console}/drafting/runs/{run_id}")
    # a running run's page reloads itself until the run ends
    WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.ID, "state").text == "completed"
    )
    assert browser.find_element(By.ID, "outcome").text in ("OPTIMAL", "FEASIBLE")
    assert not browser.find_elements(By.ID, "progress")

    roles = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#grid tr:first-child th")][1:]
    grid = {
        row.get_attribute("data-date"): [td.text for td in row.find_elements(By.TAG_NAME, "td")[1:]]
        for row in browser.find_elements(By.CSS_SELECTOR, "#grid tr[data-date]")
    }
    assert len(grid) == 7 and grid["2026-06-01"][roles.index("ON1")] == "Adams, Ada"  # the rotation, honored
    nights = Counter(name for names in grid.values() for name in names if name and name != "(unfilled)")

    bars = browser.find_elements(By.CSS_SELECTOR, "svg#fairness-chart g.bar")
    # the table's nights: held before (history: the group's production versions of the year before) + this week
    rows = [row.find_elements(By.TAG_NAME, "td") for row in browser.find_elements(By.CSS_SELECTOR, "#fairness tr")[1:]]
    table = {cells[0].text: tuple(int(n) for n in cells[2].text.split(" + ")) for cells in rows}
    assert {name: held for name, (_, held) in table.items() if held} == dict(nights)
    assert table and len(bars) == 3 * len(table)
    drawn = {
        bar.get_attribute("data-person"): (
            int(bar.get_attribute("data-held") or 0),
            bar.find_element(By.CSS_SELECTOR, "rect.before").size["width"],
            bar.find_element(By.CSS_SELECTOR, "rect.held").size["width"],
        )
        for bar in bars
        if bar.get_attribute("data-category") == "nights"
    }
    for name, (before, held) in table.items():
        total, before_width, held_width = drawn[name]
        assert total == before + held and (before_width > 0) == (before > 0) and (held_width > 0) == (held > 0)
    most = max(table, key=lambda name: sum(table[name]))
    longest = max(drawn, key=lambda name: drawn[name][1] + drawn[name][2])
    assert sum(table[longest]) == sum(table[most])  # the most nights, the longest bar

    browser.set_window_size(500, 900)
    try:
        browser.refresh()
        wait_for(browser, "#fairness-chart")
        width = browser.execute_script("return window.innerWidth")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    finally:
        browser.set_window_size(1400, 1000)

    # approve two ticked rows, then every open row, from the page
    boxes = browser.find_elements(By.CSS_SELECTOR, "#grid input[name=row]")
    assert len(boxes) == sum(nights.values())
    for box in boxes[:2]:
        box.click()
    assert re.fullmatch(r"approved 2 rows as DRAFT assignments; recalculation requested: calculation \S+",
                        notice_after(browser, browser.find_element(By.ID, "approve-selected")))  # fmt: skip
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grid td.row-approved")) == 2
    approved_all = notice_after(browser, browser.find_element(By.ID, "approve-all"))
    assert approved_all.startswith(f"approved {len(boxes) - 2} rows as DRAFT assignments")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grid td.row-approved")) == len(boxes)
    assert not browser.find_elements(By.CSS_SELECTOR, "#grid input[name=row]")
    assert (
        browser.find_element(By.ID, "export-csv").get_attribute("href").endswith(f"/drafting/runs/{run_id}/draft.csv")
    )
    approvals = pipeline.query(
        "SELECT actor, count(*) FROM audit_log WHERE entity = 'draft_row' AND entity_id LIKE :r GROUP BY actor",
        r=f"{run_id}:%",
    )
    assert approvals == [("olga", len(boxes))]
    assert pipeline.query("SELECT actor FROM draft_runs WHERE id = :r", r=run_id) == [("olga",)]

    browser.find_element(By.LINK_TEXT, "test-group").click()
    row = wait_for(browser, f'#rotations tr[data-id="{rotation[1]}"]')
    assert (
        notice_after(browser, row.find_element(By.CSS_SELECTOR, "button.remove")) == f"removed rotation {rotation[1]}"
    )
    assert audited(pipeline, f"rotation:{rotation[1]}") == [("olga", "add"), ("olga", "remove")]


def test_console_log_has_no_token(console: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = list(Path(tmp_path_factory.getbasetemp()).glob("console*/console.log"))
    assert logs and all(OPERATOR_TOKEN not in log.read_text() for log in logs)
