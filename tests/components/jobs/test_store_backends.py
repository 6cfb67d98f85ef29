"""What only one store does, with other processes: SQLite's file made and filled by many
spawned processes at once, and a real redis-server (a replica whose master is gone) that
refuses writes. The in-process rest is in tests/unit/jobs/test_store_backends.py; the
behaviour every store shares is in test_job_stores.py."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from servekit.errors import StoreUnavailable, TooManyRequests
from servekit.jobs import JobPolicy, open_store
from servekit.jobs.sqlite import SqliteStore
from tests.conftest import free_port, start_redis, stop_process


def _open_and_submit(path: str) -> str:
    store = SqliteStore(Path(path), JobPolicy())
    job_id = store.submit(b"p").job_id
    store.close()
    return job_id


def test_many_processes_can_create_one_database_at_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        path = str(tmp_path / f"jobs-{round_}.db")
        with context.Pool(8) as pool:
            ids = pool.map(_open_and_submit, [path] * 16)
        assert len(set(ids)) == 16
        assert SqliteStore(Path(path), JobPolicy()).depth() == 16


def _submit_many(path: str) -> int:
    store = SqliteStore(Path(path), JobPolicy(max_queued=30))
    accepted = 0
    for n in range(10):
        try:
            store.submit(f"{os.getpid()}-{n}".encode())
            accepted += 1
        except TooManyRequests:
            pass
    store.close()
    return accepted


def test_processes_submitting_at_once_never_queue_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        accepted = pool.map(_submit_many, [str(path)] * 12)
    assert sum(accepted) == 30
    store = SqliteStore(path, JobPolicy())
    assert store.depth() == 30
    store.close()


def test_a_read_only_redis_is_store_unavailable(tmp_path: Path) -> None:
    # A replica whose master is gone refuses writes (READONLY), as during a failover.
    process, url = start_redis(tmp_path, "--replicaof", "127.0.0.1", str(free_port()))
    try:
        store = open_store(url, JobPolicy())
        with pytest.raises(StoreUnavailable, match="ReadOnlyError") as caught:
            store.submit(b"p")
        assert caught.value.status == 503
        store.close()
    finally:
        stop_process(process)
