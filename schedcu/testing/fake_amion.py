"""A fake Amion server for tests, the demo and the benchmark (stdlib HTTP server).

    schedcu fake-amion --port 8999 --truth truth.yaml

Truth file (YAML; quote the times, YAML would read 0100 as an octal number):

    password: "secret pw"
    holidays: {2026-03-17: "St Patrick"}      # optional: labels shown in the grid's day headers
    assignments:
      - {date: 2026-01-05, label: "ON1 1a-8a", name: "Smith, John", start: "0100", end: "0800", note: "optional"}

A label is printed as it is in the report and in the grid, so the grid shows hours only when the label ends
with them; such hours must be the assignment's `start` and `end`.

Endpoints:
- `GET /cgi-bin/ocs?Lo=..&Rpt=619|625c|619tabs|625ctabs&Month=M-YY[&Day=D][&Days=N]`: the report (ISO-8859-1)
  of `N` dates from day `D` (default 1) of the month, across the month's end as Amion's;
  `GET /cgi-bin/ocs?Lo=..&Page=Call&Month=M-YY`: the monthly grid (HTML, ISO-8859-1). A wrong or missing
  `Lo` gives 200 `NOFI=Bad password`; a month without rows 200 `NOFI=No file`.
- The truth file is read again whenever it changes.
- `GET /truth`: the assignments as JSON. `GET /stats`: `{"ocs_requests": n, "by_month": {"3-26": n},
  "request_times": [t, ...]}`, `t` the arrival of each ocs request (seconds since the epoch; the last 10,000):
  one fake serves one account, so these are the account's requests, to check its politeness.
- `GET /faults`, `POST /faults`, `DELETE /faults` (clears them): injected faults. The body of a POST is
  `{"latency_s": 2.0}` (every ocs response delayed) and/or `{"rules": [rule, ...]}` (appended). A rule
  applies to the next `times` requests (default 1; null: every one) for its `month` (`"3-26"`; absent: any):
      {"fault": "status", "status": 503, "retry_after": "2", "month": "3-26", "times": 2}
      {"fault": "latency", "latency_s": 3}     then the page as usual
      {"fault": "reset"}                       connection reset, no response
      {"fault": "truncate"}                    the page cut in half (Content-Length says the whole)
      {"fault": "bad_password"}, {"fault": "no_file"}, {"fault": "changed_layout"}
  A request takes the first rule that applies to it.
"""

import json
import logging
import re
import socket
import struct
import sys
import threading
import time as clock
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, cast, get_args
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.amion_scraper.grid import render_grid
from services.amion_scraper.report import ReportKind, render_report
from services.amion_scraper.rows import MONTH_NAMES, AmionRow, row_json, split_label, squash

log = logging.getLogger(__name__)

OCS_PATH = "/cgi-bin/ocs"

_MONTH_RE = re.compile(r"^(\d{1,2})-(\d{2})$")
_HHMM_RE = re.compile(r"^\d{4}$")
_LO_RE = re.compile(r"(Lo=)[^&\s\"]*", re.IGNORECASE)
_REPORTS: tuple[str, ...] = get_args(ReportKind)

FaultKind = Literal["status", "latency", "reset", "truncate", "bad_password", "no_file", "changed_layout"]


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: FaultKind
    month: str | None = Field(default=None, pattern=r"^\d{1,2}-\d{2}$")  # as Amion's `Month`: "3-26"
    times: int | None = Field(default=1, ge=1)  # None: every request from now on
    status: int = Field(default=503, ge=400, le=599)
    retry_after: str | None = Field(default=None, max_length=40)
    latency_s: float = Field(default=0.0, ge=0, le=120)


class FaultUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_s: float | None = Field(default=None, ge=0, le=120)
    rules: list[FaultRule] = Field(default_factory=list)


@dataclass(frozen=True)
class Truth:
    password: str
    assignments: tuple[AmionRow, ...]
    holidays: dict[date, str] = field(default_factory=dict)


def _hhmm(value: Any, where: str) -> time:
    if not isinstance(value, str) or not _HHMM_RE.match(value):
        raise ValueError(f"{where}: time must be a quoted HHMM string, got {value!r}")
    return time(int(value[:2]), int(value[2:]))


def _date(value: Any, where: str) -> date:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if not isinstance(value, date):
        raise ValueError(f"{where}: date must be YYYY-MM-DD, got {value!r}")
    return value


def _row(item: dict[str, Any], n: int) -> AmionRow:
    where = f"assignment {n}"
    label = squash(str(item["label"]))
    start, end = _hhmm(item.get("start"), where), _hhmm(item.get("end"), where)
    _, label_start, label_end = split_label(label)
    if label_start is not None and (label_start, label_end) != (start, end):
        raise ValueError(f"{where}: label {label!r} states other hours than start {start:%H%M} and end {end:%H%M}")
    return AmionRow(
        schedule_date=_date(item.get("date"), where),
        label=label,
        name=str(item["name"]),
        start=start,
        end=end,
        division=item.get("division"),
        note=item.get("note"),
    )


def truth_from_dict(data: dict[str, Any]) -> Truth:
    items = data.get("assignments") or []
    holidays = {_date(day, "holidays"): str(label) for day, label in (data.get("holidays") or {}).items()}
    return Truth(
        password=str(data["password"]),
        assignments=tuple(_row(i, n) for n, i in enumerate(items, 1)),
        holidays=holidays,
    )


def load_truth(path: Path | str) -> Truth:
    return truth_from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def _month_of(text: str) -> date | None:
    m = _MONTH_RE.match(text)
    if not m or not 1 <= int(m.group(1)) <= 12:
        return None
    return date(2000 + int(m.group(2)), int(m.group(1)), 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _rows_between(rows: Iterable[AmionRow], start: date, end: date) -> list[AmionRow]:
    selected = [r for r in rows if start <= r.schedule_date < end]
    return sorted(selected, key=lambda r: (r.schedule_date, r.start or time(0), r.label, r.name))


def _changed_report(rows: list[AmionRow], month: date) -> str:
    """A report as a changed Amion might send it: the same title, fields in another order."""
    lines = [f"Assignments for {MONTH_NAMES[month.month - 1]} {month.year}", "", "Staff, Assignment, Date, Hours", ""]
    for r in rows:
        hours = f"{r.start:%H%M}-{r.end:%H%M}" if r.start and r.end else ""
        lines.append(f'"{r.name}","{r.label}",{r.schedule_date:%Y-%m-%d},{hours},1,2,3')
    return "\n".join(lines) + "\n"


def _changed_grid(rows: list[AmionRow], month: date) -> str:
    """A grid as a redesigned Amion might send it: no `border=1` table, days in `<th>` elements."""
    cells = "".join(f"<tr><th>{r.schedule_date:%d %b}</th><td>{r.label}</td><td>{r.name}</td></tr>" for r in rows)
    return f'<html><body><h1>{MONTH_NAMES[month.month - 1]}</h1><table class="schedule">{cells}</table></body></html>'


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], truth: Truth, truth_path: Path | None = None) -> None:
        super().__init__(address, _Handler)
        self._truth = truth
        self._truth_path = truth_path
        self._truth_mtime = truth_path.stat().st_mtime_ns if truth_path else 0
        self.latency_s = 0.0
        self.rules: list[FaultRule] = []
        self.ocs_requests = 0
        self.by_month: Counter[str] = Counter()
        self.request_times: deque[float] = deque(maxlen=10_000)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (it timed out) is routine here, not a traceback on stderr."""
        if isinstance(sys.exception(), ConnectionError):
            log.info("fake amion: client %s went away", client_address)
        else:
            super().handle_error(request, client_address)

    @property
    def truth(self) -> Truth:
        """The truth, read again from its file whenever the file changed (so tests and demos can edit it)."""
        if self._truth_path is not None:
            with self.lock:
                mtime = self._truth_path.stat().st_mtime_ns
                if mtime != self._truth_mtime:
                    self._truth, self._truth_mtime = load_truth(self._truth_path), mtime
                    log.info("fake amion: truth reloaded from %s", self._truth_path)
        return self._truth

    def faults(self) -> dict[str, Any]:
        with self.lock:
            return {"latency_s": self.latency_s, "rules": [r.model_dump(exclude_none=True) for r in self.rules]}

    def update_faults(self, update: FaultUpdate) -> None:
        with self.lock:
            if update.latency_s is not None:
                self.latency_s = update.latency_s
            self.rules.extend(update.rules)

    def clear_faults(self) -> None:
        with self.lock:
            self.latency_s = 0.0
            self.rules.clear()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"ocs_requests": self.ocs_requests, "by_month": dict(self.by_month),
                    "request_times": list(self.request_times)}  # fmt: skip

    def take_fault(self, month: str) -> tuple[float, FaultRule | None]:
        """Count the request; the global latency and the first rule that applies to it (used up by one)."""
        with self.lock:
            self.request_times.append(clock.time())
            self.ocs_requests += 1
            self.by_month[month] += 1
            for rule in self.rules:
                if rule.month is None or _month_of(rule.month) == _month_of(month):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self.rules.remove(rule)
                    return self.latency_s, rule
            return self.latency_s, None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.info("fake amion %s: %s", self.address_string(), _LO_RE.sub(r"\1***", format % args))

    def _send(
        self,
        status: int,
        body: str,
        content_type: str = "text/plain; charset=iso-8859-1",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = self._encode(body, content_type)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _encode(body: str, content_type: str) -> bytes:
        if "iso-8859-1" not in content_type.lower():
            return body.encode("utf-8")
        return body.encode("iso-8859-1", errors="xmlcharrefreplace" if "html" in content_type else "replace")

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload), "application/json; charset=utf-8")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == OCS_PATH:
            self._ocs(parse_qs(url.query, keep_blank_values=True))
        elif url.path == "/truth":
            self._send_json(200, [row_json(r) for r in self.server.truth.assignments])
        elif url.path == "/faults":
            self._send_json(200, self.server.faults())
        elif url.path == "/stats":
            self._send_json(200, self.server.stats())
        else:
            self._send(HTTPStatus.NOT_FOUND, "not found")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/faults":
            self._send(HTTPStatus.NOT_FOUND, "not found")
            return
        length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
        try:
            update = FaultUpdate.model_validate_json(self.rfile.read(length) or b"{}")
        except ValidationError as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self.server.update_faults(update)
        self._send_json(200, self.server.faults())

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path != "/faults":
            self._send(HTTPStatus.NOT_FOUND, "not found")
            return
        self.server.clear_faults()
        self._send_json(200, self.server.faults())

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _truncated(self, body: str, content_type: str) -> None:
        data = self._encode(body, content_type)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def _ocs(self, query: dict[str, list[str]]) -> None:
        def arg(name: str) -> str:
            return query.get(name, [""])[0]

        latency, rule = self.server.take_fault(arg("Month"))
        delay = latency + (rule.latency_s if rule is not None and rule.fault == "latency" else 0.0)
        if delay > 0:
            self.server.stopping.wait(delay)
        fault = rule.fault if rule is not None else None
        if rule is not None and fault == "status":
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
            self._send(rule.status, f"HTTP {rule.status} from the fake Amion", headers=headers)
            return
        if fault == "reset":
            self._reset()
            return

        if fault == "bad_password" or arg("Lo") != self.server.truth.password:
            self._send(200, "NOFI=Bad password")
            return
        month = _month_of(arg("Month"))
        report, page = arg("Rpt"), arg("Page")
        if month is None or not (report in _REPORTS or page == "Call"):
            self._send(HTTPStatus.BAD_REQUEST, f"fake amion serves Rpt={'|'.join(_REPORTS)} or Page=Call, Month=M-YY")
            return
        start, days = month, arg("Days")
        if arg("Day").isdigit() and page != "Call":
            start = month + timedelta(days=int(arg("Day")) - 1)
        end = start + timedelta(days=int(days)) if days.isdigit() and page != "Call" else _next_month(month)
        rows = _rows_between(self.server.truth.assignments, start, end)
        if fault == "no_file" or not rows:
            self._send(200, "NOFI=No file")
            return

        if page == "Call":
            content_type = "text/html; charset=ISO-8859-1"
            last = end - timedelta(days=1)
            if fault == "changed_layout":
                body = _changed_grid(rows, month)
            else:
                body = render_grid(rows, month, last, holidays=self.server.truth.holidays)
        else:
            content_type = "text/plain; charset=iso-8859-1"
            if fault == "changed_layout":
                body = _changed_report(rows, month)
            else:
                division = any(r.division for r in rows)
                kind = cast(ReportKind, report)
                body = render_report(rows, month, division, report=kind, as_of=datetime.now())
        if fault == "truncate":
            self._truncated(body, content_type)
        else:
            self._send(200, body, content_type)


def serve(port: int, truth_path: Path, host: str = "127.0.0.1") -> None:
    """Serve until interrupted."""
    server = _Server((host, port), load_truth(truth_path), truth_path)
    log.info("fake amion on http://%s:%d%s", host, server.server_port, OCS_PATH)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.server_close()


@dataclass
class FakeAmion:
    """The fake server on a free port in a background thread: `with FakeAmion(truth) as fake: fake.base_url`."""

    truth: Truth | Path | str
    host: str = "127.0.0.1"
    _server: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> Self:
        if isinstance(self.truth, Truth):
            self._server = _Server((self.host, 0), self.truth)
        else:  # a file: read again whenever it changes
            self._server = _Server((self.host, 0), load_truth(self.truth), Path(self.truth))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-amion", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        server, thread = self._running
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()

    @property
    def _running(self) -> tuple[_Server, threading.Thread]:
        if self._server is None or self._thread is None:
            raise RuntimeError("FakeAmion is not started")
        return self._server, self._thread

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self._running[0].server_port}"

    @property
    def base_url(self) -> str:
        return self.root_url + OCS_PATH

    @property
    def ocs_requests(self) -> int:
        return self._running[0].stats()["ocs_requests"]

    @property
    def request_times(self) -> list[float]:
        """When each ocs request arrived (seconds since the epoch), oldest first."""
        times: list[float] = self._running[0].stats()["request_times"]
        return times

    def requests_for(self, month: str) -> int:
        """Requests served for Amion's `Month` value, e.g. `"3-26"`."""
        return self._running[0].stats()["by_month"].get(month, 0)

    def inject(self, *rules: dict[str, Any], latency_s: float | None = None) -> None:
        """As `POST /faults`."""
        self._running[0].update_faults(FaultUpdate(latency_s=latency_s, rules=[FaultRule(**r) for r in rules]))
