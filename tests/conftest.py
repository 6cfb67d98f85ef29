"""Shared fixtures: model projects written into tmp folders, and real servers.

Servers are started by the tests on 127.0.0.1, each on a free port, and stopped by
their PID. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sized_model(x: int, size: int = 0) -> Any:
    """A model for the job and queue tests: fails for x < 0, answers something JSON
    cannot hold for x == 99, and pads its answer with ``size`` bytes."""
    if x < 0:
        raise ValueError("negative")
    if x == 99:
        return {1, object()}  # not JSON
    return {"x": x, "pad": "p" * size}


def write_project(folder: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (name -> source, dedented) into ``folder``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@dataclass
class Reply:
    """An HTTP answer: status, headers and the decoded JSON body (or raw text)."""

    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes = field(repr=False, default=b"")


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One HTTP request with the standard library; never raises on 4xx/5xx."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status, got = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        status, got = error.code, dict(error.headers)
    try:
        decoded: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        decoded = raw.decode("utf-8", "replace")
    return Reply(status, {k.lower(): v for k, v in got.items()}, decoded, raw)


def post_json(url: str, document: Any, headers: dict[str, str] | None = None) -> Reply:
    """POST ``document`` as JSON."""
    return http(
        "POST", url, orjson.dumps(document), {"Content-Type": "application/json", **(headers or {})}
    )


@dataclass
class Server:
    """A running ``servekit serve`` (uWSGI after exec) and its log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 20.0) -> None:
        """Wait (bounded) until ``text`` appears ``count`` times in the log."""
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{text!r} not seen {count} times:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM by PID, bounded wait, then SIGKILL of its process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # Children left in the session this test started (e.g. --dev's reloader child).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return int(self.process.returncode)


def start_server(
    args: list[str],
    log_path: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    ready_timeout: float = 30.0,
    cwd: Path | None = None,
) -> Server:
    """Run ``python -m servekit serve ARGS`` and wait until /readyz answers 200."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "servekit",
        "serve",
        *args,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    ]
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Tests stop servers at once; the drain itself is tested with --drain-seconds.
            env={
                **os.environ,
                "SERVEKIT_DRAIN_SECONDS": "0",
                "SERVEKIT_GRACE_SECONDS": "5",
                **(env or {}),
            },
            start_new_session=True,
            cwd=cwd,
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if http("GET", f"{server.url}/readyz", timeout=1.0).status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server not ready within {ready_timeout}s:\n{server.log()}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start servers for a test; every one is stopped (by PID) when the test ends."""
    started: list[Server] = []

    def run(*args: str, **kwargs: Any) -> Server:
        log_path = tmp_path / f"server-{len(started)}.log"
        server = start_server(list(args), log_path, **kwargs)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


def run_cli(
    args: list[str],
    cwd: Path | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m servekit ARGS`` to completion (bounded), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "servekit", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        check=False,
    )


def start_redis(folder: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real redis-server (Debian's package) on a loopback port; waits until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: apt-get install redis-server (scripts/test does)"
        )
    port = free_port()
    log_path = folder / f"redis-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                *args,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return process, f"redis://127.0.0.1:{port}/0"
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"redis-server did not start:\n{log_path.read_text()}")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, bounded wait, then SIGKILL."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a loopback port, for the whole session."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop_process(process)
