"""Async Amion HTTP client: one page per month (report or grid), polite, retried, password never disclosed.

Politeness is per account: one `Politeness` (a rate limit on request starts and a cap on requests in flight)
is shared by every client of the account in the process. Timeouts, connection errors, 429 and 5xx are
retried with exponential backoff and full jitter (tenacity); a `Retry-After` is honoured, and it also holds
back the account's other requests. `NOFI=Bad password` is an authentication error, never retried: it stops
the whole scrape. Any other failure is the month's alone: the other months go on.

The password travels in the query (`Lo=`), so every URL is a secret. Nothing this module logs, traces, raises
or returns contains it: a response body is redacted (every `Lo=` value, and the password in each form the URL
could be echoed in) before anyone reads or archives it, URLs are shown with `Lo=***`, httpx exceptions (which
carry the request URL) are replaced by our own exceptions raised outside the `except` block (no `__context__`
pointing at them), and httpx's own request log line is redacted by a filter on the `httpx` logger.
"""

import asyncio
import calendar
import codecs
import email.utils
import hashlib
import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Literal, Self
from urllib.parse import quote, quote_plus

import httpx
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from shared.tls import client_context

from .report import ReportKind
from .rows import month_key

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

Source = Literal["report", "grid"]

MAX_PAGE_BYTES = 5_000_000  # a month's grid is ~40 kB; anything this large is not an Amion page

_LO_RE = re.compile(r"(Lo=)[^&\s\"']*", re.IGNORECASE)


def redact_url(text: str) -> str:
    """Replace the value of every `Lo=` parameter in `text` by `***`."""
    return _LO_RE.sub(r"\1***", text)


class _RedactLoFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _install_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactLoFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactLoFilter())


_install_log_redaction()


def password_forms(password: str) -> list[str]:
    """Every way a page may echo the password of the URL it was asked for: as is (or with `+` for a space),
    percent-encoded as httpx sent it or as `quote`/`quote_plus` write it, each of those encoded once more (the
    URL inside another URL's query), with either case of hex digit, and all of them HTML-escaped. Longest
    first, so that no form is left half replaced."""
    if not password:
        return []
    sent = str(httpx.QueryParams({"Lo": password})).removeprefix("Lo=")
    plus = password.replace(" ", "+")
    encoded = {password, plus, sent, quote(password), quote(password, safe=""), quote_plus(password)}
    encoded |= {quote(form, safe="") for form in encoded}
    encoded |= {re.sub(r"%[0-9A-F]{2}", lambda hexes: hexes.group().lower(), form) for form in encoded}
    forms = encoded | {html.escape(form) for form in encoded}
    return sorted(forms, key=len, reverse=True)


class AmionAuthError(Exception):
    """Amion refused the view password (`NOFI=Bad password`). Never retried."""

    def __init__(self, text: str, page: "FetchedPage") -> None:
        super().__init__(text)
        self.page = page


class AmionFetchError(Exception):
    """A month could not be fetched (network, HTTP status, retries exhausted). The text is safe to show."""


class _RetryableError(AmionFetchError):
    def __init__(self, text: str, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchedPage:
    """One HTTP response from Amion, as archived."""

    month: date
    url: str  # with Lo=***
    status: int
    body: str
    fetched_at: datetime
    sha256: str  # of the response bytes as received


@dataclass(frozen=True)
class MonthFetch:
    """Everything Amion answered for one month (every attempt's response, in order), and why the month
    could not be fetched when it could not."""

    month: date  # the first day of the month, or of the span of `fetch_days`
    responses: tuple[FetchedPage, ...] = ()
    error: str | None = None

    @property
    def page(self) -> FetchedPage | None:
        """The page to parse: the last response, when the month was fetched."""
        return None if self.error is not None or not self.responses else self.responses[-1]


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Politeness:
    """One account's limits, shared by all its requests in this process: request starts at least
    `min_interval_s` apart (the first one at once), at most `max_in_flight` requests at a time."""

    def __init__(self, max_in_flight: int = 5, min_interval_s: float = 1.0) -> None:
        if max_in_flight < 1 or min_interval_s < 0:
            raise ValueError("max_in_flight must be at least 1 and min_interval_s not negative")
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self._interval = min_interval_s
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    async def wait_turn(self) -> None:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            start = max(now, self._next_start)
            if start > now:
                await asyncio.sleep(start - now)
            self._next_start = start + self._interval

    async def hold_back(self, seconds: float) -> None:
        """No request of the account starts within `seconds` from now (Amion said `Retry-After`)."""
        self._next_start = max(self._next_start, asyncio.get_running_loop().time() + seconds)


def _month_text(day: date) -> str:
    return f"{day.month}-{day.year % 100:02d}"


def month_query(month: date, source: Source, report: ReportKind) -> dict[str, str | int]:
    """The query (without `Lo`) that asks Amion for one month."""
    if source == "grid":
        return {"Page": "Call", "Month": _month_text(month)}
    return {"Rpt": report, "Month": _month_text(month), "Days": calendar.monthrange(month.year, month.month)[1]}


def days_query(start: date, days: int, report: ReportKind) -> dict[str, str | int]:
    """The query (without `Lo`) that asks Amion's report for `days` dates from `start`, across a month's end."""
    return {"Rpt": report, "Month": _month_text(start), "Day": start.day, "Days": days}


class AmionClient:
    """Fetches one Amion page per month. Use as `async with AmionClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        password: str,
        *,
        source: Source = "report",
        report: ReportKind = "619",
        politeness: Politeness | None = None,
        timeout: float = 10,
        attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        max_page_bytes: int = MAX_PAGE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._base_url = base_url
        self._password = password
        self._source: Source = source
        self._report: ReportKind = report
        self._politeness = politeness or Politeness()
        self._attempts = attempts
        self._max_retry_after_s = max_retry_after_s
        self._max_page_bytes = max_page_bytes
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, verify=client_context())
        self._password_forms = password_forms(password)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _redact(self, text: str) -> str:
        text = redact_url(text)
        for form in self._password_forms:
            text = text.replace(form, "***")
        return text

    def _url(self, query: dict[str, str | int]) -> httpx.URL:
        # httpx form-encodes params: a space in the password goes out as `+`, as Amion expects.
        return httpx.URL(self._base_url, params={"Lo": self._password, **query})

    async def fetch_month(self, month: date) -> MonthFetch:
        """The month's page with every response received on the way. Raises only AmionAuthError."""
        month = month.replace(day=1)
        return await self._fetch(month, month_query(month, self._source, self._report))

    async def fetch_days(self, start: date, days: int) -> MonthFetch:
        """The report of `days` dates from `start` in one request (its `month` is `start`); for a report account
        only (the grid has no such page). Raises only AmionAuthError."""
        if self._source != "report":
            raise ValueError("only Amion's report serves a span of days")
        return await self._fetch(start, days_query(start, days, self._report))

    async def _fetch(self, month: date, query: dict[str, str | int]) -> MonthFetch:
        url = self._url(query)
        safe_url = redact_url(str(url))
        responses: list[FetchedPage] = []
        error: str | None = None
        with tracer.start_as_current_span(
            "amion fetch month",
            attributes={"amion.month": month_key(month), "url.full": safe_url},
            record_exception=False,  # the status says what went wrong, in words known to be safe
        ) as span:
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self._attempts),
                    wait=self._wait,
                    retry=retry_if_exception_type(_RetryableError),
                    before_sleep=self._log_retry,
                    reraise=False,
                ):
                    with attempt:
                        await self._get_once(month, url, safe_url, responses)
            except RetryError as exc:
                error = f"gave up after {self._attempts} attempts: {exc.last_attempt.exception()}"
            except AmionFetchError as exc:
                error = str(exc)
            span.set_attribute("amion.responses", len(responses))
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error))
                log.warning("amion: %s not fetched: %s", safe_url, error)
            else:
                log.info("amion: fetched %s (%d chars)", safe_url, len(responses[-1].body))
        return MonthFetch(month=month, responses=tuple(responses), error=error)

    async def fetch_months(self, months: Iterable[date]) -> list[MonthFetch]:
        """All months concurrently (under the account's politeness), in the order given. A bad password
        cancels the other months and raises AmionAuthError."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.fetch_month(m)) for m in months]
        except ExceptionGroup as eg:
            auth = next((e for e in eg.exceptions if isinstance(e, AmionAuthError)), None)
            if auth is None:
                raise
            raise auth from None
        return [t.result() for t in tasks]

    async def _get_once(self, month: date, url: httpx.URL, safe_url: str, responses: list[FetchedPage]) -> None:
        failure: AmionFetchError | None = None
        async with self._politeness.in_flight:
            await self._politeness.wait_turn()
            try:
                status, headers, raw = await self._get(url)
            except httpx.TimeoutException as exc:
                failure = _RetryableError(f"Amion {safe_url}: timed out ({type(exc).__name__})")
            except httpx.TransportError as exc:
                failure = _RetryableError(f"Amion {safe_url}: {type(exc).__name__}: {self._redact(str(exc))}")
            except httpx.HTTPError as exc:
                failure = AmionFetchError(f"Amion {safe_url}: {type(exc).__name__}: {self._redact(str(exc))}")
        if failure is not None:  # raised here, outside `except`, so no httpx exception hangs on it
            raise failure
        if raw is None:
            raise AmionFetchError(f"Amion {safe_url}: the page is larger than {self._max_page_bytes} bytes")

        text = raw.decode(_charset(headers), errors="replace")
        # an error page may echo the URL asked for: the body is archived and parsed without the password
        body = self._redact(text)
        page = FetchedPage(
            month=month,
            url=safe_url,
            status=status,
            body=body,
            fetched_at=datetime.now(UTC),
            sha256=hashlib.sha256(raw).hexdigest(),
        )
        responses.append(page)
        if status == 429 or status >= 500:
            retry_after = _parse_retry_after(headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > self._max_retry_after_s:
                    too_long = f"Retry-After {retry_after:.0f} s is too long"
                    raise AmionFetchError(f"Amion {safe_url}: HTTP {status}, {too_long}")
                await self._politeness.hold_back(retry_after)
            raise _RetryableError(f"Amion {safe_url}: HTTP {status}", retry_after)
        if status != 200:
            raise AmionFetchError(f"Amion {safe_url}: HTTP {status}")
        if text.lstrip().startswith("NOFI=Bad password"):
            raise AmionAuthError(f"Amion refused the view password ({safe_url})", page)

    async def _get(self, url: httpx.URL) -> tuple[int, httpx.Headers, bytes | None]:
        """Status, headers and body; the body is None when it is larger than the limit."""
        async with self._http.stream("GET", url) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_page_bytes:
                    return response.status_code, response.headers, None
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableError) and exc.retry_after is not None:
            return max(exc.retry_after, backoff)
        return backoff

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.warning("amion: attempt %d failed (%s); retrying in %.2f s", state.attempt_number, exc, sleep)


def _charset(headers: httpx.Headers) -> str:
    """The response's charset, ISO-8859-1 (Amion's) when it names none or an unknown one."""
    match = re.search(r"charset=([\w.:-]+)", headers.get("content-type", ""), re.IGNORECASE)
    charset = match.group(1) if match else "iso-8859-1"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "iso-8859-1"
    return charset
