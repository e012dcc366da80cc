"""Async Amion HTTP client: one report page per month, rate-limited, retried, password never disclosed.

The password travels in the query (`Lo=`), so every URL is a secret. Nothing this module logs or raises
contains it: URLs are shown with `Lo=***`, httpx exceptions (which carry the request URL) are replaced by
our own exceptions raised outside the `except` block (no `__context__` pointing at them), and httpx's own
request log line is redacted by a filter on the `httpx` logger.
"""

import asyncio
import calendar
import codecs
import email.utils
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Self
from urllib.parse import quote, quote_plus

import httpx
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

log = logging.getLogger(__name__)

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


class AmionAuthError(Exception):
    """Amion refused the view password (`NOFI=Bad password`). Never retried."""


class AmionFetchError(Exception):
    """A month could not be fetched (network, HTTP status, retries exhausted)."""


class _RetryableError(AmionFetchError):
    def __init__(self, text: str, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.retry_after = retry_after


def months_of_period(start: date, end: date) -> list[date]:
    """First day of every month the period start..end (inclusive) touches."""
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass(frozen=True)
class FetchedPage:
    month: date
    url: str  # with Lo=***
    status: int
    body: str
    fetched_at: datetime
    sha256: str  # of the response bytes as received


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


class _RateLimiter:
    """At most one start per `interval` seconds, shared by every task of one client."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    async def wait(self) -> None:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            start = max(now, self._next_start)
            if start > now:
                await asyncio.sleep(start - now)
            self._next_start = start + self._interval


class AmionClient:
    """Fetches Amion `Rpt=619` pages. Use as `async with AmionClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        password: str,
        timeout: float = 10,
        max_in_flight: int = 5,
        min_interval_s: float = 1.0,
        attempts: int = 4,
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if attempts < 1 or max_in_flight < 1:
            raise ValueError("attempts and max_in_flight must be at least 1")
        self._base_url = base_url
        self._password = password
        self._attempts = attempts
        self._max_retry_after_s = max_retry_after_s
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._rate = _RateLimiter(min_interval_s)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

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
        if self._password:
            for form in {self._password, quote_plus(self._password), quote(self._password)}:
                text = text.replace(form, "***")
        return text

    def _url(self, month: date) -> httpx.URL:
        days = calendar.monthrange(month.year, month.month)[1]
        # httpx form-encodes params: a space in the password goes out as `+`, as Amion expects.
        params = {"Lo": self._password, "Rpt": "619", "Month": f"{month.month}-{month.year % 100:02d}", "Days": days}
        return httpx.URL(self._base_url, params=params)

    async def fetch_report_month(self, month: date) -> FetchedPage:
        """The month's report page (any `NOFI=` text other than a bad password is returned as is)."""
        month = month.replace(day=1)
        url = self._url(month)
        safe_url = redact_url(str(url))
        page: FetchedPage | None = None
        failure: AmionFetchError | None = None
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=self._wait,
                retry=retry_if_exception_type(_RetryableError),
                before_sleep=self._log_retry,
                reraise=False,
            ):
                with attempt:
                    page = await self._get_once(month, url, safe_url)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            failure = AmionFetchError(f"Amion {safe_url}: gave up after {self._attempts} attempts: {last}")
        if failure is not None or page is None:
            raise failure or AmionFetchError(f"Amion {safe_url}: no response")
        log.info("amion: fetched %s (%d, %d chars)", safe_url, page.status, len(page.body))
        return page

    async def fetch_months(self, months: Iterable[date]) -> list[FetchedPage]:
        """All months concurrently (under the client's in-flight and rate limits), in the order given.

        On failure the other fetches are cancelled and the first AmionAuthError (else AmionFetchError)
        is raised.
        """
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.fetch_report_month(m)) for m in months]
        except ExceptionGroup as eg:
            errors = eg.exceptions
            first = next((e for e in errors if isinstance(e, AmionAuthError)), None) or next(
                (e for e in errors if isinstance(e, AmionFetchError)), None
            )
            if first is None:
                raise
            raise first from None
        return [t.result() for t in tasks]

    async def _get_once(self, month: date, url: httpx.URL, safe_url: str) -> FetchedPage:
        failure: AmionFetchError | None = None
        async with self._in_flight:
            await self._rate.wait()
            try:
                response = await self._http.get(url)
            except httpx.TimeoutException as exc:
                failure = _RetryableError(f"Amion {safe_url}: timed out ({type(exc).__name__})")
            except httpx.TransportError as exc:
                failure = _RetryableError(f"Amion {safe_url}: {type(exc).__name__}: {self._redact(str(exc))}")
        if failure is not None:  # raised here, outside `except`, so no httpx exception hangs on it
            raise failure

        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self._max_retry_after_s:
                raise AmionFetchError(f"Amion {safe_url}: HTTP {status}, Retry-After {retry_after:.0f} s is too long")
            raise _RetryableError(f"Amion {safe_url}: HTTP {status}", retry_after)
        if status != 200:
            raise AmionFetchError(f"Amion {safe_url}: HTTP {status}")

        raw = response.content
        body = raw.decode(_charset(response), errors="replace")
        if body.lstrip().startswith("NOFI=Bad password"):
            raise AmionAuthError(f"Amion refused the view password ({safe_url})")
        return FetchedPage(
            month=month,
            url=safe_url,
            status=status,
            body=body,
            fetched_at=datetime.now(UTC),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

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


def _charset(response: httpx.Response) -> str:
    charset = response.charset_encoding or "iso-8859-1"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "iso-8859-1"
    return charset
