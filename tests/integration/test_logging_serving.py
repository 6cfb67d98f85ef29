"""Log lines from a real server: one JSON object a line, user output captured and tagged.

Every line the server writes, on stdout and on stderr (servekit's, uWSGI's, nginx's, the
job workers', the R worker's), is one JSON object with ``time``, ``level``, ``logger`` and
``message``; the servers here keep the two streams apart to check both.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, http, post_json, write_project

pytestmark = pytest.mark.integration

MODEL = """
    import logging
    import sys

    print("loading weights")

    def predict(x: int):
        print('scoring "x" =', x)
        print("two\\nlines")
        sys.stderr.write("a warning without newline")
        sys.stderr.flush()
        logging.getLogger("model").info("model log line")
        return x
"""

FAILING_MODEL = """
    import os

    def predict(x: int):
        if x < 0:
            raise ValueError("negative")
        os.write(2, b"a native library writes to fd 2\\n")
        return x
"""

KEYS = ("time", "level", "logger", "message")
Record = dict[str, Any]


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@dataclass
class Streams:
    """A running ``servekit serve`` whose stdout and stderr go to two files."""

    process: subprocess.Popen[bytes]
    port: int
    out: Path
    err: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        """Every line so far, stdout's then stderr's."""
        return [
            line
            for path in (self.out, self.err)
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        ]

    def records(self, raw: bool = False) -> list[Record]:
        """The lines so far that are records (see :func:`every_line_a_record`), and with
        ``raw`` the others as ``{"message": line}``."""
        found = []
        for line in self.lines():
            try:
                value = json.loads(line)
            except ValueError:
                value = {"message": line.strip("* ")} if raw else None
            if isinstance(value, dict):
                found.append(value)
        return found

    def wait_for(
        self, test: Callable[[Record], bool], count: int = 1, *, raw: bool = False
    ) -> None:
        """Wait (bounded) until ``count`` records pass ``test`` (with ``raw``, lines that
        are not records too, as messages)."""
        deadline = time.monotonic() + 30
        while sum(1 for record in self.records(raw) if test(record)) < count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"not seen {count} times:\n" + "\n".join(self.lines()))
            time.sleep(0.05)

    def wait_ready(self) -> None:
        """Wait (bounded) until ``/readyz`` answers 200."""
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode}:\n{self.lines()}")
            with contextlib.suppress(OSError):
                if http("GET", f"{self.url}/readyz", timeout=1.0).status == 200:
                    return
            assert time.monotonic() < deadline, "\n".join(self.lines())
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a drain), a bounded wait, then SIGKILL of its process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return int(self.process.returncode)


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[Callable[..., Streams]]:
    """Start servers with stdout and stderr apart; each is stopped by PID at the end."""
    started: list[Streams] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> Streams:
        port = free_port()
        out, err = tmp_path / f"out-{len(started)}.log", tmp_path / f"err-{len(started)}.log"
        with out.open("wb") as out_file, err.open("wb") as err_file:
            command = [sys.executable, "-m", "servekit", "serve", *args]
            process = subprocess.Popen(
                [*command, "--port", str(port), "--host", "127.0.0.1"],
                stdout=out_file,
                stderr=err_file,
                stdin=subprocess.DEVNULL,
                env={
                    **os.environ,
                    "SERVEKIT_DRAIN_SECONDS": "1",
                    "SERVEKIT_GRACE_SECONDS": "10",
                    **(env or {}),
                },
                start_new_session=True,
            )
        server = Streams(process, port, out, err)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def every_line_a_record(server: Streams) -> list[Record]:
    """Each line of stdout and stderr, parsed: one JSON object with the four keys."""
    records = []
    for line in server.lines():
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"not JSON: {line!r}") from None
        assert isinstance(record, dict), line
        assert all(isinstance(record.get(key), str) for key in KEYS), line
        records.append(record)
    return records


def loaded(record: Record) -> bool:
    return record["message"] == "model loaded"


@pytest.mark.parametrize("front", ["nginx", "direct"])
def test_every_line_is_one_json_record(streams, tmp_path: Path, front: str) -> None:
    project = write_project(tmp_path / "model", {"model.py": FAILING_MODEL})
    server = streams(
        f"{project}/model.py:predict",
        *("--front", front, "--processes", "2"),
        *("--max-requests", "2", "--max-requests-jitter", "0"),
        *("--async-workers", "1", "--async-store", f"sqlite://{tmp_path}/jobs.db"),
    )
    server.wait_for(loaded, count=3)  # two HTTP workers and the job worker
    time.sleep(1.1)  # uWSGI recycles no worker in its first second
    for x in range(6):
        assert post_json(f"{server.url}/model", {"data": {"x": x}}).status == 200
    failed = post_json(f"{server.url}/model", {"data": {"x": -1}}, {"X-Request-ID": "bad-1"})
    assert failed.status == 500
    assert post_json(f"{server.url}/model", {"data": {"x": "nope"}}).status == 422
    for x in (1, -1):
        assert post_json(f"{server.url}/async", {"data": {"x": x}}).status == 200
    server.wait_for(lambda r: r["message"] in ("job succeeded", "job failed"), count=2)
    server.wait_for(lambda r: r["message"].startswith("Respawned uWSGI worker"), raw=True)
    server.wait_for(loaded, count=4)  # the new worker is ready: no stop mid-respawn
    assert server.stop() == 0

    records = every_line_a_record(server)
    messages = [(r["logger"], r["message"]) for r in records]
    assert server.out.read_text() == ""  # everything is on stderr
    # One drain line for the server, not one per worker.
    assert sum(1 for r in records if "draining" in r["message"]) == 1
    # Lines servekit wrote (the job workers' among them) are not wrapped again.
    assert not any(r["message"].lstrip().startswith("{") for r in records)
    assert ("servekit.jobs", "job succeeded") in messages
    errors = [r for r in records if r["logger"] == "servekit.model"]
    assert errors[0]["request_id"] == "bad-1"
    assert "ValueError: negative" in errors[0]["traceback"]
    codes = {r["code"] for r in records if r["logger"] == "servekit.access"}
    assert {200, 422, 500} <= codes
    # What is not servekit's own is in servekit's shape too.
    assert ("output", "a native library writes to fd 2") in messages
    uwsgi = [r["message"] for r in records if r["logger"] == "uwsgi"]
    start_up = uwsgi[: next(i for i, m in enumerate(uwsgi) if m.startswith("spawned uWSGI worker"))]
    assert len(start_up) <= 6, start_up
    assert any(m.startswith("uwsgi socket 0 bound to ") for m in start_up)
    assert any(m.startswith("Operational MODE: ") for m in start_up)
    assert sum(1 for m in uwsgi if m.startswith("spawned uWSGI worker")) == 2
    assert any(m.startswith("goodbye to uWSGI") for m in uwsgi)
    # No alarm that is not a real problem, and "running as root" at most once.
    everything = " ".join(r["message"] for r in records).lower()
    for noise in ("pcre", "post buffering", "the work of process", "--uid"):
        assert noise not in everything, noise
    assert sum(1 for m in uwsgi if "as root" in m) == (1 if os.getuid() == 0 else 0)


def test_the_log_survives_a_reload(streams, tmp_path: Path) -> None:
    project = write_project(tmp_path / "model", {"model.py": FAILING_MODEL})
    server = streams(f"{project}/model.py:predict", "--processes", "1")
    server.process.send_signal(signal.SIGHUP)  # uWSGI's reload: the master execs itself
    server.wait_for(lambda r: r["message"].startswith("gracefully (RE)spawned uWSGI master"))
    server.wait_ready()
    reply = post_json(f"{server.url}/model", {"data": {"x": 1}}, {"X-Request-ID": "after"})
    assert reply.status == 200
    assert server.stop() == 0
    records = every_line_a_record(server)
    assert any(r.get("request_id") == "after" for r in records)


def test_user_output_becomes_tagged_json_log_lines(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "1")
    reply = post_json(f"{server.url}/model", {"data": {"x": 7}}, {"X-Request-ID": "req-77"})
    assert reply.status == 200
    server.stop()
    lines = json_lines(server.log())
    tagged = [line for line in lines if line.get("request_id") == "req-77"]
    messages = {(line["logger"], line["message"]) for line in tagged}
    assert ("servekit.user.stdout", 'scoring "x" = 7') in messages
    assert ("servekit.user.stdout", "two") in messages
    assert ("servekit.user.stdout", "lines") in messages
    assert ("servekit.user.stderr", "a warning without newline") in messages
    assert ("model", "model log line") in messages
    access = [line for line in tagged if line["logger"] == "servekit.access"]
    assert access[0]["code"] == 200
    assert {"route", "duration_ms", "bytes_in", "bytes_out", "method"} <= set(access[0])
    assert any(line["message"] == "loading weights" for line in lines)
    starting = [line for line in lines if line["message"] == "starting"]
    assert starting[0]["processes"] == 1


def test_the_r_workers_output_is_tagged_json(streams, tmp_path: Path) -> None:
    if shutil.which("Rscript") is None:  # never a silent skip: say what to install
        pytest.fail("Rscript is missing: apt-get install r-base-core r-cran-jsonlite")
    project = write_project(
        tmp_path / "r",
        {
            "model.R": """
        cat("sourced\\n")
        predict <- function(x) {
          cat("scoring", x, "\\n")
          message("a message")
          x * 2
        }
    """
        },
    )
    server = streams(f"{project}/model.R:predict", "--processes", "1")
    reply = post_json(f"{server.url}/model", {"data": {"x": 4}}, {"X-Request-ID": "r-4"})
    assert reply.body["result"] == 8
    assert server.stop() == 0
    records = every_line_a_record(server)
    said = {
        (r["message"], r.get("request_id")) for r in records if r["logger"] == "servekit.user.r"
    }
    assert {("sourced", None), ("scoring 4", "r-4"), ("a message", "r-4")} <= said


def test_a_model_that_cannot_load_is_one_json_error(streams, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "broken",
        {"model.py": "def predict(x: int):\n    return x\nraise RuntimeError('no weights')\n"},
    )
    server = streams(
        f"{project}/model.py:predict", "--processes", "2", "--log-level", "debug", ready=False
    )
    assert server.process.wait(30) == 2
    records = every_line_a_record(server)
    errors = [r for r in records if r["level"] == "error"]
    assert len(errors) == 1, errors
    assert errors[0]["message"].startswith("servekit: error: cannot load")
    (traced,) = [r for r in records if "traceback" in r]
    assert traced["level"] == "debug"
    assert "RuntimeError: no weights" in traced["traceback"]


def test_text_format_for_humans(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "1", "--log-format", "text")
    post_json(f"{server.url}/model", {"data": {"x": 1}}, {"X-Request-ID": "req-1"})
    server.stop()
    log = server.log()
    assert "INFO servekit.access: request" in log
    assert "request_id=req-1" in log
    assert not any(line.startswith('{"time"') for line in log.splitlines())
    assert " INFO uwsgi: spawned uWSGI worker 1 " in log  # uWSGI's lines dated, like ours
    assert "pcre" not in log
