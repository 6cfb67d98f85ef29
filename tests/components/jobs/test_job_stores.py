"""The JobStore contract, run against every store: the in-memory fake, SQLite and a
real Redis server (started by the ``redis_url`` fixture on a loopback port). The queue's
limits (its size, its waiting time) are in ``test_job_queue_limits.py``; what only one
store does is in ``test_store_backends.py`` (here, and in tests/unit/jobs)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from servekit.errors import Conflict
from tests.job_stores import FakeClock, MakeStore, store_maker  # noqa: F401 (make_store)


def test_a_submitted_job_is_queued(make_store: MakeStore) -> None:
    store = make_store()
    before = time.time()
    submitted = store.submit(b'{"data": {}}')
    assert submitted.created
    job = store.get(submitted.job_id)
    assert job is not None
    assert (job.state, job.attempts, job.result, job.errors) == ("queued", 0, None, ())
    assert before - 1 <= job.created_at <= time.time() + 1
    assert job.started_at is None
    assert job.completed_at is None
    assert store.depth() == 1


def test_unknown_ids_are_none(make_store: MakeStore) -> None:
    assert make_store().get("0" * 32) is None


def test_a_lease_hands_out_the_payload_once(make_store: MakeStore) -> None:
    store = make_store()
    job_id = store.submit(b"payload-1").job_id
    lease = store.lease("w1", wait_seconds=1.0)
    assert lease is not None
    assert (lease.job_id, lease.payload, lease.attempt, lease.redelivered) == (
        job_id,
        b"payload-1",
        1,
        False,
    )
    assert store.lease("w2", wait_seconds=0.1) is None
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts) == ("running", 1)
    assert job.started_at is not None
    assert store.depth() == 0


def test_success_records_the_result(make_store: MakeStore) -> None:
    store = make_store()
    job_id = store.submit(b"p").job_id
    lease = store.lease("w1", 1.0)
    assert lease is not None
    assert store.succeed(lease, b'{"answer": 42}')
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.result, job.errors) == ("succeeded", b'{"answer": 42}', ())
    assert job.completed_at is not None
    assert job.started_at is not None
    assert job.started_at <= job.completed_at
    assert not store.succeed(lease, b"again"), "a finished lease is not held"
    assert store.lease("w2", 0.1) is None


def test_a_retried_failure_queues_again_and_keeps_every_error(make_store: MakeStore) -> None:
    store = make_store(max_attempts=3)
    job_id = store.submit(b"p").job_id
    first = store.lease("w1", 1.0)
    assert first is not None
    assert store.fail(first, "attempt 1: boom", retry=True)
    job = store.get(job_id)
    assert job is not None
    assert job.state == "queued"
    assert store.depth() == 1
    second = store.lease("w1", 1.0)
    assert second is not None
    assert (second.attempt, second.payload) == (2, b"p")
    assert store.fail(second, "attempt 2: bad input", retry=False)
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts) == ("failed", 2)
    assert job.errors == ("attempt 1: boom", "attempt 2: bad input")
    assert store.lease("w1", 0.1) is None


def test_retries_stop_at_max_attempts(make_store: MakeStore) -> None:
    store = make_store(max_attempts=2)
    job_id = store.submit(b"p").job_id
    for attempt in (1, 2):
        lease = store.lease("w", 1.0)
        assert lease is not None
        assert lease.attempt == attempt
        assert store.fail(lease, f"e{attempt}", retry=True)
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.errors) == ("failed", ("e1", "e2"))


def pass_time(store: Any, clock: FakeClock, seconds: float) -> None:
    """Move the store's clock. A Redis store's leases run on the Redis server's own clock
    (a stream entry's idle time, XAUTOCLAIM), which no test can move: it waits too."""
    clock.now += seconds
    if type(store).__name__ == "RedisStore":
        time.sleep(seconds)


def test_an_expired_lease_is_taken_again_and_the_old_one_is_fenced(make_store: MakeStore) -> None:
    clock = FakeClock()
    store = make_store(clock, lease_seconds=1.0)
    job_id = store.submit(b"p").job_id
    lost = store.lease("dead-worker", 1.0)
    assert lost is not None
    pass_time(store, clock, 0.8)
    assert store.lease("w2", 0.1) is None, "still leased"
    pass_time(store, clock, 0.2)
    again = store.lease("w2", 1.0)
    assert again is not None
    assert (again.job_id, again.attempt, again.redelivered) == (job_id, 2, True)
    assert not store.renew(lost)
    assert not store.succeed(lost, b"stale")
    assert not store.fail(lost, "stale", retry=False)
    assert store.succeed(again, b"fresh")
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.result, job.attempts) == ("succeeded", b"fresh", 2)
    assert len(job.errors) == 1
    assert "lost" in job.errors[0]


def test_renewing_keeps_a_lease(make_store: MakeStore) -> None:
    clock = FakeClock()
    store = make_store(clock, lease_seconds=1.5)
    store.submit(b"p")
    lease = store.lease("w1", 1.0)
    assert lease is not None
    for _ in range(4):
        pass_time(store, clock, 0.5)
        assert store.renew(lease)
    assert store.lease("w2", 0.05) is None, "held 2 s on a lease of 1.5 s"
    assert store.succeed(lease, b"1")


def test_a_lost_last_attempt_fails_the_job(make_store: MakeStore) -> None:
    clock = FakeClock()
    store = make_store(clock, lease_seconds=0.5, max_attempts=1)
    job_id = store.submit(b"p").job_id
    assert store.lease("w1", 1.0) is not None
    pass_time(store, clock, 0.7)
    failed: list[str] = []
    assert store.lease("w2", 0.3, failed.append) is None
    assert failed == [job_id], "the caller hears of the job the lease failed"
    job = store.get(job_id)
    assert job is not None
    assert job.state == "failed"
    assert len(job.errors) == 1
    assert "attempt 1" in job.errors[0]


def test_an_idempotency_key_returns_the_same_job(make_store: MakeStore) -> None:
    store = make_store()
    first = store.submit(b"p", idempotency_key="order-17")
    again = store.submit(b"p", idempotency_key="order-17")
    other = store.submit(b"p", idempotency_key="order-18")
    assert first.created
    assert (again.job_id, again.created) == (first.job_id, False)
    assert other.created
    assert other.job_id != first.job_id
    assert store.depth() == 2
    lease = store.lease("w", 1.0)
    assert lease is not None
    assert store.succeed(lease, b"r")
    assert store.submit(b"p", idempotency_key="order-17").job_id == first.job_id


def test_finished_jobs_expire_and_are_deleted(make_store: MakeStore) -> None:
    store = make_store(retention_seconds=1.0)
    job_id = store.submit(b"secret input", idempotency_key="k").job_id
    lease = store.lease("w", 1.0)
    assert lease is not None
    assert store.succeed(lease, b"secret result")
    assert store.get(job_id) is not None
    time.sleep(1.3)
    store.purge()
    assert store.get(job_id) is None
    renewed = store.submit(b"p", idempotency_key="k")
    assert renewed.created, "an expired job's idempotency key is free again"
    assert renewed.job_id != job_id


def test_a_waiting_lease_sees_a_job_submitted_meanwhile(make_store: MakeStore) -> None:
    store = make_store()
    store.depth()  # open the store before the race
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(store.lease("w", 5.0)))
    waiter.start()
    time.sleep(0.2)
    job_id = store.submit(b"late").job_id
    waiter.join(6.0)
    assert got
    assert got[0] is not None
    assert got[0].job_id == job_id


def test_concurrent_workers_run_every_job_exactly_once(make_store: MakeStore) -> None:
    store = make_store()
    ids = {store.submit(f"{i}".encode()).job_id for i in range(120)}
    taken: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lease = store.lease(name, 0.2)
            if lease is None:
                return
            assert store.succeed(lease, lease.payload)
            with lock:
                taken.append(lease.job_id)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
    assert sorted(taken) == sorted(ids)
    assert store.depth() == 0
    for job_id in ids:
        job = store.get(job_id)
        assert job is not None
        assert job.state == "succeeded"


def test_idempotency_keys_belong_to_their_caller(make_store: MakeStore) -> None:
    store = make_store()
    alice = store.submit(b'{"x": 1}', idempotency_key="order-1", caller="alice")
    again = store.submit(b'{"x": 1}', idempotency_key="order-1", caller="alice")
    mallory = store.submit(b'{"x": 1}', idempotency_key="order-1", caller="mallory")
    anonymous = store.submit(b'{"x": 1}', idempotency_key="order-1")
    assert (again.job_id, again.created) == (alice.job_id, False)
    assert mallory.created, "another caller's key names another job"
    assert anonymous.created
    assert len({alice.job_id, mallory.job_id, anonymous.job_id}) == 3
    with pytest.raises(Conflict, match="order-1") as conflict:
        store.submit(b'{"x": 2}', idempotency_key="order-1", caller="alice")
    assert (conflict.value.status, conflict.value.code) == (409, "CONFLICT")
    assert store.depth() == 3
    lease = store.lease("w", 1.0)
    assert lease is not None
    assert store.succeed(lease, b"r")
    with pytest.raises(Conflict):  # a finished job keeps its key while it is kept
        store.submit(b'{"x": 2}', idempotency_key="order-1", caller="alice")
