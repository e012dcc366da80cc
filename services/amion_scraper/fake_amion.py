"""A fake Amion server for tests and local runs (stdlib only).

    python -m services.amion_scraper.fake_amion --port 8999 --truth truth.yaml

Truth file (YAML; quote the times, YAML would read 0100 as an octal number):

    password: "secret pw"
    assignments:
      - {date: 2026-01-05, label: "ON1", name: "Smith, John", start: "0100", end: "0800"}

Endpoints:
- `GET /cgi-bin/ocs?Lo=..&Rpt=619&Month=M-YY[&Days=N]`: the report page (ISO-8859-1); wrong or missing
  `Lo` -> 200 `NOFI=Bad password`; a month without rows -> 200 `NOFI=No file`.
- `GET /truth`: the assignments as JSON. `GET /stats`: requests served to `/cgi-bin/ocs`.
- `GET /faults`, `POST /faults` (JSON): injected faults; `{"latency_s": 2.0}` delays each ocs response.
"""

import argparse
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import yaml

from .report import AmionRow, render_report

log = logging.getLogger(__name__)

OCS_PATH = "/cgi-bin/ocs"
DEFAULT_FAULTS: dict[str, float] = {"latency_s": 0.0}

_MONTH_RE = re.compile(r"^(\d{1,2})-(\d{2})$")
_HHMM_RE = re.compile(r"^\d{4}$")
_LO_RE = re.compile(r"(Lo=)[^&\s\"]*", re.IGNORECASE)


@dataclass(frozen=True)
class Truth:
    password: str
    assignments: tuple[AmionRow, ...]


def _hhmm(value: Any, where: str) -> time:
    if not isinstance(value, str) or not _HHMM_RE.match(value):
        raise ValueError(f"{where}: time must be a quoted HHMM string, got {value!r}")
    return time(int(value[:2]), int(value[2:]))


def _row(item: dict[str, Any], n: int) -> AmionRow:
    where = f"assignment {n}"
    day = item.get("date")
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if not isinstance(day, date):
        raise ValueError(f"{where}: date must be YYYY-MM-DD, got {day!r}")
    return AmionRow(
        schedule_date=day,
        label=str(item["label"]),
        name=str(item["name"]),
        start=_hhmm(item.get("start"), where),
        end=_hhmm(item.get("end"), where),
        division=item.get("division"),
        note=item.get("note"),
    )


def truth_from_dict(data: dict[str, Any]) -> Truth:
    items = data.get("assignments") or []
    return Truth(password=str(data["password"]), assignments=tuple(_row(i, n) for n, i in enumerate(items, 1)))


def load_truth(path: Path | str) -> Truth:
    return truth_from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def _row_json(row: AmionRow) -> dict[str, Any]:
    return {
        "date": row.schedule_date.isoformat(),
        "label": row.label,
        "name": row.name,
        "start": f"{row.start:%H%M}",
        "end": f"{row.end:%H%M}",
        "division": row.division,
        "note": row.note,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], truth: Truth) -> None:
        super().__init__(address, _Handler)
        self.truth = truth
        self.faults: dict[str, float] = dict(DEFAULT_FAULTS)
        self.ocs_requests = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.info("fake amion %s: %s", self.address_string(), _LO_RE.sub(r"\1***", format % args))

    def _send(self, status: int, body: str, content_type: str = "text/plain; charset=iso-8859-1") -> None:
        data = body.encode("iso-8859-1" if "iso-8859-1" in content_type else "utf-8", errors="replace")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload), "application/json; charset=utf-8")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == OCS_PATH:
            self._ocs(parse_qs(url.query, keep_blank_values=True))
        elif url.path == "/truth":
            self._send_json(200, [_row_json(r) for r in self.server.truth.assignments])
        elif url.path == "/faults":
            with self.server.lock:
                self._send_json(200, dict(self.server.faults))
        elif url.path == "/stats":
            with self.server.lock:
                self._send_json(200, {"ocs_requests": self.server.ocs_requests})
        else:
            self._send(HTTPStatus.NOT_FOUND, "not found")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/faults":
            self._send(HTTPStatus.NOT_FOUND, "not found")
            return
        try:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            updates = {k: float(v) for k, v in payload.items()}
        except (ValueError, TypeError, AttributeError):
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": "expected a JSON object of numbers"})
            return
        unknown = sorted(set(updates) - set(DEFAULT_FAULTS))
        if unknown or any(v < 0 for v in updates.values()):
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"unknown or negative faults: {unknown}"})
            return
        with self.server.lock:
            self.server.faults.update(updates)
            faults = dict(self.server.faults)
        self._send_json(200, faults)

    def _ocs(self, query: dict[str, list[str]]) -> None:
        with self.server.lock:
            self.server.ocs_requests += 1
            latency = self.server.faults["latency_s"]
        if latency > 0:
            self.server.stopping.wait(latency)

        def arg(name: str) -> str | None:
            return query.get(name, [None])[0]

        if arg("Lo") != self.server.truth.password:
            self._send(200, "NOFI=Bad password")
            return
        month_match = _MONTH_RE.match(arg("Month") or "")
        if arg("Rpt") != "619" or not month_match:
            self._send(HTTPStatus.BAD_REQUEST, "fake amion serves Rpt=619&Month=M-YY only")
            return
        month = date(2000 + int(month_match.group(2)), int(month_match.group(1)), 1)
        days = arg("Days")
        end = month + timedelta(days=int(days)) if days and days.isdigit() else _next_month(month)
        rows = _rows_between(self.server.truth.assignments, month, end)
        if not rows:
            self._send(200, "NOFI=No file")
            return
        with_division = any(r.division for r in rows)
        self._send(200, render_report(rows, month, with_division=with_division, as_of=datetime.now()))


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _rows_between(rows: Iterable[AmionRow], start: date, end: date) -> list[AmionRow]:
    selected = [r for r in rows if start <= r.schedule_date < end]
    return sorted(selected, key=lambda r: (r.schedule_date, r.start, r.label, r.name))


def serve(port: int, truth_path: Path, host: str = "127.0.0.1") -> None:
    """Serve until interrupted."""
    server = _Server((host, port), load_truth(truth_path))
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
        truth = self.truth if isinstance(self.truth, Truth) else load_truth(self.truth)
        self._server = _Server((self.host, 0), truth)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-amion", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None and self._thread is not None
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def root_url(self) -> str:
        assert self._server is not None, "FakeAmion is not started"
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        return self.root_url + OCS_PATH

    @property
    def ocs_requests(self) -> int:
        assert self._server is not None, "FakeAmion is not started"
        with self._server.lock:
            return self._server.ocs_requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Amion server")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--truth", type=Path, required=True, help="ground-truth YAML")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    serve(args.port, args.truth, args.host)


if __name__ == "__main__":
    main()
