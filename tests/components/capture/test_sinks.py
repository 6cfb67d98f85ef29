"""The capture sinks against real things: several processes appending to one folder
while it rotates by size and by age (every line once, none torn, rotated files gzipped),
a CloudEvents receiver parsing what the HTTP sink sends (the ``cloudevents`` package's
own parser), and a real Redis stream, capped."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
import redis
from cloudevents.http import from_http

from servekit.capture.cloudevents import EVENT_TYPES, HttpSink
from servekit.capture.files import ACTIVE, FileSink
from servekit.capture.redis_stream import RedisSink


def line(writer: int, index: int, pad: int = 200) -> bytes:
    return orjson.dumps({"writer": writer, "index": index, "pad": "x" * pad}) + b"\n"


def write_many(folder: str, writer: int, count: int) -> None:
    sink = FileSink(Path(folder), rotate_bytes=64 * 1024, rotate_seconds=3600)
    for start in range(0, count, 25):
        sink.write([line(writer, i) for i in range(start, min(start + 25, count))])
    sink.close()


def every_line(folder: Path) -> list[bytes]:
    found: list[bytes] = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".jsonl.gz"):
            found += gzip.decompress(path.read_bytes()).splitlines()
        elif path.name.endswith(".jsonl"):
            found += path.read_bytes().splitlines()
    return found


def test_processes_appending_while_the_file_rotates_lose_and_tear_nothing(
    tmp_path: Path,
) -> None:
    writers, count = 4, 1500  # about 1.3 MB: some twenty rotations at 64 KiB
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=write_many, args=(str(tmp_path), w, count)) for w in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    lines = every_line(tmp_path)
    records = [orjson.loads(found) for found in lines]  # a torn line would not parse
    assert sorted((r["writer"], r["index"]) for r in records) == [
        (w, i) for w in range(writers) for i in range(count)
    ]
    for writer in range(writers):  # each writer's lines stay in its order
        mine = [r["index"] for r in records if r["writer"] == writer]
        assert sorted(mine) == list(range(count))
    archives = list(tmp_path.glob("predictions-*.jsonl.gz"))
    assert len(archives) >= 10
    assert not list(tmp_path.glob("predictions-*.jsonl")), "every rotated file compressed"
    assert (tmp_path / ACTIVE).stat().st_size < 64 * 1024 + 25 * 300
    assert oct((tmp_path / ACTIVE).stat().st_mode & 0o777) == "0o600"


def test_the_file_rotates_by_age_too(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, rotate_bytes=10**9, rotate_seconds=60)
    sink.write([line(0, 0)])
    past = time.time() - 61
    os.utime(tmp_path / ".predictions.lock", (past, past))  # the current file began 61 s ago
    sink.write([line(0, 1)])
    sink.write([line(0, 2)])
    sink.close()
    (archive,) = tmp_path.glob("predictions-*.jsonl.gz")
    assert [
        orjson.loads(x)["index"] for x in gzip.decompress(archive.read_bytes()).splitlines()
    ] == [0]
    assert [orjson.loads(x)["index"] for x in (tmp_path / ACTIVE).read_bytes().splitlines()] == [
        1,
        2,
    ]


class Receiver(BaseHTTPRequestHandler):
    """Parses every POST with the cloudevents package; answers 500 when told to."""

    events: ClassVar[list[Any]] = []
    status = 202

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.events.append(from_http(dict(self.headers), body))
        self.send_response(Receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.events, Receiver.status = [], 202
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def record(event_id: str, **changes: Any) -> bytes:
    found = {
        "time": "2026-12-04T10:00:00.000Z", "event_id": event_id, "model": "churn",
        "version": "3", "protocol": "domino", "inputs": {"x": [1, 2]}, "result": {"p": 0.5},
        "status": 200, "model_ms": 1.5, **changes,
    }  # fmt: skip
    return orjson.dumps(found) + b"\n"


def test_the_http_sink_sends_kserve_style_cloudevents(receiver: Any) -> None:
    port = receiver.server_address[1]
    sink = HttpSink(f"http://user:pw@127.0.0.1:{port}/events")
    sink.write([record("e1"), record("e2", result=None, status=500, error="ValueError: x")])
    sink.close()
    events = Receiver.events
    assert [(e["type"], e["id"]) for e in events] == [
        (kind, event) for event in ("e1", "e2") for kind in EVENT_TYPES
    ]
    first = events[0]
    assert first["inferenceservicename"] == "churn"
    assert (first["endpoint"], first["protocol"], first["statuscode"]) == ("3", "domino", "200")
    assert first["time"] == "2026-12-04T10:00:00.000Z"
    assert first.data == {"x": [1, 2]}
    assert events[1].data == {"p": 0.5}
    assert events[3].data == {"error": "ValueError: x"}
    Receiver.status = 500
    with pytest.raises(OSError, match="answered 500"):
        HttpSink(f"http://127.0.0.1:{port}/").write([record("e3")])


def test_the_redis_sink_adds_to_a_capped_stream(redis_url: str) -> None:
    url = f"{redis_url.rstrip('/')}/0?stream=capture-test&maxlen=10"
    sink = RedisSink(url)
    sink.write([record(f"e{i}") for i in range(250)])
    sink.close()
    client = redis.Redis.from_url(redis_url)
    entries = client.xrange("capture-test")
    assert 10 <= len(entries) < 250  # trimmed about maxlen (Redis trims whole nodes)
    assert orjson.loads(entries[-1][1][b"record"])["event_id"] == "e249"
    client.delete("capture-test")
