"""Template sources: inline, a file in the drop folder, an http(s) URL (a real local HTTP server)."""

import base64
import contextlib
import ipaddress
import itertools
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
import pytest

from services.ods_importer import sources
from services.ods_importer.sources import TemplateSourceError
from shared.kernel.contracts import TemplateSource
from shared.tls import client_context

LIMIT = 1_000


def refused(load: Callable[[], bytes]) -> tuple[str, str]:
    with pytest.raises(TemplateSourceError) as caught:
        load()
    return caught.value.finding.code, caught.value.finding.text


# --- inline ----------------------------------------------------------------------------------------------


def test_inline_template() -> None:
    source = TemplateSource(filename="t.ods", inline_base64=base64.b64encode(b"PK data").decode())
    assert sources.load(source, limit=LIMIT, drop_folder=None) == b"PK data"


def test_inline_template_over_the_limit() -> None:
    encoded = base64.b64encode(b"x" * (LIMIT + 1)).decode()
    assert refused(lambda: sources.from_inline(encoded, LIMIT))[0] == "FILE_TOO_LARGE"


def test_inline_template_that_is_not_base64() -> None:
    assert refused(lambda: sources.from_inline("not base64!", LIMIT))[0] == "INVALID_TEMPLATE_SOURCE"


# --- drop folder -----------------------------------------------------------------------------------------


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    (folder / "march").mkdir(parents=True)
    (folder / "march" / "t.ods").write_bytes(b"template")
    (tmp_path / "secret.ods").write_bytes(b"outside")
    return folder


def test_path_inside_the_drop_folder(drop: Path) -> None:
    source = TemplateSource(filename="t.ods", path="march/t.ods")
    assert sources.load(source, limit=LIMIT, drop_folder=drop) == b"template"


@pytest.mark.parametrize("path", ["../secret.ods", "march/../../secret.ods", "{outside}"])
def test_path_escaping_the_drop_folder_is_refused(drop: Path, path: str) -> None:
    path = path.format(outside=drop.parent / "secret.ods")  # an absolute path
    code, text = refused(lambda: sources.from_drop_folder(path, drop, LIMIT))
    assert code == "INVALID_TEMPLATE_SOURCE"
    assert "outside the drop folder" in text


def test_symlink_leading_out_of_the_drop_folder_is_refused(drop: Path) -> None:
    (drop / "link.ods").symlink_to(drop.parent / "secret.ods")
    assert "outside the drop folder" in refused(lambda: sources.from_drop_folder("link.ods", drop, LIMIT))[1]


def test_missing_file_and_unconfigured_drop_folder(drop: Path) -> None:
    assert "No template file" in refused(lambda: sources.from_drop_folder("nope.ods", drop, LIMIT))[1]
    assert "No drop folder" in refused(lambda: sources.from_drop_folder("march/t.ods", None, LIMIT))[1]


@pytest.mark.parametrize(
    ("path", "reason"), [("march/t\x00.ods", "embedded null byte"), ("x" * 300 + ".ods", "File name too long")]
)
def test_path_the_system_cannot_open_is_an_invalid_source(drop: Path, path: str, reason: str) -> None:
    code, text = refused(lambda: sources.from_drop_folder(path, drop, LIMIT))
    assert code == "INVALID_TEMPLATE_SOURCE"
    assert text == f"The path {path!r} cannot be read from the drop folder: {reason}."


def test_drop_folder_file_over_the_limit(drop: Path) -> None:
    (drop / "big.ods").write_bytes(b"x" * (LIMIT + 1))
    assert refused(lambda: sources.from_drop_folder("big.ods", drop, LIMIT))[0] == "FILE_TOO_LARGE"


def test_drop_folder_comes_from_settings(drop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import Settings

    monkeypatch.setenv("SCHEDCU_DROP_FOLDER", str(drop))
    source = TemplateSource(filename="t.ods", path="march/t.ods")
    assert sources.load(source, limit=LIMIT, drop_folder=Settings().drop_folder) == b"template"


# --- URL: address checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 around 169.254.169.254
    ],
)
def test_internal_addresses_are_named(address: str, kind: str) -> None:
    assert sources.address_problem(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c3:1946"])
def test_public_addresses_pass(address: str) -> None:
    assert sources.address_problem(ipaddress.ip_address(address)) is None


def test_host_entries_names_and_wildcards() -> None:
    hosts = sources.UrlHosts.of(["Files.Example.org.", "*.cdn.example.net", "[::1]"])
    assert hosts.allows("files.example.org") and hosts.names("files.example.org")
    assert hosts.allows("a.cdn.example.net") and not hosts.names("a.cdn.example.net")
    assert not hosts.allows("cdn.example.net") and not hosts.allows("evilcdn.example.net")
    assert hosts.allows("::1")
    assert not hosts.allows("example.org")
    everything = sources.UrlHosts.of(["*"])
    assert everything.allows("anything.example") and not everything.names("anything.example")


# --- URL: fetching ---------------------------------------------------------------------------------------


class Server:
    """A local HTTP server whose answer each test sets; `release` frees a response held back. It records the
    path and Host header of every request it receives."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.status = 200
        self.chunks: list[bytes] = []
        self.content_length: int | None = None
        self.redirect_to: str | None = None
        self.hold = False
        self.release = threading.Event()
        self.bytes_sent = 0
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host")))
                if server.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(server.status)
                if server.content_length is not None:
                    self.send_header("Content-Length", str(server.content_length))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if server.hold:
                    server.release.wait(timeout=30)
                    return
                try:
                    for chunk in server.chunks:
                        if server.content_length is None:
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        else:
                            self.wfile.write(chunk)
                        self.wfile.flush()
                        server.bytes_sent += len(chunk)
                    if server.content_length is None:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should past the limit

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/template.ods"


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    s = Server(tls)
    thread = threading.Thread(target=s.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.release.set()
        s.httpd.shutdown()
        s.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as s:
        yield s


@pytest.fixture
def internal() -> Iterator[Server]:
    """A second server standing for an internal service that must never be reached."""
    with serving() as s:
        s.chunks = [b"internal secret"]
        yield s


LOCAL = ["127.0.0.1"]


def test_url_fetch(server: Server) -> None:
    server.chunks = [b"PK", b"rest"]
    source = TemplateSource(filename="t.ods", url=server.url)
    assert sources.load(source, limit=LIMIT, drop_folder=None, timeout_s=5, url_hosts=LOCAL) == b"PKrest"


def test_url_size_limit_is_enforced_while_streaming(server: Server) -> None:
    server.chunks = [b"x" * 65_536] * 1_000  # 65 MB, no Content-Length: far more than socket buffers hold
    code, _ = refused(lambda: sources.from_url(server.url, LIMIT, 5, LOCAL))
    assert code == "FILE_TOO_LARGE"
    assert server.bytes_sent < 65_536 * 1_000 / 2  # the client hung up instead of reading on


def test_url_declaring_a_size_over_the_limit_is_refused_before_the_body(server: Server) -> None:
    server.content_length = LIMIT + 1
    server.hold = True  # the body never comes: only the header can have refused it
    assert refused(lambda: sources.from_url(server.url, LIMIT, 5, LOCAL))[0] == "FILE_TOO_LARGE"


def test_url_timeout(server: Server) -> None:
    server.hold = True
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, 0.3, LOCAL))
    assert code == "TEMPLATE_FETCH_FAILED"
    assert "longer than 0.3 s" in text


@pytest.mark.parametrize("status", [404, 500])
def test_url_answering_an_error_status(server: Server, status: int) -> None:
    server.status = status
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, 5, LOCAL))
    assert (code, text) == ("TEMPLATE_FETCH_FAILED", f"The template URL answered HTTP {status}.")


def test_unreachable_url_does_not_repeat_the_url() -> None:
    url = "http://127.0.0.1:9/t.ods?token=s3cret"
    code, text = refused(lambda: sources.from_url(url, LIMIT, 5, LOCAL))
    assert code == "TEMPLATE_FETCH_FAILED"
    assert "s3cret" not in text


@pytest.mark.parametrize("url", ["http://0177.0.0.1/x.ods", "http://[::1/x.ods", "http://localhost:99999/x.ods"])
def test_url_that_cannot_be_parsed_is_an_invalid_source(url: str) -> None:
    code, text = refused(lambda: sources.from_url(url, LIMIT, 5, ["*", "0177.0.0.1", "localhost"]))
    assert code == "INVALID_TEMPLATE_SOURCE"
    assert text == "The template URL, or a URL it redirected to, is not a valid URL."


@contextmanager
def dripping(every_s: float, for_s: float) -> Iterator[int]:
    """A TCP server on 127.0.0.1 (its port) answering any request with headers that come one byte every
    `every_s` for `for_s`, then hanging up."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65_536)
                header = itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000)
                for _ in range(int(for_s / every_s)):
                    if stop.wait(every_s):
                        return
                    conn.sendall(bytes([next(header)]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_fetch_deadline() -> None:
    with dripping(every_s=0.1, for_s=8) as port:
        started = time.monotonic()
        code, text = refused(lambda: sources.from_url(f"http://127.0.0.1:{port}/t.ods", LIMIT, 1, LOCAL))
        took = time.monotonic() - started
    assert (code, text) == ("TEMPLATE_FETCH_FAILED", "Fetching the template took longer than 1 s.")
    assert took < 2.5


def test_url_is_refused_when_no_host_is_listed(server: Server) -> None:
    source = TemplateSource(filename="t.ods", url=server.url + "?token=s3cret")
    code, text = refused(lambda: sources.load(source, limit=LIMIT, drop_folder=None, timeout_s=5))
    assert code == "TEMPLATE_URL_REFUSED"
    assert text == (
        "The template URL names host '127.0.0.1', which is not allowed: SCHEDCU_TEMPLATE_URL_HOSTS is empty, "
        "so every template URL is refused until an operator lists a host. Nothing was fetched from it."
    )
    assert server.requests == []


def test_url_on_an_unlisted_host_is_refused_naming_the_listed_ones(server: Server) -> None:
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, 5, ["templates.example.org", "localhost"]))
    assert code == "TEMPLATE_URL_REFUSED"
    assert "host '127.0.0.1', which is not allowed: SCHEDCU_TEMPLATE_URL_HOSTS lists templates.example.org, " in text
    assert server.requests == []


def test_host_allowed_by_wildcard_may_not_resolve_to_loopback(server: Server) -> None:
    url = f"http://localhost:{server.port}/template.ods"
    code, text = refused(lambda: sources.from_url(url, LIMIT, 5, ["*"]))
    assert code == "TEMPLATE_URL_REFUSED"
    assert "host 'localhost', which resolves to 127.0.0.1, a loopback address" in text
    assert "listed by its own name in SCHEDCU_TEMPLATE_URL_HOSTS" in text
    assert server.requests == []


def test_host_listed_by_name_may_resolve_to_loopback(server: Server) -> None:
    server.chunks = [b"PK"]
    assert sources.from_url(f"http://localhost:{server.port}/t.ods", LIMIT, 5, ["localhost"]) == b"PK"


def test_redirect_to_an_unlisted_internal_host_is_refused_before_any_request(server: Server, internal: Server) -> None:
    server.redirect_to = f"http://127.0.0.1:{internal.port}/latest/meta-data"
    url = f"http://localhost:{server.port}/template.ods"
    code, text = refused(lambda: sources.from_url(url, LIMIT, 5, ["localhost"]))
    assert code == "TEMPLATE_URL_REFUSED"
    assert text.startswith("The template URL redirected to host '127.0.0.1', which is not allowed")
    assert [path for path, _ in server.requests] == ["/template.ods"]
    assert internal.requests == []


def test_redirect_to_a_wildcard_host_resolving_to_loopback_is_refused(server: Server, internal: Server) -> None:
    server.redirect_to = f"http://localhost:{internal.port}/x"
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, 5, ["127.0.0.1", "*"]))
    assert code == "TEMPLATE_URL_REFUSED"
    assert "redirected to host 'localhost', which resolves to 127.0.0.1, a loopback address" in text
    assert internal.requests == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/t.ods", "gopher://127.0.0.1:70/"])
def test_redirect_to_another_scheme_is_refused(server: Server, location: str) -> None:
    server.redirect_to = location
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, 5, ["*", "127.0.0.1"]))
    assert code == "TEMPLATE_URL_REFUSED"
    assert "only http and https are accepted" in text


def test_redirects_between_listed_hosts_are_followed(server: Server, internal: Server) -> None:
    server.redirect_to = f"http://localhost:{internal.port}/moved.ods"
    assert sources.from_url(server.url, LIMIT, 5, ["127.0.0.1", "localhost"]) == b"internal secret"
    assert internal.requests == [("/moved.ods", f"localhost:{internal.port}")]


def test_redirect_loop_stops_after_the_bound(server: Server) -> None:
    server.redirect_to = "/again"
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, 5, LOCAL))
    assert (code, text) == ("TEMPLATE_FETCH_FAILED", "The template URL redirected more than 5 times.")
    assert len(server.requests) == sources.MAX_REDIRECTS + 1


def resolve_as_loopback(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """`name` resolves to 127.0.0.1; returns the list of its lookups."""
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def lookup(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == name:
            lookups.append(host)
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return lookups


def test_host_is_resolved_once_and_the_request_goes_to_the_checked_address(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DNS answer that changes after the check (rebinding) cannot redirect the connection: the name is
    looked up once, and the request is sent to that address with the name in the Host header."""
    lookups = resolve_as_loopback(monkeypatch, "templates.test")
    server.chunks = [b"PK"]
    assert sources.from_url(f"http://templates.test:{server.port}/t.ods", LIMIT, 5, ["templates.test"]) == b"PK"
    assert lookups == ["templates.test"]
    assert server.requests == [("/t.ods", f"templates.test:{server.port}")]


def self_signed(tmp_path: Path, name: str) -> Path:
    """A certificate and key for `name` in one PEM file."""
    pem = tmp_path / f"{name}.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}", "-keyout", str(pem), "-out", str(pem)),
        ],
        check=True,
        capture_output=True,
    )
    return pem


@pytest.fixture
def own_tls_context() -> Iterator[None]:
    """The process's TLS context is built once: this test's is built from its own trust store, then dropped."""
    client_context.cache_clear()
    yield
    client_context.cache_clear()


@pytest.mark.parametrize("certified", ["templates.test", "other.test"])
@pytest.mark.usefixtures("own_tls_context")
def test_https_goes_to_the_checked_address_and_verifies_the_certificate_of_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certified: str
) -> None:
    pem = self_signed(tmp_path, certified)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(pem)
    monkeypatch.setattr(certifi, "where", lambda: str(pem))  # httpx's trust store: only this certificate
    lookups = resolve_as_loopback(monkeypatch, "templates.test")
    with serving(tls) as server:
        server.chunks = [b"PK"]
        url = f"https://templates.test:{server.port}/t.ods"
        if certified == "templates.test":
            assert sources.from_url(url, LIMIT, 5, ["templates.test"]) == b"PK"
            assert server.requests == [("/t.ods", f"templates.test:{server.port}")]
        else:
            code, text = refused(lambda: sources.from_url(url, LIMIT, 5, ["templates.test"]))
            assert (code, text) == ("TEMPLATE_FETCH_FAILED", "Could not fetch the template: ConnectError.")
            assert server.requests == []
    assert lookups == ["templates.test"]


def test_host_that_does_not_resolve() -> None:
    code, text = refused(lambda: sources.from_url("http://nowhere.invalid/t.ods", LIMIT, 5, ["nowhere.invalid"]))
    assert (code, text) == ("TEMPLATE_FETCH_FAILED", "The template URL's host 'nowhere.invalid' could not be resolved.")


def test_url_hosts_setting_is_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import Settings

    assert Settings().template_url_hosts == []
    monkeypatch.setenv("SCHEDCU_TEMPLATE_URL_HOSTS", '["templates.example.org", "*.cdn.example.net"]')
    assert Settings().template_url_hosts == ["templates.example.org", "*.cdn.example.net"]
