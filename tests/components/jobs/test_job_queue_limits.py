"""The JobStore contract for the queue's limits, run against every store (the in-memory
fake, SQLite and a real Redis server): at most ``max_queued`` jobs wait, whatever the
burst, and a job that waits longer than ``queue_seconds`` fails as ``EXPIRED``."""

from __future__ import annotations

import threading

import pytest

from servekit.errors import TooManyRequests
from tests.job_stores import FakeClock, MakeStore, store_maker  # noqa: F401 (make_store)


def test_a_full_queue_refuses_submissions_until_a_job_is_taken(make_store: MakeStore) -> None:
    store = make_store(max_queued=3, max_attempts=3)
    known = store.submit(b"p0", idempotency_key="k0")
    for n in (1, 2):
        store.submit(f"p{n}".encode())
    with pytest.raises(TooManyRequests, match="SERVEKIT_ASYNC_MAX_QUEUED") as refused:
        store.submit(b"p3")
    assert (refused.value.status, refused.value.code) == (429, "TOO_MANY_REQUESTS")
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert store.depth() == 3, "a refused submission queues nothing"
    repeat = store.submit(b"p0", idempotency_key="k0")
    assert (repeat.job_id, repeat.created) == (known.job_id, False), "a repeat is no new job"
    lease = store.lease("w", 1.0)
    assert lease is not None
    assert store.submit(b"p3").created, "a taken job frees its place"
    with pytest.raises(TooManyRequests):
        store.submit(b"p4")
    assert store.fail(lease, "e1", retry=True), "a retry of an accepted job is never refused"
    assert store.depth() == 4
    assert store.lease("w", 1.0) is not None
    with pytest.raises(TooManyRequests):
        store.submit(b"p5")


def test_a_burst_of_submissions_never_queues_past_the_limit(make_store: MakeStore) -> None:
    store = make_store(max_queued=25)
    store.depth()  # open the store before the burst
    accepted: list[str] = []
    refused: list[int] = []
    lock = threading.Lock()

    def burst(n: int) -> None:
        for i in range(15):
            try:
                job_id = store.submit(f"{n}-{i}".encode()).job_id
            except TooManyRequests as exc:
                with lock:
                    refused.append(int(exc.headers["Retry-After"]))
            else:
                with lock:
                    accepted.append(job_id)

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(set(accepted)) == 25
    assert len(refused) == 8 * 15 - 25
    assert store.depth() == 25


def test_a_job_waiting_past_its_queue_time_fails_as_expired(make_store: MakeStore) -> None:
    clock = FakeClock()
    store = make_store(clock=clock, queue_seconds=60, max_attempts=3)
    job_id = store.submit(b"secret input", idempotency_key="k").job_id
    clock.now += 50
    lease = store.lease("w", 1.0)
    assert lease is not None
    assert store.fail(lease, "attempt 1: boom", retry=True)  # queued again: waits anew
    clock.now += 50
    other = store.submit(b"p").job_id
    job = store.get(job_id)
    assert job is not None
    assert job.state == "queued", "60 s since it was queued again have not passed"
    clock.now += 11
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.result, job.attempts) == ("failed", None, 1)
    assert job.errors[0] == "attempt 1: boom"
    assert job.errors[1].startswith("EXPIRED: no worker took the job within 60 s")
    assert "SERVEKIT_ASYNC_QUEUE_SECONDS" in job.errors[1]
    assert job.completed_at == pytest.approx(clock.now)
    assert store.depth() == 1
    again = store.lease("w", 0.5)
    assert again is not None
    assert again.job_id == other, "the expired job's input is never handed out"
    assert store.submit(b"secret input", idempotency_key="k").job_id == job_id


def test_expired_jobs_nobody_reads_are_failed_and_free_their_places(
    make_store: MakeStore,
) -> None:
    clock = FakeClock()
    store = make_store(clock=clock, queue_seconds=60, max_queued=2)
    first = store.submit(b"a").job_id
    clock.now += 30
    second = store.submit(b"b").job_id
    with pytest.raises(TooManyRequests):
        store.submit(b"c")
    clock.now += 31
    assert store.depth() == 1, "a job past its queue time is not waiting"
    assert store.submit(b"c").created, "the expired job freed its place"
    clock.now += 30
    assert store.purge() >= 1
    assert store.depth() == 1
    assert store.lease("w", 0.2) is not None
    assert store.lease("w", 0.2) is None, "only the last job was left to run"
    states = {job_id: store.get(job_id) for job_id in (first, second)}
    assert all(job is not None and job.state == "failed" for job in states.values())


def test_purge_fails_every_expired_job_however_many(make_store: MakeStore) -> None:
    clock = FakeClock()
    store = make_store(clock=clock, queue_seconds=10)
    ids = [store.submit(f"{n}".encode()).job_id for n in range(250)]
    clock.now += 11
    assert store.purge() == 250
    assert store.depth() == 0
    assert store.lease("w", 0.1) is None
    jobs = [store.get(job_id) for job_id in ids]
    assert all(job is not None and job.state == "failed" for job in jobs)


def test_a_lease_fails_an_expired_job_instead_of_running_it(make_store: MakeStore) -> None:
    clock = FakeClock()
    store = make_store(clock=clock, queue_seconds=10)
    job_id = store.submit(b"stale").job_id
    clock.now += 11
    assert store.lease("w", 0.2) is None
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts) == ("failed", 0)
    assert job.errors[0].startswith("EXPIRED:")
