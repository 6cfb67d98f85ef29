"""The async API's pieces in one process: service, runner and worker over the in-memory
store, and the Flask routes through the test client (SQLite store in a tmp folder)."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.core.runner import call_now
from servekit.http import ServerState, create_app
from servekit.jobs import JobPolicy
from servekit.jobs.config import job_policy
from servekit.jobs.memory import MemoryStore
from servekit.jobs.runner import JobRunner
from servekit.jobs.service import AsyncPredictions, caller_identity, public_status, render
from servekit.jobs.worker import Worker
from servekit.metrics.jobs import JobMetrics
from servekit.runtimes.function import FunctionRuntime
from servekit.serving.deadline import Deadline
from servekit.settings import Settings
from tests.conftest import free_port
from tests.conftest import sized_model as model


@pytest.fixture
def plane() -> DataPlane:
    runtime = FunctionRuntime(model)
    runtime.load()
    return DataPlane(runtime, Release("0", "m", "1"))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(JobPolicy(max_attempts=2))


@pytest.fixture
def service(plane: DataPlane, store: MemoryStore) -> AsyncPredictions:
    return AsyncPredictions(plane, store, 200, JobMetrics(CollectorRegistry()))


def run_all(plane: DataPlane, store: MemoryStore, max_result: int = 1000) -> None:
    stop = threading.Event()
    worker = Worker(
        store, JobRunner(plane, max_result, call_now), JobMetrics(CollectorRegistry()), stop
    )
    while (lease := store.lease(worker.name, 0.05)) is not None:
        worker.work(lease)


def job_id_of(answer: bytes) -> str:
    return str(orjson.loads(answer)["asyncPredictionId"])


def test_submit_validates_then_queues(service: AsyncPredictions, store: MemoryStore) -> None:
    with pytest.raises(errors.InvalidArguments, match=r"data\.x"):
        service.submit(b'{"data": {"x": "a"}}', None, "r1")
    with pytest.raises(errors.BadJson):
        service.submit(b"{", None, "r1")
    with pytest.raises(errors.PayloadTooLarge, match="SERVEKIT_ASYNC_MAX_BODY_BYTES"):
        service.submit(b'{"data": {"x": 1, "pad": "' + b"y" * 300 + b'"}}', None, "r1")
    with pytest.raises(errors.BadRequest, match="Idempotency-Key"):
        service.submit(b'{"data": {"x": 1}}', "has space", "r1")
    assert store.depth() == 0
    answer = orjson.loads(service.submit(b'{"parameters": [1]}', None, "r2"))
    assert set(answer) == {"asyncPredictionId", "request_id"}
    assert store.depth() == 1


def test_status_documents_follow_dominos_shape(
    service: AsyncPredictions, plane: DataPlane, store: MemoryStore
) -> None:
    ok = job_id_of(service.submit(b'{"data": {"x": 2}}', None, "r"))
    bad = job_id_of(service.submit(b'{"data": {"x": -1}}', None, "r"))
    queued = orjson.loads(service.status(ok))
    assert (queued["status"], queued["phase"], queued["attempts"]) == ("queued", "queued", 0)
    assert "result" not in queued
    assert "startedAt" not in queued
    run_all(plane, store)
    done = orjson.loads(service.status(ok))
    assert done["status"] == "succeeded"
    assert done["result"] == {"x": 2, "pad": ""}
    assert done["createdAt"] <= done["startedAt"] <= done["completedAt"]
    failed = orjson.loads(service.status(bad))
    assert (failed["status"], failed["attempts"]) == ("failed", 2)
    assert failed["errors"] == [
        "attempt 1: MODEL_ERROR: ValueError: negative",
        "attempt 2: MODEL_ERROR: ValueError: negative",
    ]
    with pytest.raises(errors.NotFound, match="unknown"):
        service.status("f" * 32)
    with pytest.raises(errors.NotFound):
        service.status("../../etc/passwd")


def test_a_running_job_reads_queued(store: MemoryStore) -> None:
    assert public_status("running") == "queued"
    job_id = store.submit(b"{}").job_id
    assert store.lease("w", 0.1) is not None
    job = store.get(job_id)
    assert job is not None
    assert (render(job)["status"], render(job)["phase"]) == ("queued", "running")


def test_results_over_the_limit_and_unencodable_results_fail(
    service: AsyncPredictions, plane: DataPlane, store: MemoryStore
) -> None:
    big = job_id_of(service.submit(b'{"data": {"x": 1, "size": 500}}', None, "r"))
    odd = job_id_of(service.submit(b'{"data": {"x": 99}}', None, "r"))
    run_all(plane, store, max_result=100)
    too_big = orjson.loads(service.status(big))
    assert (too_big["status"], too_big["attempts"]) == ("failed", 1)
    assert "RESULT_TOO_LARGE" in too_big["errors"][0]
    assert "return a reference" in too_big["errors"][0]
    unencodable = orjson.loads(service.status(odd))
    assert unencodable["status"] == "failed"
    assert "could not be encoded as JSON" in unencodable["errors"][0]


def test_a_timed_out_attempt_is_retried_and_replaces_the_worker(store: MemoryStore) -> None:
    def slow(pause: float) -> float:
        time.sleep(pause)
        return pause

    runtime = FunctionRuntime(slow)
    runtime.load()
    plane = DataPlane(runtime, Release("0", "m", "1"))
    job_id = store.submit(b'{"data": {"pause": 2}}').job_id
    runner = JobRunner(plane, 1000, Deadline(0.2, lambda: None).run)
    worker = Worker(store, runner, JobMetrics(CollectorRegistry()), threading.Event())
    lease = store.lease(worker.name, 0.1)
    assert lease is not None
    outcome = worker.work(lease)
    assert outcome.replace_worker
    assert outcome.retry
    job = store.get(job_id)
    assert job is not None
    assert job.state == "queued"
    assert "TIMEOUT" in job.errors[0]


def test_a_stopped_worker_returns(plane: DataPlane, store: MemoryStore) -> None:
    stop = threading.Event()
    worker = Worker(store, JobRunner(plane, 1000, call_now), JobMetrics(CollectorRegistry()), stop)
    thread = threading.Thread(target=worker.run)
    thread.start()
    job_id = store.submit(b'{"data": {"x": 5}}').job_id
    deadline = time.monotonic() + 5
    while (job := store.get(job_id)) is not None and job.state != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def app_client(plane: DataPlane, **settings: Any) -> Any:
    chosen = Settings(**settings)
    return create_app(chosen, ServerState(dataplane=plane)).test_client()


def test_routes_answer_in_the_one_envelope(plane: DataPlane, tmp_path: Path) -> None:
    client = app_client(plane, async_store=f"sqlite://{tmp_path}/jobs.db")
    submitted = client.post("/api/modelApis/async/v1/any", json={"parameters": {"x": 3}})
    assert submitted.status_code == 200
    job_id = submitted.get_json()["asyncPredictionId"]
    for path in (f"/async/{job_id}", f"/api/modelApis/async/v1/any/{job_id}"):
        got = client.get(path)
        assert got.status_code == 200
        assert got.get_json()["status"] == "queued"
    invalid = client.post("/async", json={"data": {"x": []}})
    assert invalid.status_code == 422
    assert invalid.get_json()["error"]["code"] == "INVALID_ARGUMENTS"
    form = client.post("/async", data="x=1", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert form.get_json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    wrong_method = client.get("/async")
    assert wrong_method.status_code == 405
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "servekit_async_queue_depth 1.0" in metrics
    assert "servekit_async_jobs_submitted_total 1.0" in metrics


def test_an_unreachable_store_is_503(plane: DataPlane) -> None:
    client = app_client(plane, async_store=f"redis://127.0.0.1:{free_port()}/0")
    reply = client.post("/async", json={"data": {"x": 1}})
    assert reply.status_code == 503
    assert reply.get_json()["error"]["code"] == "STORE_UNAVAILABLE"
    assert client.get("/metrics").status_code == 200, "a scrape survives a store outage"


def test_async_settings_are_checked() -> None:
    with pytest.raises(errors.ConfigError, match="SERVEKIT_ASYNC_MAX_ATTEMPTS"):
        Settings(async_max_attempts=0)
    with pytest.raises(errors.ConfigError, match="SERVEKIT_ASYNC_LEASE_SECONDS"):
        Settings(async_lease_seconds=0)
    assert Settings(port=9000).async_store_url.endswith("/servekit-9000/jobs.db")
    assert not Settings().async_enabled
    assert Settings(async_workers=1).async_enabled


def test_a_full_queue_is_429_with_retry_after(plane: DataPlane, tmp_path: Path) -> None:
    client = app_client(plane, async_store=f"sqlite://{tmp_path}/jobs.db", async_max_queued=2)
    for x in (1, 2):
        assert client.post("/async", json={"data": {"x": x}}).status_code == 200
    for path in ("/async", "/api/modelApis/async/v1/any"):
        refused = client.post(path, json={"data": {"x": 3}})
        assert refused.status_code == 429
        assert refused.headers["Retry-After"].isdigit()
        assert int(refused.headers["Retry-After"]) >= 1
        document = refused.get_json()
        assert document["error"]["code"] == "TOO_MANY_REQUESTS"
        assert "SERVEKIT_ASYNC_MAX_QUEUED" in document["error"]["message"]
        assert document["request_id"] == refused.headers["X-Request-ID"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "servekit_async_jobs_submitted_total 2.0" in metrics
    assert "servekit_async_queue_depth 2.0" in metrics


def test_idempotency_keys_are_scoped_to_the_token(plane: DataPlane, tmp_path: Path) -> None:
    client = app_client(
        plane,
        async_store=f"sqlite://{tmp_path}/jobs.db",
        access_tokens="alice-secret-token,bob-secret-token",
    )

    def post(token: str, x: int) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1"}
        return client.post("/async", json={"data": {"x": x}}, headers=headers)

    alice = post("alice-secret-token", 1)
    assert alice.status_code == 200
    again = post("alice-secret-token", 1)
    assert again.get_json()["asyncPredictionId"] == alice.get_json()["asyncPredictionId"]
    bob = post("bob-secret-token", 1)
    assert bob.status_code == 200
    assert bob.get_json()["asyncPredictionId"] != alice.get_json()["asyncPredictionId"]
    conflict = post("alice-secret-token", 2)
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "CONFLICT"
    assert "order-1" in conflict.get_json()["error"]["message"]
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"secret-token" not in stored, "no token is stored, only a digest"


def test_the_caller_is_a_digest_of_the_authorization_header() -> None:
    assert caller_identity(None) == ""
    assert caller_identity("Bearer t") == hashlib.sha256(b"Bearer t").hexdigest()
    assert caller_identity("Bearer t") != caller_identity("Bearer u")


def test_the_queue_settings_are_checked_and_reach_the_store() -> None:
    with pytest.raises(errors.ConfigError, match="SERVEKIT_ASYNC_MAX_QUEUED"):
        Settings(async_max_queued=0)
    with pytest.raises(errors.ConfigError, match="SERVEKIT_ASYNC_QUEUE_SECONDS"):
        Settings(async_queue_seconds=0)
    policy = job_policy(Settings(async_max_queued=7, async_queue_seconds=90))
    assert (policy.max_queued, policy.queue_seconds) == (7, 90.0)
    defaults = job_policy(Settings())
    assert (defaults.max_queued, defaults.queue_seconds) == (1000, 1800.0)
