"""Graceful drain on SIGTERM and request timeouts, on real uWSGI servers."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, http, post_json, write_project
from tests.metrics_parsing import value

pytestmark = pytest.mark.integration

MODEL = """
    import os
    import time
    from pathlib import Path

    def predict(pause: float = 0.0, spin: float = 0.0, tag: str = ""):
        if tag:
            Path(__file__).with_name(tag + ".pid").write_text(str(os.getpid()))
        time.sleep(pause)
        end = time.monotonic() + spin
        while time.monotonic() < end:  # pure Python, CPU-bound
            pass
        return {"pid": os.getpid()}
"""


def start_two_workers(serve, tmp_path: Path, *flags: str):
    """A two-worker server on MODEL, returned once both workers have loaded it."""
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "2", *flags)
    server.wait_for_log('"message":"model loaded"', count=2)
    return server


def test_sigterm_under_load_loses_no_request(serve, tmp_path: Path) -> None:
    server = start_two_workers(serve, tmp_path, "--drain-seconds", "3", "--grace-seconds", "10")
    url = f"{server.url}/model"
    stop_sending = time.monotonic() + 2.5  # a bounded loop, inside the drain window
    statuses: list[int] = []

    def load() -> None:
        for _ in range(400):
            if time.monotonic() > stop_sending:
                return
            statuses.append(post_json(url, {"data": {"pause": 0.01}}).status)

    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        long_request = pool.submit(post_json, url, {"data": {"pause": 1.5}})
        senders = [pool.submit(load) for _ in range(3)]
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        readiness = _readiness_after(f"{server.url}/readyz", seconds=1.5)
        for sender in senders:
            sender.result()
        assert long_request.result().status == 200
    assert 503 in readiness, f"readiness should turn 503 during the drain, saw {readiness}"
    assert len(statuses) > 20
    assert set(statuses) == {200}, f"failed requests during drain: {statuses.count(200)} ok"
    assert server.process.wait(20) == 0
    assert "draining" in server.log()


def test_sigterm_to_the_whole_process_group_drains_and_stops(serve, tmp_path: Path) -> None:
    # systemd's default KillMode and `timeout` signal every process of the group: the
    # workers took SIGTERM themselves, died mid-drain and were respawned, and the master
    # served on. Now each routes it to the drain, with threads (a batched model's) too.
    server = start_two_workers(
        serve, tmp_path, "--threads", "4", "--drain-seconds", "1", "--grace-seconds", "5"
    )
    assert post_json(f"{server.url}/model", {"data": {}}).status == 200
    os.killpg(server.process.pid, signal.SIGTERM)
    assert server.process.wait(15) == 0, server.log()
    log = server.log()
    assert "draining" in log
    assert "died" not in log, log


def test_grace_bounds_how_long_a_stuck_request_delays_the_stop(serve, tmp_path: Path) -> None:
    server = start_two_workers(
        serve, tmp_path, "--drain-seconds", "0", "--grace-seconds", "2", "--timeout", "60"
    )
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        stuck = pool.submit(post_json, f"{server.url}/model", {"data": {"pause": 30}})
        time.sleep(0.5)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(15)
        stopped_after = time.monotonic() - started
        # The stuck request's worker was killed: the nginx front says so (502 WORKER_LOST)
        # while it stands, or its own connection breaks when it is stopped too.
        try:
            reply = stuck.result()
        except ConnectionError:
            pass
        else:
            assert reply.status == 502, reply
            assert reply.body["error"]["code"] == "WORKER_LOST"
    assert 1.5 < stopped_after < 6, stopped_after


def _readiness_after(url: str, seconds: float) -> list[int]:
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(http("GET", url, timeout=2).status)
        if seen[-1] == 503:
            break
        time.sleep(0.05)
    return seen


def test_sigterm_while_workers_are_still_importing_exits_zero(tmp_path: Path) -> None:
    write_project(
        tmp_path, {"model.py": "import time\ntime.sleep(2)\ndef predict():\n    return 1\n"}
    )
    command = [
        sys.executable,
        "-m",
        "servekit",
        "serve",
        "model.py:predict",
        "--processes",
        "2",
        "--port",
        str(free_port()),
        "--drain-seconds",
        "0",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:  # the whole group: a worker must not outlive a failed test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    assert process.returncode == 0, output.decode(errors="replace")[-2000:]


@pytest.mark.parametrize("work", [{"pause": 30.0}, {"spin": 30.0}], ids=["sleeping", "busy"])
def test_a_timeout_answers_504_and_spares_its_neighbours(
    serve, tmp_path: Path, work: dict[str, float]
) -> None:
    server = start_two_workers(serve, tmp_path, "--timeout", "2")
    url = f"{server.url}/model"
    result: dict[str, object] = {}

    def slow() -> None:
        started = time.monotonic()
        result["reply"] = post_json(
            url, {"data": {**work, "tag": "slow"}}, {"X-Request-ID": "slow-1"}
        )
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    neighbours = [post_json(url, {"data": {"pause": 0.05}}) for _ in range(10)]
    thread.join(15)
    reply = result["reply"]
    assert reply.status == 504, reply.body  # type: ignore[attr-defined]
    assert reply.body["error"]["code"] == "TIMEOUT"  # type: ignore[attr-defined]
    assert reply.body["request_id"] == "slow-1"  # type: ignore[attr-defined]
    assert 1.9 < result["seconds"] < 4.0  # type: ignore[operator]
    assert {n.status for n in neighbours} == {200}
    slow_pid = int((tmp_path / "slow.pid").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the timed-out worker is replaced
        pids = {post_json(url, {"data": {}}).body["result"]["pid"] for _ in range(6)}
        if len(pids) == 2 and slow_pid not in pids:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"worker {slow_pid} was not replaced: {pids}")
    text = http("GET", f"{server.url}/metrics").raw.decode()
    assert value(text, "servekit_model_errors_total", code="TIMEOUT") == 1
    assert value(text, "servekit_requests_total", route="/model", code="504") == 1
