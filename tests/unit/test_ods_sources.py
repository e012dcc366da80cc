"""Template sources: inline, a file in the drop folder, an http(s) URL (a real local HTTP server)."""

import base64
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.ods_importer import sources
from services.ods_importer.sources import TemplateSourceError
from shared.contracts import TemplateSource

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


def test_drop_folder_file_over_the_limit(drop: Path) -> None:
    (drop / "big.ods").write_bytes(b"x" * (LIMIT + 1))
    assert refused(lambda: sources.from_drop_folder("big.ods", drop, LIMIT))[0] == "FILE_TOO_LARGE"


def test_drop_folder_comes_from_settings(drop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import Settings

    monkeypatch.setenv("SCHEDCU_DROP_FOLDER", str(drop))
    source = TemplateSource(filename="t.ods", path="march/t.ods")
    assert sources.load(source, limit=LIMIT, drop_folder=Settings().drop_folder) == b"template"


# --- URL -------------------------------------------------------------------------------------------------


class Server:
    """A local HTTP server whose answer each test sets; `release` frees a response held back."""

    def __init__(self) -> None:
        self.status = 200
        self.chunks: list[bytes] = []
        self.content_length: int | None = None
        self.hold = False
        self.release = threading.Event()
        self.bytes_sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
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
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/template.ods"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    thread = threading.Thread(target=s.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield s
    s.release.set()
    s.httpd.shutdown()
    s.httpd.server_close()


def test_url_fetch(server: Server) -> None:
    server.chunks = [b"PK", b"rest"]
    source = TemplateSource(filename="t.ods", url=server.url)
    assert sources.load(source, limit=LIMIT, drop_folder=None, timeout_s=5) == b"PKrest"


def test_url_size_limit_is_enforced_while_streaming(server: Server) -> None:
    server.chunks = [b"x" * 65_536] * 1_000  # 65 MB, no Content-Length: far more than socket buffers hold
    code, _ = refused(lambda: sources.from_url(server.url, LIMIT, timeout_s=5))
    assert code == "FILE_TOO_LARGE"
    assert server.bytes_sent < 65_536 * 1_000 / 2  # the client hung up instead of reading on


def test_url_declaring_a_size_over_the_limit_is_refused_before_the_body(server: Server) -> None:
    server.content_length = LIMIT + 1
    server.hold = True  # the body never comes: only the header can have refused it
    assert refused(lambda: sources.from_url(server.url, LIMIT, timeout_s=5))[0] == "FILE_TOO_LARGE"


def test_url_timeout(server: Server) -> None:
    server.hold = True
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, timeout_s=0.3))
    assert code == "TEMPLATE_FETCH_FAILED"
    assert "longer than 0.3 s" in text


@pytest.mark.parametrize("status", [404, 500])
def test_url_answering_an_error_status(server: Server, status: int) -> None:
    server.status = status
    code, text = refused(lambda: sources.from_url(server.url, LIMIT, timeout_s=5))
    assert (code, text) == ("TEMPLATE_FETCH_FAILED", f"The template URL answered HTTP {status}.")


def test_unreachable_url_does_not_repeat_the_url() -> None:
    url = "http://127.0.0.1:9/t.ods?token=s3cret"
    code, text = refused(lambda: sources.from_url(url, LIMIT, timeout_s=5))
    assert code == "TEMPLATE_FETCH_FAILED"
    assert "s3cret" not in text
