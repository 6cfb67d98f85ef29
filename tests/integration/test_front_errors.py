"""What the nginx front answers itself, on a real ``servekit serve``: every status comes
in the error shape of the route asked for (V2's and KServe V1's ``{"error": ...}``,
Seldon's, servekit's envelope elsewhere) as JSON with an X-Request-ID, never nginx's HTML
page; what a worker answers passes through untouched. Raw sockets send what no client
library would: malformed requests, a request line over 8 KiB, HTTP/2 in plain text,
TRACE; a model that kills its worker makes the 502."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from servekit.http.routes import DOMINO, KSERVE_V1, SELDON, V2
from tests.conftest import Server, start_server, write_project
from tests.ingress import nginx_binary
from tests.integration.test_front import answer_head, raw

pytestmark = pytest.mark.integration

MODEL = """
import os


def predict(x: int = 0, crash: bool = False) -> dict:
    if crash:
        os._exit(3)
    return {"x": x}
"""
PATHS = {
    V2: ["/v2", "/v2/models/m/infer", "/v2/models/m/versions/1/ready"],
    KSERVE_V1: ["/v1/models/m:predict"],
    SELDON: ["/api/v1.0/predictions"],
    DOMINO: ["/model", "/v2/health/ready", "/no/such/route"],
}
LONG = "q=" + "a" * 9000
REQUESTS = {  # status: the request for a path, as bytes
    400: "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n",
    405: "TRACE {path} HTTP/1.1\r\nHost: t\r\n\r\n",
    414: "GET {path}?" + LONG + " HTTP/1.1\r\nHost: t\r\n\r\n",
    501: "POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    505: "GET {path} HTTP/2.0\r\nHost: t\r\n\r\n",
}
CHUNKED = "POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One server (nginx front) for the tests that leave its workers alive."""
    nginx_binary()
    folder = tmp_path_factory.mktemp("front-errors")
    write_project(folder / "project", {"model.py": MODEL})
    started = start_server(
        [f"{folder}/project/model.py:predict", "--front", "nginx", "--model-name", "m"],
        folder / "server.log",
    )
    yield started
    started.stop()


def exchange(port: int, request: str | bytes) -> tuple[int, dict[str, str], Any]:
    """Send ``request``; the status, headers (lower-case names) and the JSON body."""
    answer = raw(port, request.encode() if isinstance(request, str) else request)
    assert b"<html" not in answer, answer[:400]
    status, lines = answer_head(answer)
    headers = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert int(headers["content-length"]) == len(body), answer[:400]
    return status, headers, orjson.loads(body)


def assert_shape(shape: str, body: Any, headers: dict[str, str], message: str) -> None:
    """``body`` is ``shape``'s error document, its message containing ``message``."""
    assert headers["content-type"] == "application/json"
    rid = headers["x-request-id"]
    assert len(rid) == 32, headers
    if shape in (V2, KSERVE_V1):
        assert list(body) == ["error"], body
        assert message in body["error"], body
    elif shape == SELDON:
        assert body["status"]["status"] == 1, body
        assert message in body["status"]["info"], body
    else:
        assert set(body) == {"error", "request_id"}, body
        assert body["request_id"] == rid
        assert message in body["error"]["message"], body


MESSAGES = {
    400: "the request could not be read",
    405: "TRACE requests are not served",
    414: "longer than the limit of 8192 bytes",
    501: "Transfer-Encoding is not supported",
    505: "send HTTP/1.1 or HTTP/1.0",
}

CODES = {
    400: "BAD_REQUEST",
    405: "METHOD_NOT_ALLOWED",
    414: "URI_TOO_LONG",
    501: "NOT_IMPLEMENTED",
    505: "HTTP_VERSION_NOT_SUPPORTED",
}


@pytest.mark.parametrize("shape", list(PATHS))
def test_nginxs_own_answers_come_in_the_routes_shape(server: Server, shape: str) -> None:
    for path in PATHS[shape]:
        cases = [*REQUESTS.items(), (400, CHUNKED)]
        for status, request in cases:
            got, headers, body = exchange(server.port, request.format(path=path))
            assert got == status, (path, request[:40], body)
            assert_shape(shape, body, headers, MESSAGES[status])
            if shape == DOMINO:
                assert body["error"]["code"] == CODES[status], body


def test_an_unreadable_request_line_is_answered_in_json(server: Server) -> None:
    # nginx has no URI for these: the shape comes from the raw line (Domino's when none).
    for request in (b"GARBAGE\r\n\r\n", b"GET /v2\x00 HTTP/1.1\r\nHost: t\r\n\r\n"):
        status, headers, body = exchange(server.port, request)
        assert status == 400
        assert_shape(DOMINO, body, headers, "its request line")
    status, headers, body = exchange(server.port, "GET /v2 HTTP/1.1 extra\r\nHost: t\r\n\r\n")
    assert status == 400
    assert_shape(V2, body, headers, "its request line")
    # A path itself over the limit, cut off inside the model's name: still V2's route.
    status, headers, body = exchange(
        server.port, "POST /v2/models/" + "m" * 9000 + "/infer HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert status == 414
    assert_shape(V2, body, headers, "8192 bytes")


def test_what_a_worker_answers_passes_through(server: Server) -> None:
    close = "Host: t\r\nConnection: close\r\n"
    status, headers, body = exchange(server.port, f"GET /v2/models/m/infer HTTP/1.1\r\n{close}\r\n")
    assert status == 405  # Flask's, not nginx's: it names the methods
    assert_shape(V2, body, headers, "use OPTIONS, POST")
    assert headers["allow"] == "OPTIONS, POST"
    status, headers, body = exchange(server.port, f"GET /no/such HTTP/1.1\r\n{close}\r\n")
    assert status == 404
    assert_shape(DOMINO, body, headers, "no route for GET /no/such")
    # Headers over the limit are handed to a worker, which answers 431 in the route's shape.
    big = f"GET /v2/models/m HTTP/1.1\r\n{close}X-Big: {'b' * 9000}\r\n\r\n"
    status, headers, body = exchange(server.port, big)
    assert status == 431
    assert_shape(V2, body, headers, "header line is longer than 8192 bytes")
    # The front's own error pages are not for clients.
    status, headers, body = exchange(
        server.port, f"GET /_servekit/error/v2/400 HTTP/1.1\r\n{close}\r\n"
    )
    assert status == 404
    assert_shape(DOMINO, body, headers, "no route answers this path")


def test_a_lost_worker_is_a_502_in_the_routes_shape(serve: Any, tmp_path: Path) -> None:
    nginx_binary()
    model = write_project(tmp_path / "project", {"model.py": MODEL}) / "model.py"
    server = serve(f"{model}:predict", "--processes", "1", "--front", "nginx", "--model-name", "m")
    crash = orjson.dumps(
        {"inputs": [{"name": "crash", "shape": [1], "datatype": "BOOL", "data": [True]}]}
    )
    for path, shape, body in (
        ("/v2/models/m/infer", V2, crash),
        ("/v1/models/m:predict", KSERVE_V1, orjson.dumps({"instances": [{"crash": True}]})),
        ("/model", DOMINO, orjson.dumps({"data": {"crash": True}})),
    ):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        status, headers, answer = exchange(server.port, request)
        assert status == 502, (path, answer)
        assert_shape(shape, answer, headers, "stopped before answering")
