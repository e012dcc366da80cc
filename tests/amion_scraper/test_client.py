import asyncio
import html
import logging
import socket
import time
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
import yaml

from schedcu.testing.fake_amion import FakeAmion, load_truth
from services.amion_scraper.client import AmionAuthError, AmionClient, Politeness, month_query
from services.amion_scraper.pages import parse_page
from services.amion_scraper.report import parse_report
from services.amion_scraper.rows import months_of_period

PASSWORD = "secret pw"
SECRET_FORMS = (PASSWORD, "secret+pw", "secret%20pw")
AMION = "http://amion.test/cgi-bin/ocs"

TRUTH = {
    "password": PASSWORD,
    "assignments": [
        {"date": date(2026, 1, 5), "label": "ON1", "name": "Smith, John", "start": "0100", "end": "0800"},
        {"date": date(2026, 1, 31), "label": "ON2", "name": "Doe, Jane", "start": "1700", "end": "0000"},
        {"date": date(2026, 2, 1), "label": "MidC", "name": "Lee, Ann", "start": "1700", "end": "1700"},
    ],
}

# requests reach the transport a little after their turn: without spacing they come ~0 s apart, with a 0.15 s
# interval at least this far apart even on a loaded machine
SPACED = 0.1


def _write_truth(tmp_path: Path, **overrides: object) -> Path:
    path = tmp_path / "truth.yaml"
    path.write_text(yaml.safe_dump({**TRUTH, **overrides}), encoding="utf-8")
    return path


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeAmion]:
    with FakeAmion(_write_truth(tmp_path)) as server:
        yield server


def _quick(**limits: float) -> Politeness:
    return Politeness(min_interval_s=limits.get("min_interval_s", 0), max_in_flight=int(limits.get("in_flight", 5)))


def _all_text(exc: BaseException) -> str:
    """str and repr of the exception and of everything chained to it."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), *map(str, seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text


def test_months_of_period() -> None:
    assert months_of_period(date(2025, 12, 20), date(2026, 2, 1)) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert months_of_period(date(2026, 1, 5), date(2026, 1, 5)) == [date(2026, 1, 1)]
    with pytest.raises(ValueError):
        months_of_period(date(2026, 2, 1), date(2026, 1, 1))


def test_month_query_for_report_and_grid() -> None:
    assert month_query(date(2026, 2, 1), "report", "625c") == {"Rpt": "625c", "Month": "2-26", "Days": 28}
    assert month_query(date(2024, 2, 1), "report", "619") == {"Rpt": "619", "Month": "2-24", "Days": 29}
    assert month_query(date(2026, 12, 1), "grid", "619") == {"Page": "Call", "Month": "12-26"}


async def test_fetches_two_months_from_the_fake(fake: FakeAmion, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with AmionClient(fake.base_url, PASSWORD, politeness=_quick()) as client:
        fetched = await client.fetch_months([date(2026, 1, 1), date(2026, 2, 1)])

    assert [f.month for f in fetched] == [date(2026, 1, 1), date(2026, 2, 1)]
    assert all(f.error is None and len(f.responses) == 1 for f in fetched)
    truth = load_truth(Path(str(fake.truth)))
    january, february = (parse_report(f.page.body) for f in fetched if f.page)
    assert january.findings == february.findings == ()
    assert january.rows == truth.assignments[:2]
    assert february.rows == truth.assignments[2:]
    for f in fetched:
        assert f.page is not None and f.page.status == 200
        assert "Lo=***" in f.page.url and "Rpt=619" in f.page.url
        assert len(f.page.sha256) == 64
        _assert_no_secret(f.page.url)
    assert fetched[1].page and "Month=2-26&Days=28" in fetched[1].page.url
    assert fake.ocs_requests == 2
    _assert_no_secret(caplog.text)


async def test_a_span_of_days_is_one_request_across_the_months_end(fake: FakeAmion) -> None:
    async with AmionClient(fake.base_url, PASSWORD, politeness=_quick()) as client:
        fetched = await client.fetch_days(date(2026, 1, 31), 2)
    assert fetched.page is not None and "Month=1-26&Day=31&Days=2" in fetched.page.url
    assert parse_report(fetched.page.body).rows == load_truth(Path(str(fake.truth))).assignments[1:]
    assert fake.ocs_requests == 1
    async with AmionClient(fake.base_url, PASSWORD, politeness=_quick()) as client:
        later = await client.fetch_days(date(2026, 1, 6), 3)
    assert later.page is not None and later.page.body.startswith("NOFI=No file")  # Jan 6-8: nobody on call


async def test_grid_source_asks_for_page_call(fake: FakeAmion) -> None:
    async with AmionClient(fake.base_url, PASSWORD, source="grid", politeness=_quick()) as client:
        fetched = await client.fetch_month(date(2026, 1, 1))
    assert fetched.page is not None
    assert "Page=Call&Month=1-26" in fetched.page.url
    assert fetched.page.body.lstrip().startswith("<HTML>")


async def test_month_without_rows_is_nofi_no_file(fake: FakeAmion) -> None:
    async with AmionClient(fake.base_url, PASSWORD, politeness=_quick()) as client:
        fetched = await client.fetch_month(date(2026, 3, 1))
    assert fetched.page is not None and fetched.page.body == "NOFI=No file"


@pytest.mark.parametrize("password", ["two  spaces here", "a+b&c=d %e", "Zürich pw"])
async def test_passwords_with_spaces_and_reserved_characters(tmp_path: Path, password: str) -> None:
    with FakeAmion(_write_truth(tmp_path, password=password)) as server:
        async with AmionClient(server.base_url, password, politeness=_quick()) as client:
            fetched = await client.fetch_month(date(2026, 1, 1))
    assert fetched.page is not None and len(parse_report(fetched.page.body).rows) == 2


async def test_bad_password_is_an_auth_error_not_retried_and_stops_every_month(
    fake: FakeAmion, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    months = months_of_period(date(2026, 1, 1), date(2026, 6, 30))
    async with AmionClient(
        fake.base_url, "wrong pw", politeness=_quick(min_interval_s=0.05, in_flight=1), attempts=4, backoff_s=0.01
    ) as client:
        with pytest.raises(AmionAuthError) as info:
            await client.fetch_months(months)
    assert fake.ocs_requests == 1
    assert info.value.page.body == "NOFI=Bad password"
    text = _all_text(info.value) + caplog.text + info.value.page.url
    for form in ("wrong pw", "wrong+pw", "wrong%20pw"):
        assert form not in text


ECHOED_PASSWORD = "s3cret pw/&<x>"


def _echoing(request: httpx.Request) -> httpx.Response:
    """Amion's error pages repeating the URL asked for, each month's in other encodings, none behind `Lo=`."""
    sent = str(request.url)  # ...?Lo=s3cret+pw%2F%26%3Cx%3E&Rpt=...
    password = request.url.params["Lo"]
    pages = {
        "1-26": (404, f"<html><body>Not found: {html.escape(sent)} (password {html.escape(password)})</body></html>"),
        "2-26": (200, f"NOFI=Unknown password {password} in {unquote(sent).replace('Lo=', 'login ')}"),
        "3-26": (500, f"<a href='/retry?next={quote(sent, safe='')}'>again</a> {quote(password)} {sent.lower()}"),
    }
    status, body = pages[request.url.params["Month"]]
    return httpx.Response(status, text=body)


async def test_a_page_echoing_the_url_is_kept_without_the_password_in_any_encoding() -> None:
    transport = httpx.MockTransport(_echoing)
    async with AmionClient(
        AMION, ECHOED_PASSWORD, politeness=_quick(), attempts=1, transport=transport
    ) as client:  # fmt: skip
        fetched = await client.fetch_months(months_of_period(date(2026, 1, 1), date(2026, 3, 31)))
    bodies = [page.body for month in fetched for page in month.responses]
    assert len(bodies) == 3 and all("***" in body for body in bodies)
    findings = [f.text for month in fetched if month.page for f in parse_page(month.page.body).findings]
    errors = [month.error or "" for month in fetched]
    for text in [*bodies, *findings, *errors]:
        assert "s3cret" not in text.lower()
        assert "x%3e" not in text.lower() and "x&gt;" not in text and "x%253e" not in text.lower()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_errors_are_retried_then_the_month_fails_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{_closed_port()}/cgi-bin/ocs"
    async with AmionClient(url, PASSWORD, politeness=_quick(), attempts=2, backoff_s=0.01) as client:
        fetched = await client.fetch_month(date(2026, 1, 1))
    assert fetched.page is None and fetched.responses == ()
    assert fetched.error is not None and "gave up after 2 attempts" in fetched.error
    _assert_no_secret(fetched.error + caplog.text)


async def test_httpx_errors_carrying_the_url_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    transport = httpx.MockTransport(handler)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), attempts=2, backoff_s=0.01, transport=transport) as c:
        fetched = await c.fetch_month(date(2026, 1, 1))
    assert fetched.error is not None and "cannot reach" in fetched.error
    _assert_no_secret(fetched.error + caplog.text)


async def test_timeout_is_retried_and_reported_without_the_password(fake: FakeAmion) -> None:
    fake.inject(latency_s=5)
    async with AmionClient(
        fake.base_url, PASSWORD, timeout=0.2, politeness=_quick(), attempts=2, backoff_s=0.01
    ) as client:
        fetched = await client.fetch_month(date(2026, 1, 1))
    assert fetched.error is not None and "timed out" in fetched.error
    assert fake.ocs_requests == 2
    _assert_no_secret(fetched.error)


async def test_one_month_failing_does_not_stop_the_others() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["Month"] == "2-26":
            return httpx.Response(500)
        return httpx.Response(200, text="NOFI=No file")

    transport = httpx.MockTransport(handler)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), attempts=3, backoff_s=0.01, transport=transport) as c:
        fetched = await c.fetch_months(months_of_period(date(2026, 1, 1), date(2026, 3, 31)))
    assert [f.error is None for f in fetched] == [True, False, True]
    assert [r.status for r in fetched[1].responses] == [500, 500, 500]
    assert fetched[1].error is not None and "HTTP 500" in fetched[1].error


def _recording_transport(responses: list[httpx.Response], starts: list[float]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        starts.append(time.monotonic())
        return responses.pop(0) if responses else httpx.Response(200, text="NOFI=No file")

    return httpx.MockTransport(handler)


async def test_429_honours_retry_after_then_succeeds_and_every_response_is_kept() -> None:
    starts: list[float] = []
    responses = [httpx.Response(429, headers={"Retry-After": "0.3"}, text="slow down"), httpx.Response(503)]
    transport = _recording_transport(responses, starts)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), backoff_s=0.01, transport=transport) as client:
        fetched = await client.fetch_month(date(2026, 1, 1))
    assert fetched.page is not None and fetched.page.body == "NOFI=No file"
    assert [r.status for r in fetched.responses] == [429, 503, 200]
    assert fetched.responses[0].body == "slow down"
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 0.3


async def test_retry_after_holds_back_the_accounts_other_requests() -> None:
    starts: dict[str, list[float]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        month = request.url.params["Month"]
        starts.setdefault(month, []).append(time.monotonic())
        if month == "1-26" and len(starts[month]) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.4"})
        return httpx.Response(200, text="NOFI=No file")

    politeness = _quick(min_interval_s=0.05)
    async with AmionClient(AMION, PASSWORD, politeness=politeness, backoff_s=0.01,
                           transport=httpx.MockTransport(handler)) as client:  # fmt: skip
        await client.fetch_months([date(2026, 1, 1), date(2026, 2, 1)])
    # February was due 0.05 s after January's first try; Amion's Retry-After pushed it back.
    assert starts["2-26"][0] - starts["1-26"][0] >= 0.4


async def test_retry_after_beyond_the_limit_fails_the_month_at_once() -> None:
    starts: list[float] = []
    transport = _recording_transport([httpx.Response(503, headers={"Retry-After": "3600"})], starts)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), max_retry_after_s=60, transport=transport) as c:
        fetched = await c.fetch_month(date(2026, 1, 1))
    assert len(starts) == 1
    assert fetched.error is not None and "Retry-After 3600 s is too long" in fetched.error


async def test_client_errors_other_than_429_are_not_retried() -> None:
    starts: list[float] = []
    transport = _recording_transport([httpx.Response(404)], starts)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), transport=transport) as c:
        fetched = await c.fetch_month(date(2026, 1, 1))
    assert fetched.error is not None and "HTTP 404" in fetched.error
    assert len(starts) == 1


async def test_a_page_over_the_size_limit_is_refused() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 5000))
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), max_page_bytes=1000, transport=transport) as c:
        fetched = await c.fetch_month(date(2026, 1, 1))
    assert fetched.error is not None and "larger than 1000 bytes" in fetched.error


async def test_rate_limit_spaces_request_starts_and_the_first_does_not_wait() -> None:
    starts: list[float] = []
    transport = _recording_transport([], starts)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(min_interval_s=0.15), transport=transport) as c:
        began = time.monotonic()
        await c.fetch_months(months_of_period(date(2026, 1, 1), date(2026, 4, 1)))
    gaps = [b - a for a, b in pairwise(starts)]
    assert len(starts) == 4
    assert starts[0] - began < 0.1
    assert all(gap >= SPACED for gap in gaps)


async def test_two_clients_of_one_account_share_its_rate_limit() -> None:
    starts: list[float] = []
    transport = _recording_transport([], starts)
    politeness = _quick(min_interval_s=0.15)
    async with (
        AmionClient(AMION, PASSWORD, politeness=politeness, transport=transport) as first,
        AmionClient(AMION, PASSWORD, politeness=politeness, transport=transport) as second,
    ):
        await asyncio.gather(
            first.fetch_months([date(2026, 1, 1), date(2026, 2, 1)]),
            second.fetch_months([date(2026, 3, 1), date(2026, 4, 1)]),
        )
    assert len(starts) == 4
    assert all(b - a >= SPACED for a, b in pairwise(sorted(starts)))


async def test_in_flight_limit() -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)  # simulated server work, not synchronisation
        in_flight -= 1
        return httpx.Response(200, text="NOFI=No file")

    transport = httpx.MockTransport(handler)
    async with AmionClient(AMION, PASSWORD, politeness=_quick(in_flight=2), transport=transport) as client:
        fetched = await client.fetch_months(months_of_period(date(2026, 1, 1), date(2026, 6, 1)))
    assert len(fetched) == 6
    assert peak == 2


async def test_iso_8859_1_is_the_default_charset() -> None:
    body = 'Assignments for January 2026\n\n"Müller, Jörg",1,2,"ON1",3,4,1-5-26,0100,0800\n'.encode("iso-8859-1")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with AmionClient(AMION, PASSWORD, politeness=_quick(), transport=transport) as c:
        fetched = await c.fetch_month(date(2026, 1, 1))
    assert fetched.page is not None
    assert parse_report(fetched.page.body).rows[0].name == "Müller, Jörg"


def test_every_scrape_of_an_account_shares_one_politeness_across_processes() -> None:
    from services.amion_scraper.handlers import politeness_for
    from services.amion_scraper.rate_limit import SharedPoliteness
    from shared.settings import AmionAccount

    account = AmionAccount(requests_per_s=1 / 0.15, max_in_flight=2)
    first = politeness_for("account-a", account)
    assert isinstance(first, SharedPoliteness)  # spacing kept in PostgreSQL: tests/amion_scraper/test_rate_limit.py
    assert politeness_for("account-a", account) is first
    assert politeness_for("account-b", account) is not first
