"""The front door, as pooling clients, proxies and attackers meet it (real uWSGI, real nginx).

Each test starts ``servekit serve`` with the nginx front (the default where nginx is
installed) or ``--front direct``, and talks to it over loopback sockets.
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

import orjson
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import http, post_json, start_server, write_project
from tests.ingress import ingress, nginx_binary

pytestmark = pytest.mark.integration

BODY = orjson.dumps({"data": {"x": 1}})
JSON = {"Content-Type": "application/json"}
MODEL = """
import os
import time


def predict(x: int = 0, pause: float = 0.0, crash: bool = False) -> dict:
    if crash:
        os._exit(3)
    time.sleep(pause)
    return {"x": x}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    nginx_binary()  # a missing nginx fails here, saying how to install it
    write_project(tmp_path / "project", {"model.py": MODEL})
    return tmp_path / "project" / "model.py"


def _post(conn: HTTPConnection, document: dict[str, object]) -> tuple[int, bytes]:
    conn.request("POST", "/model", orjson.dumps(document), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    return answer.status, answer.read()


@pytest.mark.parametrize("front", ["nginx", "direct"])
def test_a_pooling_client_sees_no_reset(serve, project: Path, front: str) -> None:
    server = serve(f"{project}:predict", "--processes", "2", "--front", front)
    with requests.Session() as session:
        headers = {"Content-Type": "application/json"}
        statuses = [
            session.post(f"{server.url}/model", data=BODY, headers=headers, timeout=10).status_code
            for _ in range(10_000)
        ]
    assert statuses == [200] * 10_000
    conn = HTTPConnection("127.0.0.1", server.port, timeout=10)
    sockets = set()
    for i in range(10_000):
        status, body = _post(conn, {"data": {"x": i}})
        assert status == 200
        assert orjson.loads(body)["result"] == {"x": i}
        sockets.add(id(conn.sock))
    conn.close()
    if front == "nginx":  # one connection carried every request
        assert len(sockets) == 1
    else:  # each answer said Connection: close, so http.client opened a new one
        probe = http("POST", f"{server.url}/model", BODY, {"Content-Type": "application/json"})
        assert probe.headers["connection"] == "close"


@pytest.mark.parametrize("front", ["nginx", "direct"])
def test_ingress_nginx_with_upstream_keepalive_sees_no_502(
    serve, project: Path, tmp_path: Path, front: str
) -> None:
    server = serve(f"{project}:predict", "--processes", "2", "--front", front)
    with ingress(tmp_path / "ingress", server.port) as url:
        port = int(url.rsplit(":", 1)[1])

        def client(count: int) -> list[int]:
            conn = HTTPConnection("127.0.0.1", port, timeout=20)
            seen = [_post(conn, {"data": {"x": i}})[0] for i in range(count)]
            conn.close()
            return seen

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = [s for part in pool.map(client, [1250] * 8) for s in part]
    assert len(statuses) == 10_000
    assert statuses.count(200) == 10_000, {s: statuses.count(s) for s in set(statuses)}


class SlowClient(threading.Thread):
    """A connection that sends ``head`` whole, then ``trickle`` a byte a second, then
    stalls; records when the server closed it (None if it never did in ``give_up`` s)."""

    def __init__(self, port: int, head: bytes, trickle: bytes, give_up: float) -> None:
        super().__init__(daemon=True)
        self.port, self.head, self.trickle, self.give_up = port, head, trickle, give_up
        self.closed_after: float | None = None
        self.started = 0.0

    def run(self) -> None:
        self.started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            try:
                conn.sendall(self.head)
                for byte in self.trickle:
                    conn.sendall(bytes([byte]))
                    if self._closed(conn):
                        return
                while time.monotonic() - self.started < self.give_up:
                    if self._closed(conn):
                        return
            except OSError:
                self.closed_after = time.monotonic() - self.started

    def _closed(self, conn: socket.socket) -> bool:
        """Wait a second for the server; True once it closed the connection."""
        try:
            data = conn.recv(4096)
        except TimeoutError:
            return False
        if data:  # an answer (408 or 400) before the close: read on
            return False
        self.closed_after = time.monotonic() - self.started
        return True


def test_slow_clients_cannot_starve_the_workers(serve, project: Path) -> None:
    timeout = 3
    server = serve(
        f"{project}:predict",
        "--processes",
        "2",
        "--front",
        "nginx",
        "--client-header-timeout",
        str(timeout),
        "--client-body-timeout",
        str(timeout),
    )
    headers = b"POST /model HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    slow: list[SlowClient] = []
    for _ in range(64):  # headers a byte a second, never finished
        slow.append(SlowClient(server.port, b"", headers + b"X-Pad: " + b"a" * 40, 20))
    for i in range(16):  # whole headers, then a body that trickles and stalls
        if i % 2:
            head = headers + b"Content-Length: 100\r\n\r\n"
            trickle = b'{"data"'
        else:
            head = headers + b"Transfer-Encoding: chunked\r\n\r\n"
            trickle = b"1\r\n{\r\n1\r\n \r\n"
        slow.append(SlowClient(server.port, head, trickle, 20))
    began = time.monotonic()
    for client in slow:
        client.start()
    time.sleep(1)
    latencies = []
    for i in range(20):
        for method, path, body in (("GET", "/healthz", None), ("POST", "/model", BODY)):
            t0 = time.monotonic()
            reply = http(
                method, f"{server.url}{path}", body, {"Content-Type": "application/json"}, timeout=5
            )
            latencies.append(time.monotonic() - t0)
            assert reply.status == 200, (i, path, reply)
        time.sleep(0.1)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[-1]
    print(f"probes during the attack: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert latencies[-1] < 1.0
    for client in slow:
        client.join(25 - (time.monotonic() - began))
    header_closes = [c.closed_after for c in slow[:64]]
    body_closes = [c.closed_after for c in slow[64:]]
    assert None not in header_closes, "slow headers were never cut off"
    # The header timeout counts from the first byte: all of them, whole.
    assert max(header_closes) < timeout + 2, header_closes
    # A stalled body is cut off once nothing came for the body timeout.
    assert None not in body_closes, "stalled bodies were never cut off"
    assert max(body_closes) < 10 + timeout + 2, body_closes


def raw(port: int, data: bytes, wait: float = 10.0, shut: bool = False) -> bytes:
    """Send ``data`` on a new connection; everything the server sent until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        conn.sendall(data)
        if shut:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def answer_head(answer: bytes) -> tuple[int, list[bytes]]:
    head = answer.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    return int(lines[0].split()[1]), lines[1:]


CONTROL = [chr(c) for c in (*range(0x20), 0x7F)]
ECHOED = ("X-Request-ID", "Idempotency-Key", "Seldon-Puid", "Authorization", "Content-Type")


@pytest.mark.parametrize("front", ["nginx", "direct"])
def test_no_control_character_splits_an_answer_or_makes_a_500(
    serve, project: Path, front: str
) -> None:
    server = serve(f"{project}:predict", "--processes", "2", "--front", front)
    body = b'{"data": {"x": 1}}'
    seen: set[int] = set()
    for name in ECHOED:
        for char in CONTROL:
            for value in (f"abc{char}", f"{char}abc", f"a{char}bc"):
                request = (
                    f"POST /model HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                    f"Content-Length: {len(body)}\r\n"
                ).encode()
                if name != "Content-Type":
                    request += b"Content-Type: application/json\r\n"
                request += f"{name}: {value}\r\n\r\n".encode() + body
                answer = raw(server.port, request)
                if not answer:  # nginx may drop a request it cannot parse
                    continue
                status, headers = answer_head(answer)
                seen.add(status)
                assert status < 500, (name, value, answer)
                for line in headers:
                    assert not any(c < 0x20 or c == 0x7F for c in line), (name, value, line)
    assert 200 in seen
    assert seen <= {200, 400, 415}, seen
    for line in server.log().splitlines():
        assert not any(c in line for c in CONTROL if c != "\t"), line


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    out, at = b"", 0
    for size in sizes:
        part = body[at : at + size]
        if not part:
            break
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
        at += size
    if at < len(body):
        out += f"{len(body) - at:x}\r\n".encode() + body[at:] + b"\r\n"
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize("front", ["nginx", "direct"])
def test_truncated_aborted_and_odd_chunked_bodies(serve, project: Path, front: str) -> None:
    server = serve(f"{project}:predict", "--processes", "2", "--front", front)
    head = (
        b"POST /model HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\n"
    )
    body = orjson.dumps({"data": {"x": 7, "pause": 0.0}, "pad": "p" * 3_000_000})
    # Chunked bodies in odd sizes, one chunk over 1 MiB included: answered whole.
    for sizes in ([1, 2, 3, 5, 7, 11], [1_500_000, 1], [4096] * 3, [len(body)]):
        answer = raw(
            server.port, head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body, sizes)
        )
        status, _ = answer_head(answer)
        assert status == 200, (sizes, answer[-300:])
        assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["result"] == {"x": 7}
    # A Content-Length longer than the body: the client stops (keeps the connection
    # open), or closes its side. Never a 500; never a 5xx in the metrics.
    short = head + b"Content-Length: 100\r\n\r\n" + b'{"data": {"x": 1}}'
    for shut in (False, True):
        answer = raw(server.port, short, wait=15, shut=shut)
        if answer:  # direct: the worker answers; nginx cuts a stalled body off silently
            status, _ = answer_head(answer)
            assert status in (400, 408), answer
            assert b"BAD_REQUEST" in answer or b"REQUEST_TIMEOUT" in answer
        else:
            assert front == "nginx"
    reply = http("GET", f"{server.url}/metrics")
    assert 'code="500"' not in reply.body
    assert reply.status == 200


def _metric(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_every_lost_worker_is_counted_and_its_request_answered(serve, project: Path) -> None:
    server = serve(
        f"{project}:predict",
        *("--processes", "1", "--max-requests", "4", "--timeout", "2", "--front", "nginx"),
    )
    crashed = post_json(f"{server.url}/model", {"data": {"crash": True}})
    assert crashed.status == 502, crashed.body
    assert crashed.body["error"]["code"] == "WORKER_LOST"
    assert crashed.headers["x-request-id"] == crashed.body["request_id"]
    for i in range(6):  # the respawned worker recycles after 4 requests
        reply = post_json(f"{server.url}/model", {"data": {"x": i}})
        assert reply.status == 200, reply.body
    timed_out = post_json(f"{server.url}/model", {"data": {"pause": 30}})
    assert timed_out.status == 504, timed_out.body
    expected = {"crashed": 1.0, "recycled": 1.0, "timeout": 1.0}
    deadline = time.monotonic() + 20
    while True:
        post_json(f"{server.url}/model", {"data": {}})  # a live worker to scrape
        text = http("GET", f"{server.url}/metrics").body
        counts = {
            reason: _metric(text, f'servekit_workers_lost_total{{reason="{reason}"}}')
            for reason in expected
        }
        if all(counts[r] >= n for r, n in expected.items()) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert counts["crashed"] == 1.0, text
    assert counts["timeout"] == 1.0, text
    assert counts["recycled"] >= 1.0, text
    assert _metric(text, "servekit_requests_lost_total") == 1.0, text


@pytest.fixture(scope="module", params=["nginx", "direct"])
def shared_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One server per front for the property test (hypothesis runs many examples)."""
    nginx_binary()
    folder = tmp_path_factory.mktemp("chunks")
    write_project(folder / "project", {"model.py": MODEL})
    server = start_server(
        [f"{folder}/project/model.py:predict", "--processes", "2", "--front", request.param],
        folder / "server.log",
    )
    yield server
    server.stop()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    x=st.integers(-(2**31), 2**31),
    sizes=st.lists(st.integers(1, 70_000), min_size=1, max_size=12),
    pad=st.integers(0, 200_000),
)
def test_any_chunking_of_a_body_is_answered_whole(
    shared_server, x: int, sizes: list[int], pad: int
) -> None:
    body = orjson.dumps({"data": {"x": x}, "pad": "p" * pad})
    head = (
        b"POST /model HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    answer = raw(shared_server.port, head + _chunked(body, sizes))
    status, _ = answer_head(answer)
    assert status == 200, answer[-300:]
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["result"] == {"x": x}


def test_a_burst_past_the_workers_queues_rather_than_502(serve, project: Path) -> None:
    # One worker, 30 ms a request, 300 requests at once: uWSGI's default backlog (100)
    # refused the rest, which nginx answered 502 WORKER_LOST; now they queue.
    server = serve(f"{project}:predict", "--processes", "1")
    body = orjson.dumps({"data": {"x": 1, "pause": 0.03}})

    def one(_: int) -> int:
        return http("POST", f"{server.url}/model", body, JSON, timeout=60).status

    with concurrent.futures.ThreadPoolExecutor(300) as pool:
        statuses = list(pool.map(one, range(300)))
    assert statuses.count(200) == 300, {s: statuses.count(s) for s in set(statuses)}
