"""Template sources on the real pipeline: only listed hosts are fetched, neither a URL nor a redirect can make
the importer reach an internal address, and a source that cannot even be opened is answered at once. The workers
run with SCHEDCU_TEMPLATE_URL_HOSTS=["localhost"]."""

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from schedcu.runtime.processes import schedcu_command
from shared.kernel import ids
from tests.conftest import Pipeline, provisioned, running_pipeline
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEEK = ("2026-03-02", "2026-03-08")


class RecordingServer:
    """An HTTP server on 127.0.0.1 answering each path from `routes` (status, headers, body) and recording every
    path it is asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, headers, body = server.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def url_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Workers of their own (own database and vhost): the session's workers do not list localhost."""
    with (
        provisioned(f"schedcu_test_url_{uuid.uuid4().hex[:8]}") as services,
        running_pipeline(services, tmp_path_factory.mktemp("url"), template_url_hosts='["localhost"]') as running,
    ):
        yield running


@pytest.fixture
def internal() -> Iterator[RecordingServer]:
    """An internal service (say, a metadata endpoint) that must receive nothing."""
    server = RecordingServer()
    server.routes["/latest/meta-data/"] = (200, {}, b"secret")
    yield server
    server.close()


@pytest.fixture
def listed(url_pipeline: Pipeline) -> Iterator[RecordingServer]:
    """A template server reached as `localhost`, the listed host."""
    server = RecordingServer()
    server.routes["/template.ods"] = (200, {}, url_pipeline.template)
    yield server
    server.close()


def submit_url(pipeline: Pipeline, url: str, prefix: str) -> uuid.UUID:
    request_id = f"{prefix}-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, b"", *WEEK)
    body["template"] = {"filename": "template.ods", "url": url}
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    return ids.workflow_id_for(request_id)


def refusal(pipeline: Pipeline, workflow_id: uuid.UUID) -> dict[str, Any]:
    """The one message of a workflow that must have FAILED in phase 1 without a version."""
    assert pipeline.wait_terminal(workflow_id) == "FAILED"
    assert pipeline.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(0,)]
    shown = subprocess.run(
        schedcu_command("workflows", "show", str(workflow_id), "--json"),
        env=pipeline.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    phase = next(p for p in json.loads(shown.stdout)["phases"] if p["phase"] == "ODS_IMPORT")
    (message,) = phase["attempts"][-1]["messages"]
    return message


def test_url_naming_an_internal_address_directly_is_refused(url_pipeline: Pipeline, internal: RecordingServer) -> None:
    workflow_id = submit_url(url_pipeline, f"http://127.0.0.1:{internal.port}/latest/meta-data/", "direct")

    message = refusal(url_pipeline, workflow_id)
    assert (message["severity"], message["code"]) == ("ERROR", "TEMPLATE_URL_REFUSED")
    assert message["text"] == (
        "The template URL names host '127.0.0.1', which is not allowed: SCHEDCU_TEMPLATE_URL_HOSTS lists "
        "localhost. Nothing was fetched from it."
    )
    assert internal.requests == []


def test_redirect_from_a_listed_host_to_an_internal_address_is_refused(
    url_pipeline: Pipeline, listed: RecordingServer, internal: RecordingServer
) -> None:
    listed.routes["/moved.ods"] = (302, {"Location": f"http://127.0.0.1:{internal.port}/latest/meta-data/"}, b"")
    workflow_id = submit_url(url_pipeline, f"http://localhost:{listed.port}/moved.ods", "redirect")

    message = refusal(url_pipeline, workflow_id)
    assert (message["severity"], message["code"]) == ("ERROR", "TEMPLATE_URL_REFUSED")
    assert message["text"].startswith("The template URL redirected to host '127.0.0.1', which is not allowed")
    assert listed.requests == ["/moved.ods"]
    assert internal.requests == []


def test_template_on_a_listed_host_is_imported(url_pipeline: Pipeline, listed: RecordingServer) -> None:
    workflow_id = submit_url(url_pipeline, f"http://localhost:{listed.port}/template.ods", "listed")

    assert url_pipeline.wait_terminal(workflow_id) == "COMPLETED"
    assert listed.requests == ["/template.ods"]
    assert url_pipeline.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(1,)]


def test_a_url_that_cannot_be_parsed_fails_the_workflow_at_once(url_pipeline: Pipeline) -> None:
    """Not a crash of the handler (redelivered, dead-lettered, the workflow running until its deadline)."""
    workflow_id = submit_url(url_pipeline, "http://0177.0.0.1/x.ods", "unparsable")

    message = refusal(url_pipeline, workflow_id)
    assert (message["severity"], message["code"]) == ("ERROR", "INVALID_TEMPLATE_SOURCE")
    assert message["text"] == "The template URL, or a URL it redirected to, is not a valid URL."


def test_a_path_with_a_nul_byte_is_rejected_as_an_invalid_template_source(url_pipeline: Pipeline) -> None:
    request_id = f"nul-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, b"", *WEEK)
    body["template"] = {"filename": "template.ods", "path": "march/t\x00.ods"}

    rejected = amqp_client.publish_and_receive(
        url_pipeline.services.amqp_url, json.dumps(body).encode(), "event.import.rejected", {"request_id": request_id}
    )
    assert rejected["code"] == "INVALID_TEMPLATE_SOURCE"
    assert "template.path: Value error, holds a NUL character" in rejected["reason"]
    assert url_pipeline.query("SELECT count(*) FROM workflows WHERE request_id = :r", r=request_id) == [(0,)]
