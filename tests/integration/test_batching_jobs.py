"""Asynchronous jobs of a batched model on a real server (uWSGI, its job workers, SQLite):
a job worker holds up to max_size jobs at once and runs them as one call, each job keeps
its own result, a poisoned job fails alone, and a worker SIGKILLed mid-batch loses no
job (the leases run out and the jobs are run again)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, http, post_json, write_project

pytestmark = pytest.mark.integration

MODEL = """
import os
import time
from pathlib import Path

import servekit

HERE = Path(__file__).parent


@servekit.batch(max_size=8, max_wait_ms=300)
def predict(x: list[int], tag: list[str], pause: list[float] = 0.0) -> list[dict]:
    with (HERE / "batches.txt").open("a") as log:
        log.write(f"{os.getpid()} {','.join(tag)}\\n")
    time.sleep(max(pause))
    if "poison" in tag:
        raise ValueError("poisoned")
    return [{"tag": t, "y": v * 3, "batch": len(x)} for v, t in zip(x, tag)]
"""


def _submit(server: Server, data: dict[str, Any]) -> str:
    reply = post_json(f"{server.url}/async", {"data": data})
    assert reply.status == 200, reply.body
    return str(reply.body["asyncPredictionId"])


def _done(
    server: Server, project: Path, job_ids: dict[str, str], timeout: float = 40.0
) -> dict[str, Any]:
    """Each job's status document once none is queued (bounded; the store's rows and the
    server's log say why when it times out)."""
    deadline = time.monotonic() + timeout
    while True:
        documents = {
            tag: http("GET", f"{server.url}/async/{job}").body for tag, job in job_ids.items()
        }
        if all(d["status"] != "queued" for d in documents.values()):
            return documents
        if time.monotonic() > deadline:
            with contextlib.closing(sqlite3.connect(project / "run" / "jobs.db")) as db:
                rows = db.execute("SELECT job_id, state, attempts FROM jobs").fetchall()
            log = server.log()[-3000:]
            pytest.fail(f"still queued: {documents}\nthe store: {rows}\n{log}")
        time.sleep(0.1)


def _batches(project: Path) -> list[tuple[int, list[str]]]:
    path = project / "batches.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(int(pid), tags.split(",")) for pid, tags in (line.split(" ", 1) for line in lines)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "batched", {"model.py": MODEL})


def _server(serve: Any, project: Path) -> Server:
    return serve(
        f"{project}/model.py:predict",
        *("--processes", "1", "--async-workers", "1", "--async-lease-seconds", "2"),
        *("--metrics-dir", str(project / "run")),
    )


def test_queued_jobs_run_as_one_call_each_with_its_own_result(serve: Any, project: Path) -> None:
    server = _server(serve, project)
    jobs = {
        f"t{i}" if i != 5 else "poison": _submit(
            server, {"x": i, "tag": f"t{i}" if i != 5 else "poison"}
        )
        for i in range(12)
    }
    documents = _done(server, project, jobs)
    poisoned = documents.pop("poison")
    assert poisoned["status"] == "failed", poisoned
    for tag, document in documents.items():
        assert document["status"] == "succeeded", document
        assert document["result"]["tag"] == tag
        assert document["result"]["y"] == int(tag[1:]) * 3
    sizes = [len(tags) for _, tags in _batches(project)]
    assert max(sizes) > 1, sizes  # jobs in hand met in one call
    assert all(size <= 8 for size in sizes), sizes


def test_a_worker_killed_mid_batch_loses_no_job(serve: Any, project: Path) -> None:
    server = _server(serve, project)
    jobs = {f"t{i}": _submit(server, {"x": i, "tag": f"t{i}", "pause": 3.0}) for i in range(4)}
    deadline = time.monotonic() + 20
    while not _batches(project):  # the first batch has started (and sleeps 3 s)
        assert time.monotonic() < deadline, "no batch started"
        time.sleep(0.05)
    pid, first = _batches(project)[0]
    os.kill(pid, signal.SIGKILL)
    documents = _done(server, project, jobs, timeout=60)
    for tag, document in documents.items():
        assert document["status"] == "succeeded", document
        assert document["result"]["tag"] == tag
    redone = [document for tag, document in documents.items() if tag in first]
    assert redone, documents
    assert all(d["attempts"] == 2 for d in redone), documents
    assert {p for p, _ in _batches(project)} - {pid}, "a new worker process ran them again"
