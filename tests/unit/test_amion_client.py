import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import yaml

from services.amion_scraper.client import (
    AmionAuthError,
    AmionClient,
    AmionFetchError,
    months_of_period,
)
from services.amion_scraper.fake_amion import FakeAmion, load_truth
from services.amion_scraper.report import parse_report

PASSWORD = "secret pw"
SECRET_FORMS = (PASSWORD, "secret+pw", "secret%20pw")

TRUTH = {
    "password": PASSWORD,
    "assignments": [
        {"date": date(2026, 1, 5), "label": "ON1", "name": "Smith, John", "start": "0100", "end": "0800"},
        {"date": date(2026, 1, 31), "label": "ON2", "name": "Doe, Jane", "start": "1700", "end": "0000"},
        {"date": date(2026, 2, 1), "label": "MidC", "name": "Lee, Ann", "start": "1700", "end": "1700"},
    ],
}


def _write_truth(tmp_path: Path, **overrides: object) -> Path:
    path = tmp_path / "truth.yaml"
    path.write_text(yaml.safe_dump({**TRUTH, **overrides}), encoding="utf-8")
    return path


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeAmion]:
    with FakeAmion(_write_truth(tmp_path)) as server:
        yield server


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


async def test_fetches_two_months_from_the_fake(fake: FakeAmion, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with AmionClient(fake.base_url, PASSWORD, min_interval_s=0.01) as client:
        pages = await client.fetch_months([date(2026, 1, 1), date(2026, 2, 1)])

    assert [p.month for p in pages] == [date(2026, 1, 1), date(2026, 2, 1)]
    truth = load_truth(Path(str(fake.truth)))
    january, february = (parse_report(p.body) for p in pages)
    assert january.findings == february.findings == ()
    assert january.rows == truth.assignments[:2]
    assert february.rows == truth.assignments[2:]
    for page in pages:
        assert page.status == 200
        assert "Lo=***" in page.url and "Rpt=619" in page.url
        assert len(page.sha256) == 64
        _assert_no_secret(page.url)
    assert "Month=2-26&Days=28" in pages[1].url
    assert fake.ocs_requests == 2
    _assert_no_secret(caplog.text)


async def test_month_without_rows_is_nofi_no_file(fake: FakeAmion) -> None:
    async with AmionClient(fake.base_url, PASSWORD, min_interval_s=0) as client:
        page = await client.fetch_report_month(date(2026, 3, 1))
    assert page.body == "NOFI=No file"


@pytest.mark.parametrize("password", ["two  spaces here", "a+b&c=d %e", "Zürich pw"])
async def test_passwords_with_spaces_and_reserved_characters(tmp_path: Path, password: str) -> None:
    with FakeAmion(_write_truth(tmp_path, password=password)) as server:
        async with AmionClient(server.base_url, password, min_interval_s=0) as client:
            page = await client.fetch_report_month(date(2026, 1, 1))
    assert len(parse_report(page.body).rows) == 2


async def test_bad_password_is_an_auth_error_and_not_retried(fake: FakeAmion, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with AmionClient(fake.base_url, "wrong pw", min_interval_s=0, attempts=4, backoff_s=0.01) as client:
        with pytest.raises(AmionAuthError) as info:
            await client.fetch_months([date(2026, 1, 1)])
    assert fake.ocs_requests == 1
    text = _all_text(info.value) + caplog.text
    for form in ("wrong pw", "wrong+pw"):
        assert form not in text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_errors_are_retried_then_raised_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{_closed_port()}/cgi-bin/ocs"
    async with AmionClient(url, PASSWORD, min_interval_s=0, attempts=2, backoff_s=0.01) as client:
        with pytest.raises(AmionFetchError) as info:
            await client.fetch_report_month(date(2026, 1, 1))
    assert "gave up after 2 attempts" in str(info.value)
    _assert_no_secret(_all_text(info.value) + caplog.text)


async def test_httpx_errors_carrying_the_url_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    transport = httpx.MockTransport(handler)
    async with AmionClient(
        "http://amion.test/cgi-bin/ocs", PASSWORD, 1, 5, 0, 2, backoff_s=0.01, transport=transport
    ) as c:
        with pytest.raises(AmionFetchError) as info:
            await c.fetch_report_month(date(2026, 1, 1))
    assert "cannot reach" in str(info.value)
    _assert_no_secret(_all_text(info.value) + caplog.text)


async def test_timeout_is_retried_and_reported_without_the_password(fake: FakeAmion) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{fake.root_url}/faults", json={"latency_s": 5})).raise_for_status()
    async with AmionClient(fake.base_url, PASSWORD, timeout=0.2, min_interval_s=0, attempts=2, backoff_s=0.01) as c:
        with pytest.raises(AmionFetchError) as info:
            await c.fetch_report_month(date(2026, 1, 1))
    assert "timed out" in str(info.value)
    assert fake.ocs_requests == 2
    _assert_no_secret(_all_text(info.value))


async def test_latency_fault_slows_the_request(fake: FakeAmion) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{fake.root_url}/faults", json={"latency_s": 0.4})
        assert response.json() == {"latency_s": 0.4}
        assert (await http.get(f"{fake.root_url}/faults")).json() == {"latency_s": 0.4}
        async with AmionClient(fake.base_url, PASSWORD, min_interval_s=0) as client:
            began = time.monotonic()
            page = await client.fetch_report_month(date(2026, 1, 1))
            slow = time.monotonic() - began
            await http.post(f"{fake.root_url}/faults", json={"latency_s": 0})
            began = time.monotonic()
            await client.fetch_report_month(date(2026, 1, 1))
            fast = time.monotonic() - began
    assert page.body.startswith("Assignments for January 2026")
    assert slow >= 0.4
    assert fast < 0.4


def _recording_transport(responses: list[httpx.Response], starts: list[float]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        starts.append(time.monotonic())
        return responses.pop(0) if responses else httpx.Response(200, text="NOFI=No file")

    return httpx.MockTransport(handler)


async def test_429_honours_retry_after_then_succeeds() -> None:
    starts: list[float] = []
    responses = [httpx.Response(429, headers={"Retry-After": "0.3"}), httpx.Response(503)]
    transport = _recording_transport(responses, starts)
    async with AmionClient("http://amion.test/cgi-bin/ocs", PASSWORD, min_interval_s=0, backoff_s=0.01,
                           transport=transport) as client:  # fmt: skip
        page = await client.fetch_report_month(date(2026, 1, 1))
    assert page.body == "NOFI=No file"
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 0.3


async def test_client_errors_other_than_429_are_not_retried() -> None:
    starts: list[float] = []
    transport = _recording_transport([httpx.Response(404)], starts)
    async with AmionClient("http://amion.test/cgi-bin/ocs", PASSWORD, min_interval_s=0, transport=transport) as c:
        with pytest.raises(AmionFetchError, match="HTTP 404"):
            await c.fetch_report_month(date(2026, 1, 1))
    assert len(starts) == 1


async def test_rate_limit_spaces_request_starts() -> None:
    starts: list[float] = []
    transport = _recording_transport([], starts)
    async with AmionClient("http://amion.test/cgi-bin/ocs", PASSWORD, min_interval_s=0.15, transport=transport) as c:
        await c.fetch_months(months_of_period(date(2026, 1, 1), date(2026, 4, 1)))
    gaps = [b - a for a, b in pairwise(starts)]
    assert len(starts) == 4
    assert all(gap >= 0.14 for gap in gaps)


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
    async with AmionClient("http://amion.test/cgi-bin/ocs", PASSWORD, max_in_flight=2, min_interval_s=0,
                           transport=transport) as client:  # fmt: skip
        pages = await client.fetch_months(months_of_period(date(2026, 1, 1), date(2026, 6, 1)))
    assert len(pages) == 6
    assert peak == 2


async def test_iso_8859_1_is_the_default_charset() -> None:
    body = 'Assignments for January 2026\n\n"Müller, Jörg",1,2,"ON1",3,4,1-5-26,0100,0800\n'.encode("iso-8859-1")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with AmionClient("http://amion.test/cgi-bin/ocs", PASSWORD, min_interval_s=0, transport=transport) as c:
        page = await c.fetch_report_month(date(2026, 1, 1))
    assert parse_report(page.body).rows[0].name == "Müller, Jörg"
