"""Asynchronous predictions on real servers: uWSGI with job workers, SQLite and Redis."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import counting_model
from tests.clients import domino_async
from tests.conftest import Server, free_port, http, post_json, run_cli, write_project
from tests.counting_model import calls
from tests.metrics_parsing import value

pytestmark = pytest.mark.integration

MODEL = counting_model.SOURCE


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "jobs", {"model.py": MODEL})


def wait_done(server: Server, job_id: str, timeout: float = 30.0, **headers: str) -> Any:
    """Poll (bounded) until the job is no longer queued; its status document."""
    deadline = time.monotonic() + timeout
    while True:
        reply = http("GET", f"{server.url}/async/{job_id}", headers=headers)
        assert reply.status == 200, reply.body
        if reply.body["status"] != "queued":
            return reply.body
        assert time.monotonic() < deadline, f"job {job_id} still queued: {reply.body}"
        time.sleep(0.05)


def submit(server: Server, data: dict[str, Any], **headers: str) -> str:
    reply = post_json(f"{server.url}/async", {"data": data}, headers)
    assert reply.status == 200, reply.body
    return str(reply.body["asyncPredictionId"])


def first_starter(project: Path, timeout: float = 15.0) -> int:
    """The pid of the first worker that started a job (waits, bounded, for its line)."""
    started = project / "started.txt"
    deadline = time.monotonic() + timeout
    while True:
        lines = started.read_text().splitlines() if started.exists() else []
        if lines and lines[0].endswith(tuple("0123456789")):
            return int(lines[0].split()[0])
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.05)


def async_server(serve: Any, project: Path, *extra: str, **kwargs: Any) -> Server:
    return serve(
        f"{project}/model.py:predict",
        "--processes",
        "2",
        "--async-workers",
        "2",
        "--metrics-dir",
        str(project / "run"),
        *extra,
        **kwargs,
    )


def test_dominos_example_client_gets_results_and_errors(serve, project: Path) -> None:
    server = async_server(serve, project, env={"SERVEKIT_ACCESS_TOKENS": "t0ken"})
    done = domino_async.run(server.url, "abc123", "t0ken", {"x": 21})
    assert done["status"] == "succeeded"
    assert done["result"] == {"double": 42, "pad": ""}
    assert done["attempts"] == 1
    for field in ("createdAt", "startedAt", "completedAt"):
        assert done[field].endswith("Z")
    failed = domino_async.run(server.url, "abc123", "t0ken", {"x": 13})
    assert failed["status"] == "failed"
    assert failed["attempts"] == 3
    assert len(failed["errors"]) == 3
    assert all("ValueError: thirteen is unlucky" in e for e in failed["errors"])
    assert "result" not in failed
    with pytest.raises(Exception, match="create prediction request failed"):
        domino_async.run(server.url, "abc123", "wrong", {"x": 1})


def test_arguments_are_validated_before_queueing(serve, project: Path) -> None:
    server = async_server(serve, project)
    reply = post_json(f"{server.url}/async", {"data": {"x": "seven"}})
    assert reply.status == 422
    assert reply.body["error"]["code"] == "INVALID_ARGUMENTS"
    assert reply.body["error"]["details"][0]["path"] == "data.x"
    for body in (b"not json", b'{"nothing": 1}'):
        reply = http("POST", f"{server.url}/async", body, {"Content-Type": "application/json"})
        assert reply.status == 400
        assert reply.body["error"]["code"] in ("BAD_JSON", "BAD_REQUEST")
    by_position = post_json(f"{server.url}/async", {"parameters": [4]})
    assert by_position.status == 200
    assert wait_done(server, by_position.body["asyncPredictionId"])["result"]["double"] == 8
    missing = http("GET", f"{server.url}/api/modelApis/async/v1/m/{'0' * 32}")
    assert missing.status == 404
    assert missing.body["error"]["code"] == "NOT_FOUND"
    assert http("GET", f"{server.url}/async/..%2Fetc").status == 404
    assert calls(project) == [4], "nothing invalid reached the model"


def test_a_burst_of_1000_jobs_loses_and_repeats_none(serve, project: Path) -> None:
    server = async_server(serve, project)
    url = f"{server.url}/api/modelApis/async/v1/burst"

    def one(x: int) -> tuple[int, str]:
        reply = post_json(url, {"parameters": {"x": x}})
        assert reply.status == 200, reply.body
        return x, reply.body["asyncPredictionId"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        ids = dict(pool.map(one, range(1000, 2000)))  # 13 would raise
    assert len(set(ids.values())) == 1000
    deadline = time.monotonic() + 120
    while len(calls(project)) < 1000 and time.monotonic() < deadline:
        time.sleep(0.2)
    for x, job_id in ids.items():
        document = wait_done(server, job_id)
        assert (document["status"], document["result"]["double"]) == ("succeeded", 2 * x)
    assert calls(project) == list(range(1000, 2000)), "every job ran exactly once"
    metrics = http("GET", f"{server.url}/metrics").body
    assert value(metrics, "servekit_async_jobs_submitted_total") == 1000
    assert value(metrics, "servekit_async_jobs_total", status="succeeded") == 1000
    assert value(metrics, "servekit_async_queue_depth") == 0
    assert value(metrics, "servekit_async_queue_wait_seconds_count") == 1000
    assert value(metrics, "servekit_async_job_duration_seconds_count") == 1000


def test_a_burst_beyond_the_queue_limit_is_refused_with_429(
    serve, project: Path, tmp_path: Path
) -> None:
    database = tmp_path / "store" / "jobs.db"
    server = serve(
        f"{project}/model.py:predict",
        *("--processes", "2", "--async-workers", "0"),
        *("--async-store", f"sqlite://{database}"),
        env={"SERVEKIT_ASYNC_MAX_QUEUED": "5"},
    )  # no job workers: every accepted job stays queued
    url = f"{server.url}/api/modelApis/async/v1/burst"
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda x: post_json(url, {"parameters": {"x": x}}), range(40)))
    assert sorted(r.status for r in replies) == [200] * 5 + [429] * 35
    for reply in (r for r in replies if r.status == 429):
        assert reply.headers["retry-after"].isdigit()
        assert reply.body["error"]["code"] == "TOO_MANY_REQUESTS"
        assert "SERVEKIT_ASYNC_MAX_QUEUED" in reply.body["error"]["message"]
    with contextlib.closing(sqlite3.connect(database)) as db:
        states = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
    assert states == [("queued", 5)]
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    metrics = http("GET", f"{server.url}/metrics").body
    assert value(metrics, "servekit_async_queue_depth") == 5
    assert value(metrics, "servekit_async_jobs_submitted_total") == 5


def test_a_killed_worker_loses_no_job(serve, project: Path) -> None:
    server = async_server(serve, project, "--async-lease-seconds", "2")
    job_id = submit(server, {"x": 7, "pause": 3.0})
    os.kill(first_starter(project), signal.SIGKILL)
    started = project / "started.txt"
    document = wait_done(server, job_id, timeout=30)
    assert document["status"] == "succeeded", document
    assert document["attempts"] == 2
    assert calls(project) == [7]
    pids = {int(line.split()[0]) for line in started.read_text().splitlines()}
    assert len(pids) == 2, "another worker ran the second attempt"
    metrics = http("GET", f"{server.url}/metrics").body
    assert value(metrics, "servekit_async_redeliveries_total") == 1
    assert value(metrics, "servekit_async_jobs_total", status="succeeded") == 1


def test_sigterm_lets_the_running_job_finish(serve, project: Path) -> None:
    server = async_server(serve, project, "--drain-seconds", "1")
    job_id = submit(server, {"x": 5, "pause": 2.0})
    first_starter(project)
    assert server.stop(timeout=30) == 0
    assert calls(project) == [5]
    row = sqlite3.connect(project / "run" / "jobs.db").execute(
        "SELECT state, attempts FROM jobs WHERE job_id = ?", (job_id,)
    )
    assert row.fetchone() == ("succeeded", 1)
    assert "job succeeded" in server.log()


def test_jobs_survive_a_restart_of_the_server(serve, project: Path) -> None:
    port = free_port()
    first = serve(
        f"{project}/model.py:predict",
        "--async-store",
        f"sqlite://{project}/jobs.db",
        port=port,
    )
    job_id = submit(first, {"x": 3})  # no workers: it stays queued
    assert wait_done_or_queued(first, job_id) == "queued"
    assert first.stop() == 0
    second = async_server(serve, project, "--async-store", f"sqlite://{project}/jobs.db")
    assert wait_done(second, job_id)["result"]["double"] == 6


def wait_done_or_queued(server: Server, job_id: str) -> str:
    time.sleep(0.5)
    return str(http("GET", f"{server.url}/async/{job_id}").body["status"])


def test_finished_jobs_expire_and_are_deleted(serve, project: Path) -> None:
    server = async_server(serve, project, "--async-retention-seconds", "1")
    job_id = submit(server, {"x": 2})
    assert wait_done(server, job_id)["status"] == "succeeded"
    time.sleep(1.2)
    gone = http("GET", f"{server.url}/async/{job_id}")
    assert gone.status == 404
    assert gone.body["error"]["code"] == "NOT_FOUND"
    database = project / "run" / "jobs.db"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = sqlite3.connect(database).execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        if rows == 0:
            break
        time.sleep(0.2)
    assert rows == 0, "an expired job's input and result are deleted, not just hidden"


def test_an_idempotency_key_runs_the_job_once(serve, project: Path) -> None:
    server = async_server(serve, project)
    first = submit(server, {"x": 9}, **{"Idempotency-Key": "order-9"})
    again = submit(server, {"x": 9}, **{"Idempotency-Key": "order-9"})
    other = submit(server, {"x": 10}, **{"Idempotency-Key": "order-10"})
    assert first == again
    assert other != first
    wait_done(server, first)
    wait_done(server, other)
    assert submit(server, {"x": 9}, **{"Idempotency-Key": "order-9"}) == first
    time.sleep(0.3)
    assert calls(project) == [9, 10]
    bad = post_json(f"{server.url}/async", {"data": {"x": 1}}, {"Idempotency-Key": "a b"})
    assert bad.status == 400


def test_payload_and_result_limits(serve, project: Path) -> None:
    server = async_server(serve, project, "--async-max-result-bytes", "2000")
    big = post_json(f"{server.url}/async", {"data": {"x": 1, "pad": "y" * 11000}})
    assert big.status == 413
    assert big.body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "SERVEKIT_ASYNC_MAX_BODY_BYTES" in big.body["error"]["message"]
    too_big = wait_done(server, submit(server, {"x": 1, "size": 3000}))
    assert too_big["status"] == "failed"
    assert too_big["attempts"] == 1, "a result that is too large is not retried"
    assert "return a reference" in too_big["errors"][0]
    fits = wait_done(server, submit(server, {"x": 1, "size": 1000}))
    assert fits["status"] == "succeeded"


def test_serves_job_workers_even_with_amqp_settings_in_the_environment(
    serve, project: Path
) -> None:
    amqp = {
        "SERVEKIT_AMQP_URL": f"amqp://127.0.0.1:{free_port()}/",
        "SERVEKIT_AMQP_INPUT_QUEUE": "requests",
        "SERVEKIT_AMQP_OUTPUT_QUEUE": "replies",
    }
    server = async_server(serve, project, env=amqp)
    assert wait_done(server, submit(server, {"x": 4}))["result"]["double"] == 8


def test_async_is_off_without_workers_or_a_store(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict")
    reply = post_json(f"{server.url}/async", {"data": {"x": 1}})
    assert reply.status == 404
    assert "--async-workers" in reply.body["error"]["message"]


def test_tokens_guard_the_async_routes(serve, project: Path) -> None:
    server = async_server(serve, project, env={"SERVEKIT_ACCESS_TOKENS": "k1"})
    assert post_json(f"{server.url}/async", {"data": {"x": 1}}).status == 401
    job_id = submit(server, {"x": 1}, Authorization="Bearer k1")
    assert http("GET", f"{server.url}/async/{job_id}").status == 401
    assert wait_done(server, job_id, Authorization="Bearer k1")["status"] == "succeeded"


def worker_process(
    project: Path, store: str, log_path: Path, *extra: str, grace: str = "10"
) -> Any:
    """``servekit worker`` (2 processes) on ``store``, in its own session."""
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "servekit",
                "worker",
                f"{project}/model.py:predict",
                "--async-store",
                store,
                "--processes",
                "2",
                *extra,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "SERVEKIT_GRACE_SECONDS": grace},
            start_new_session=True,
        )


def stop_worker(process: Any, log_path: Path) -> int:
    """SIGTERM, bounded wait; SIGKILL of its session if it does not stop (then fail)."""
    process.send_signal(signal.SIGTERM)
    try:
        return int(process.wait(20))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        raise AssertionError(f"worker did not stop:\n{log_path.read_text()}") from None


def test_redis_serves_several_pods(serve, project: Path, redis_url: str, tmp_path: Path) -> None:
    store = redis_url.rsplit("/", 1)[0] + "/3"
    pods = [
        serve(f"{project}/model.py:predict", "--async-store", store, "--processes", "1")
        for _ in range(2)
    ]
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = [worker_process(project, store, log) for log in logs]  # two worker "pods"
    try:
        deadline = time.monotonic() + 30  # both worker pods ready before the jobs come
        while not all(
            log.exists() and log.read_text().count("job worker started") == 2 for log in logs
        ):
            assert time.monotonic() < deadline, [log.read_text() for log in logs if log.exists()]
            time.sleep(0.1)
        ids = {x: submit(pods[x % 2], {"x": x, "pause": 0.01}) for x in range(100, 300)}
        for x, job_id in ids.items():
            document = wait_done(pods[(x + 1) % 2], job_id)  # polled at the other pod
            assert document["result"]["double"] == 2 * x
        assert calls(project) == list(range(100, 300))
        runners = {
            int(line.split()[0])
            for line in (project / "started.txt").read_text().split("\n")
            if line
        }
        assert len(runners) >= 2, "more than one worker process took jobs"
        metrics = http("GET", f"{pods[0].url}/metrics").body
        assert value(metrics, "servekit_async_queue_depth") == 0
    finally:
        codes = [stop_worker(w, log) for w, log in zip(workers, logs, strict=True)]
    assert codes == [0, 0]


def test_a_killed_redis_worker_loses_no_job(
    serve, project: Path, redis_url: str, tmp_path: Path
) -> None:
    store = redis_url.rsplit("/", 1)[0] + "/4"
    pod = serve(f"{project}/model.py:predict", "--async-store", store, "--processes", "1")
    log = tmp_path / "worker.log"
    worker = worker_process(project, store, log, "--async-lease-seconds", "2")
    try:
        job_id = submit(pod, {"x": 8, "pause": 3.0})
        os.kill(first_starter(project), signal.SIGKILL)
        document = wait_done(pod, job_id, timeout=30)
        assert (document["status"], document["attempts"]) == ("succeeded", 2)
        assert calls(project) == [8]
    finally:
        code = stop_worker(worker, log)
    assert code == 0


def test_a_standalone_worker_serves_its_own_metrics(serve, project: Path, tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/jobs.db"
    pod = serve(f"{project}/model.py:predict", "--async-store", store)
    port = free_port()
    log = tmp_path / "worker.log"
    worker = worker_process(
        project, store, log, "--metrics-port", str(port), "--metrics-dir", str(tmp_path / "w")
    )
    try:
        done = [wait_done(pod, submit(pod, {"x": x}), timeout=30) for x in (1, 2, 13)]
        assert [d["status"] for d in done] == ["succeeded", "succeeded", "failed"]
        deadline = time.monotonic() + 10
        while True:
            try:
                metrics = http("GET", f"http://127.0.0.1:{port}/metrics").body
                if value(metrics, "servekit_async_jobs_total", status="failed") == 1:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert value(metrics, "servekit_async_jobs_total", status="succeeded") == 2
        assert value(metrics, "servekit_async_attempt_failures_total", code="MODEL_ERROR") == 3
        assert value(metrics, "servekit_async_queue_depth") == 0
        assert value(metrics, "servekit_async_job_duration_seconds_count") == 5
    finally:
        code = stop_worker(worker, log)
    assert code == 0


def test_a_metrics_port_in_use_stops_the_worker_at_once(project: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(
            [
                "worker",
                f"{project}/model.py:predict",
                "--async-store",
                f"sqlite://{tmp_path}/jobs.db",
                "--metrics-port",
                str(port),
            ],
            timeout=30,
        )
    assert done.returncode == 2
    assert "SERVEKIT_METRICS_PORT" in done.stderr


def test_sigterm_right_after_start_stops_the_worker(project: Path, tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/jobs.db"
    # grace 0: a worker that missed its SIGTERM would never be killed, so a hang shows
    for n, delay in enumerate((0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5)):
        log = tmp_path / f"w{n}.log"
        process = worker_process(project, store, log, grace="0")
        process_started = time.monotonic()
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"hung after SIGTERM at {delay} s:\n{log.read_text()}") from None
        # Before Python has installed the handler, SIGTERM's default action ends it (-15).
        assert code in (0, -signal.SIGTERM), log.read_text()
        assert time.monotonic() - process_started < 15


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("postgres://db/jobs", "unknown store 'postgres'"),
        ("sqlite://relative/jobs.db", "absolute path"),
        ("sqlite:///proc/no/jobs.db", "cannot open the job store"),
    ],
)
def test_a_bad_store_stops_worker_and_server_at_once(
    project: Path, tmp_path: Path, store: str, message: str
) -> None:
    for command in ("worker", "serve"):
        done = run_cli([command, f"{project}/model.py:predict", "--async-store", store], timeout=30)
        assert done.returncode == 2, (command, done.stderr)
        assert "servekit: error: " in done.stderr
        assert message in done.stderr


def test_a_worker_that_cannot_load_the_model_exits_non_zero(tmp_path: Path) -> None:
    broken = write_project(
        tmp_path / "broken",
        {"model.py": "def predict(x: int):\n    return x\nraise RuntimeError('no weights')\n"},
    )
    log = tmp_path / "w.log"
    process = worker_process(broken, f"sqlite://{tmp_path}/jobs.db", log)
    assert process.wait(30) == 2
    text = log.read_text()
    assert text.count("servekit: error:") == 1, text
    assert "no weights" in text
