"""The base images' HEALTHCHECK command against a real loopback HTTP server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from servekit.healthcheck import check


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_healthy_when_healthz_answers_200(
    server: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.server_address[1]
    monkeypatch.setattr(_Handler, "status", 200)
    assert check({"SERVEKIT_PORT": str(port)}) == (True, f"http://127.0.0.1:{port}/healthz: 200")


def test_unhealthy_on_an_error_status_or_no_server(
    server: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.server_address[1]
    monkeypatch.setattr(_Handler, "status", 503)
    healthy, line = check({"SERVEKIT_PORT": str(port)})
    assert (healthy, line.endswith(": 503")) == (False, True)
    server.shutdown()
    server.server_close()
    healthy, line = check({"SERVEKIT_PORT": str(port)}, timeout=1)
    assert not healthy
    assert "refused" in line.lower()


def test_a_proxy_in_the_environment_is_not_used(
    server: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Handler, "status", 200)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert check({"SERVEKIT_PORT": str(server.server_address[1])})[0]
