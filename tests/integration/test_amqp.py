"""``servekit worker --amqp``: SeldonMessages from a real RabbitMQ, answered as Domino's
Seldon executor answers them, with real consumer processes killed and stopped."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pika
import pytest

from tests import counting_model
from tests.conftest import free_port, run_cli, write_project
from tests.counting_model import calls
from tests.rabbitmq import Broker, listeners, rabbitmq_fixture, rabbitmq_url_fixture

pytestmark = pytest.mark.integration
__all__ = ["rabbitmq_fixture", "rabbitmq_url_fixture"]  # the fixtures this module uses

FUNCTION = counting_model.SOURCE

SELDON_CLASS = """
    class Scaler:
        def __init__(self, factor=2):
            self.factor = factor

        def predict(self, X, features_names=None):
            return X * self.factor

        def class_names(self):
            return ["a", "b"]
"""
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PROCESS_FAILURE = {"code": 0, "info": "Prediction Failed", "status": "FAILURE"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "m", {"model.py": FUNCTION, "seldon_model.py": SELDON_CLASS})


class Queues:
    """A client of the test's own two queues: publishes requests, reads replies."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.input = f"requests-{uuid.uuid4().hex[:8]}"
        self.output = f"replies-{uuid.uuid4().hex[:8]}"
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        for queue in (self.input, self.output):
            self.channel.queue_declare(queue, durable=True)

    def publish(self, message: Any, **properties: Any) -> None:
        body = message if isinstance(message, bytes) else orjson.dumps(message)
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2, **properties)
        self.channel.basic_publish("", self.input, body, props)

    def replies(self, count: int, timeout: float = 30.0) -> list[tuple[Any, Any]]:
        """``count`` replies (properties, decoded body), then none more for a moment."""
        found: list[tuple[Any, Any]] = []
        deadline = time.monotonic() + timeout
        for method, properties, body in self.channel.consume(
            self.output, auto_ack=True, inactivity_timeout=0.3
        ):
            if method is not None:
                found.append((properties, orjson.loads(body)))
            elif len(found) >= count or time.monotonic() > deadline:
                break
        self.channel.cancel()
        assert len(found) == count, f"{len(found)} replies, not {count}: {found[:5]}"
        return found

    def depth(self) -> tuple[int, int]:
        """Messages ready and consumers on the input queue."""
        method = self.channel.queue_declare(self.input, durable=True, passive=True).method
        return method.message_count, method.consumer_count

    def wait_for_consumers(self, count: int = 2, timeout: float = 20.0) -> None:
        """Wait (bounded) until ``count`` consumers take from the input queue."""
        deadline = time.monotonic() + timeout
        while self.depth()[1] < count:
            assert time.monotonic() < deadline, f"not {count} consumers after {timeout} s"
            time.sleep(0.05)

    def close(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError):
            self.connection.close()


@pytest.fixture
def queues(rabbitmq_url: str) -> Iterator[Queues]:
    client = Queues(rabbitmq_url)
    yield client
    client.close()


class Workers:
    """``servekit worker --amqp`` processes started by a test, stopped by PID at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, target: str, url: str, queues: Queues, *extra: str) -> subprocess.Popen[bytes]:
        log_path = self.folder / f"worker-{len(self.started)}.log"
        command = [
            sys.executable,
            "-m",
            "servekit",
            "worker",
            target,
            "--amqp",
            url,
            "--input-queue",
            queues.input,
            "--output-queue",
            queues.output,
            "--processes",
            "2",
            *extra,
        ]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "SERVEKIT_GRACE_SECONDS": "10"},
                start_new_session=True,
            )
        self.started.append((process, log_path))
        return process

    def log(self, n: int = 0) -> str:
        return self.started[n][1].read_text(errors="replace")

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
        """SIGTERM by PID, bounded wait; SIGKILL of its session if it does not stop."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
                raise AssertionError("the worker did not stop after SIGTERM") from None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return int(process.returncode)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    yield started
    for process, _ in started.started:
        with contextlib.suppress(AssertionError):
            started.stop(process)


def started_pids(project: Path, count: int, timeout: float = 20.0) -> list[int]:
    """The pids of the first ``count`` calls the model started (waits, bounded)."""
    path = project / "started.txt"
    deadline = time.monotonic() + timeout
    while True:
        lines = [x for x in path.read_text().split("\n") if x] if path.exists() else []
        if len(lines) >= count:
            return [int(line.split()[0]) for line in lines]
        assert time.monotonic() < deadline, f"{len(lines)} calls started, not {count}"
        time.sleep(0.05)


def test_the_broker_listens_on_loopback_only(rabbitmq: Broker) -> None:
    found = listeners(rabbitmq.pids())
    assert f"127.0.0.1:{rabbitmq.port}" in found
    assert len(found) >= 3, found  # AMQP, Erlang distribution, epmd
    # epmd always adds the loopback addresses, IPv6 included
    assert all(a.rpartition(":")[0] in ("127.0.0.1", "[::1]") for a in found), found


def test_a_function_answers_every_message_once(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    worker = workers.start(f"{project}/model.py:predict", rabbitmq_url, queues)
    queues.wait_for_consumers(2)
    for x in range(200):
        queues.publish(
            {"jsonData": {"x": x + 100}, "meta": {"puid": f"p-{x}", "tags": {"n": x}}},
            correlation_id=f"c-{x}",
            message_id=f"m-{x}",
        )
    replies = queues.replies(200)
    by_puid = {body["meta"]["puid"]: (props, body) for props, body in replies}
    assert sorted(by_puid) == sorted(f"p-{x}" for x in range(200)), "none missing or repeated"
    for x in range(200):
        props, body = by_puid[f"p-{x}"]
        assert body == {
            "meta": {"puid": f"p-{x}", "tags": {"n": x}},
            "jsonData": {"double": 2 * (x + 100), "pad": ""},
        }
        assert (props.correlation_id, props.message_id) == (f"c-{x}", f"m-{x}")
        assert props.content_type == "application/json"
        assert props.delivery_mode == 2
        assert props.headers == {"Seldon-Puid": f"p-{x}"}
    assert calls(project) == list(range(100, 300))
    assert len(set(started_pids(project, 200))) == 2, "both consumer processes took messages"
    assert queues.depth() == (0, 2)
    assert workers.stop(worker) == 0


def test_a_seldon_class_answers_in_seldons_shape(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    for x in range(50):
        queues.publish({"data": {"ndarray": [[x, 1]]}, "meta": {"puid": f"s-{x}"}})
    queues.publish({"data": {"tensor": {"shape": [1, 2], "values": [3, 4]}}})  # no puid
    workers.start(
        f"{project}/seldon_model.py:Scaler",
        rabbitmq_url,
        queues,
        "--unit-parameters",
        '[{"name": "factor", "value": "3", "type": "INT"}]',
    )
    replies = {body["meta"]["puid"]: (props, body) for props, body in queues.replies(51)}
    for x in range(50):
        assert replies.pop(f"s-{x}")[1] == {
            "meta": {"puid": f"s-{x}"},
            "data": {"names": ["a", "b"], "ndarray": [[3 * x, 3]]},
        }
    [(puid, (props, body))] = replies.items()
    assert UUID.match(puid), "a request without a puid gets one, to match its reply"
    assert props.headers == {"Seldon-Puid": puid}
    assert body["data"] == {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [9, 12]}}


def test_failures_are_answered_and_the_worker_keeps_serving(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    worker = workers.start(
        f"{project}/model.py:predict", rabbitmq_url, queues, "--amqp-max-result-bytes", "2000"
    )
    queues.wait_for_consumers(2)
    queues.publish({"jsonData": {"x": 13}, "meta": {"puid": "unlucky"}})
    queues.publish({"jsonData": {"x": 1, "size": 3000}, "meta": {"puid": "large"}})
    queues.publish({"jsonData": {"x": 1, "size": 1500}, "meta": {"puid": "fits"}})
    queues.publish(b"not json", headers={"Seldon-Puid": "from-header"})
    queues.publish(b"{")
    queues.publish({"jsonData": {"x": "seven"}, "meta": {"puid": "wrong-type"}})
    queues.publish({"strData": "hello", "meta": {"puid": "no-jsondata"}})
    queues.publish({"jsonData": {"x": 4}, "meta": {"puid": "after"}})
    replies = [body for _, body in queues.replies(8)]
    by_puid = {body["meta"]["puid"]: body for body in replies}
    assert by_puid.pop("unlucky") == {
        "status": {**PROCESS_FAILURE, "reason": "ValueError: thirteen is unlucky"},
        "meta": {"puid": "unlucky"},
    }
    assert by_puid.pop("large") == {
        "status": {
            "code": -1,
            "info": "Payload size is greater than allowed size",
            "reason": "payload is large",
            "status": "FAILURE",
        },
        "meta": {"puid": "large"},
    }
    assert by_puid.pop("fits")["jsonData"]["pad"] == "x" * 1500
    not_json = by_puid.pop("from-header")["status"]
    assert not_json.pop("reason").startswith("the SeldonMessage is not valid JSON")
    assert not_json == PROCESS_FAILURE
    assert by_puid.pop("wrong-type")["status"]["reason"] == (
        'data.x: expected integer, got string "seven"'
    )
    assert "expected integer" in by_puid.pop("no-jsondata")["status"]["reason"]
    assert by_puid.pop("after")["jsonData"]["double"] == 8
    [(puid, truncated)] = by_puid.items()
    assert UUID.match(puid)
    assert truncated["status"]["reason"].startswith("the SeldonMessage is not valid JSON")
    assert workers.stop(worker) == 0
    # (ready messages, consumers): unacknowledged ones would be ready again by now
    assert queues.depth() == (0, 0), "nothing was left unacknowledged to come back"


def test_a_killed_consumer_loses_no_message(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    worker = workers.start(f"{project}/model.py:predict", rabbitmq_url, queues)
    queues.wait_for_consumers(2)
    queues.publish({"jsonData": {"x": 7, "pause": 1.5}, "meta": {"puid": "seven"}})
    [first] = started_pids(project, 1)
    os.kill(first, signal.SIGKILL)  # before it replied or acknowledged
    [(_, body)] = queues.replies(1)
    assert body == {"meta": {"puid": "seven"}, "jsonData": {"double": 14, "pad": ""}}
    pids = started_pids(project, 2)
    assert len(pids) == 2
    assert pids[1] != first, "another consumer ran it again"
    assert calls(project) == [7]
    assert queues.depth()[0] == 0
    assert workers.stop(worker) == 0


def test_sigterm_lets_each_consumer_finish_its_message(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    worker = workers.start(f"{project}/model.py:predict", rabbitmq_url, queues)
    queues.wait_for_consumers(2)
    for x in (5, 6):
        queues.publish({"jsonData": {"x": x, "pause": 1.0}, "meta": {"puid": f"p{x}"}})
    assert len(set(started_pids(project, 2))) == 2, "each consumer holds one message"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    assert calls(project) == [5, 6]
    assert sorted(body["meta"]["puid"] for _, body in queues.replies(2)) == ["p5", "p6"]
    assert queues.depth() == (0, 0), "both acknowledged, and both consumers gone"
    assert "stopping AMQP consumers" in workers.log()


def test_a_long_prediction_keeps_its_connection(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    # heartbeat=1: a connection silent for a few seconds is closed by the broker
    worker = workers.start(f"{project}/model.py:predict", f"{rabbitmq_url}?heartbeat=1", queues)
    queues.publish({"jsonData": {"x": 3, "pause": 4.0}, "meta": {"puid": "slow"}})
    [(_, body)] = queues.replies(1)
    assert body["jsonData"]["double"] == 6
    assert len(started_pids(project, 1)) == 1, "it ran once: the message was never redelivered"
    assert "lost the broker" not in workers.log()
    assert workers.stop(worker) == 0


class Proxy:
    """A TCP relay to the broker whose connections the test can cut."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                return
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every relayed connection (the listener stays)."""
        with self.lock:
            cut, self.sockets = self.sockets, []
        for s in cut:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.server.close()
        self.cut()


def test_a_lost_connection_is_made_again(
    project: Path, queues: Queues, workers: Workers, rabbitmq: Broker
) -> None:
    proxy = Proxy(rabbitmq.port)
    try:
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
        worker = workers.start(f"{project}/model.py:predict", url, queues)
        queues.wait_for_consumers(2)
        for x in range(100, 110):
            queues.publish({"jsonData": {"x": x}, "meta": {"puid": f"a{x}"}})
        assert len(queues.replies(10)) == 10
        proxy.cut()
        for x in range(110, 120):
            queues.publish({"jsonData": {"x": x}, "meta": {"puid": f"b{x}"}})
        assert sorted(b["meta"]["puid"] for _, b in queues.replies(10)) == sorted(
            f"b{x}" for x in range(110, 120)
        )
        assert calls(project) == list(range(100, 120))
        assert workers.log().count("lost the broker") == 2
        assert workers.stop(worker) == 0
    finally:
        proxy.close()


@pytest.mark.parametrize(
    ("password", "durable", "refusal"),
    [("wrong", True, "ACCESS_REFUSED"), ("guest", False, "PRECONDITION_FAILED")],
)
def test_what_the_broker_refuses_stops_the_worker(
    project: Path, rabbitmq: Broker, password: str, durable: bool, refusal: str
) -> None:
    existing = f"plain-{uuid.uuid4().hex[:8]}"
    with contextlib.closing(pika.BlockingConnection(pika.URLParameters(rabbitmq.url))) as c:
        c.channel().queue_declare(existing, durable=durable)  # False: unlike the worker's
    done = run_cli(
        [
            "worker",
            f"{project}/model.py:predict",
            "--amqp",
            f"amqp://guest:{password}@127.0.0.1:{rabbitmq.port}/%2F",
            "--input-queue",
            existing,
            "--output-queue",
            "r",
            "--processes",
            "1",
        ],
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "servekit: error: the broker refused the consumer" in done.stderr
    assert refusal in done.stderr
    assert "wrong" not in done.stderr, "no password in the log"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--amqp", "http://h/", "--input-queue", "q", "--output-queue", "r"], "got scheme 'http'"),
        (["--amqp", "amqp://u:secret@h/", "--input-queue", "q"], "SERVEKIT_AMQP_OUTPUT_QUEUE"),
        (["--amqp", "amqp://h/", "--input-queue", "q", "--output-queue", "q"], "other than"),
        (
            [
                "--amqp",
                "amqp://h/",
                "--input-queue",
                "q",
                "--output-queue",
                "r",
                "--amqp-max-result-bytes",
                "0",
            ],
            "SERVEKIT_AMQP_MAX_RESULT_BYTES",
        ),
    ],
)
def test_amqp_settings_are_checked_at_start(project: Path, flags: list[str], message: str) -> None:
    done = run_cli(["worker", f"{project}/model.py:predict", *flags], timeout=30)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "secret" not in done.stderr


def test_a_prediction_past_the_timeout_is_answered_and_its_consumer_replaced(
    project: Path, queues: Queues, workers: Workers, rabbitmq_url: str
) -> None:
    port = free_port()
    worker = workers.start(
        f"{project}/model.py:predict",
        rabbitmq_url,
        queues,
        *("--timeout", "2", "--metrics-port", str(port)),
    )
    queues.wait_for_consumers(2)
    started = time.monotonic()
    queues.publish({"jsonData": {"x": 5, "pause": 60}, "meta": {"puid": "stuck"}})
    [(_, stuck)] = queues.replies(1, timeout=15)
    assert time.monotonic() - started < 8
    assert stuck["meta"]["puid"] == "stuck"
    assert stuck["status"]["status"] == "FAILURE"
    assert "past the timeout of 2 s" in stuck["status"]["reason"]
    queues.wait_for_consumers(2)  # a fresh consumer replaced the stuck one
    queues.publish({"jsonData": {"x": 4}, "meta": {"puid": "after"}})
    [(_, after)] = queues.replies(1)
    assert after["jsonData"]["double"] == 8
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'servekit_amqp_messages_total{outcome="timeout"} 1.0' in text
    assert 'servekit_amqp_messages_total{outcome="success"} 1.0' in text
    assert "servekit_amqp_message_duration_seconds_count 2.0" in text
    assert workers.stop(worker) == 0
    assert queues.depth() == (0, 0)
