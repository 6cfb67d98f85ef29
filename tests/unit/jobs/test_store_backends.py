"""What only one store does: store URLs, SQLite's file (its mode, its schema from an
earlier release), and a Redis that cannot be reached. Many processes on one SQLite file
and a Redis that cannot take writes are in tests/components/jobs/test_store_backends.py;
the behaviour every store shares is in tests/components/jobs/test_job_stores.py."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from servekit.errors import ConfigError, StoreUnavailable
from servekit.jobs import JobPolicy, open_store
from servekit.jobs.sqlite import SqliteStore
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("jobs.db", "must be a URL"),
        ("sqlite://", "names no database file"),
        ("sqlite://relative/jobs.db", "absolute path"),
        ("postgres://x/y", "unknown store 'postgres'"),
    ],
)
def test_bad_store_urls_are_config_errors(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        open_store(url, JobPolicy())


def test_a_sqlite_url_names_an_absolute_path(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/sub/jobs.db", JobPolicy())
    assert isinstance(store, SqliteStore)
    store.submit(b"p")
    assert (tmp_path / "sub" / "jobs.db").exists()
    store.close()


def test_sqlite_jobs_survive_reopening(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "jobs.db", JobPolicy())
    job_id = first.submit(b"p").job_id
    first.close()
    second = SqliteStore(tmp_path / "jobs.db", JobPolicy())
    lease = second.lease("w", 1.0)
    assert lease is not None
    assert lease.job_id == job_id
    second.close()


def test_an_unwritable_sqlite_path_is_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    store = SqliteStore(tmp_path / "file" / "jobs.db", JobPolicy())
    with pytest.raises(StoreUnavailable, match="cannot open the job store"):
        store.depth()


def test_sqlite_purge_deletes_the_rows(tmp_path: Path) -> None:
    now = [1000.0]
    store = SqliteStore(tmp_path / "jobs.db", JobPolicy(retention_seconds=60), clock=lambda: now[0])
    job_id = store.submit(b"secret input").job_id
    lease = store.lease("w", 0.1)
    assert lease is not None
    assert store.succeed(lease, b"secret result")
    assert store.purge() == 0
    now[0] += 61
    assert store.purge() == 1
    rows = sqlite3.connect(tmp_path / "jobs.db").execute("SELECT COUNT(*) FROM jobs").fetchone()
    assert rows == (0,)
    assert store.get(job_id) is None
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"secret input" not in raw
    assert b"secret result" not in raw, "secure_delete and the checkpoint leave no copy"
    store.close()


def test_sqlite_keeps_namespaces_apart(tmp_path: Path) -> None:
    a = SqliteStore(tmp_path / "jobs.db", JobPolicy(), namespace="m:1")
    b = SqliteStore(tmp_path / "jobs.db", JobPolicy(), namespace="m:2")
    job_id = a.submit(b"p", idempotency_key="k").job_id
    assert b.depth() == 0
    assert b.lease("w", 0.1) is None
    assert b.get(job_id) is None
    assert b.submit(b"p", idempotency_key="k").job_id != job_id
    assert a.depth() == 1
    a.close()
    b.close()


FILES = ("jobs.db", "jobs.db-wal", "jobs.db-shm")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which files are made readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    return {name: stat.S_IMODE((folder / name).stat().st_mode) for name in FILES}


@pytest.mark.usefixtures("open_umask")
def test_the_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db", JobPolicy())
    store.submit(b"secret input")  # the WAL and its index exist while connected
    try:
        assert modes(tmp_path) == dict.fromkeys(FILES, 0o600)
    finally:
        store.close()


@pytest.mark.usefixtures("open_umask")
def test_a_database_readable_by_others_is_tightened(tmp_path: Path) -> None:
    earlier = sqlite3.connect(tmp_path / "jobs.db")  # as an earlier servekit left it
    earlier.execute("PRAGMA journal_mode=WAL")
    earlier.execute("CREATE TABLE t (x)")
    assert modes(tmp_path) == dict.fromkeys(FILES, 0o644)
    store = SqliteStore(tmp_path / "jobs.db", JobPolicy())
    try:
        store.depth()
        assert modes(tmp_path) == dict.fromkeys(FILES, 0o600)
    finally:
        store.close()
        earlier.close()


EARLIER_SCHEMA = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, state TEXT NOT NULL, payload BLOB,
    result BLOB, errors TEXT NOT NULL DEFAULT '[]', idem_key TEXT, created_at REAL NOT NULL,
    started_at REAL, completed_at REAL, attempts INTEGER NOT NULL DEFAULT 0, token TEXT,
    lease_until REAL, expires_at REAL, UNIQUE (namespace, idem_key)
);
CREATE INDEX jobs_waiting ON jobs (namespace, state, created_at);
CREATE INDEX jobs_expiry ON jobs (expires_at);
"""


def test_a_database_of_an_earlier_release_is_brought_up_to_date(tmp_path: Path) -> None:
    now = [time.time()]
    earlier = sqlite3.connect(tmp_path / "jobs.db")
    earlier.executescript(EARLIER_SCHEMA)
    for job_id in ("a" * 32, "b" * 32):
        earlier.execute(
            "INSERT INTO jobs (job_id, namespace, state, payload, idem_key, created_at) "
            "VALUES (?, 'servekit', 'queued', ?, ?, ?)",
            (job_id, b"old " + job_id.encode(), f"key-{job_id[0]}", now[0] - 5),
        )
    earlier.commit()
    earlier.close()
    store = SqliteStore(tmp_path / "jobs.db", JobPolicy(queue_seconds=60), clock=lambda: now[0])
    lease = store.lease("w", 0.1)
    assert lease is not None
    assert (lease.job_id, lease.payload) == ("a" * 32, b"old " + b"a" * 32)
    assert store.submit(b"new", idempotency_key="key-a", caller="c").created
    now[0] += 61  # the earlier queued job waits from the upgrade, and then expires
    job = store.get("b" * 32)
    assert job is not None
    assert job.state == "failed"
    assert job.errors[0].startswith("EXPIRED:")
    store.close()


def test_an_unreachable_redis_is_store_unavailable() -> None:
    store = open_store(f"redis://:hunter2@127.0.0.1:{free_port()}/0", JobPolicy())
    with pytest.raises(StoreUnavailable, match="cannot reach the job store") as caught:
        store.submit(b"p")
    assert "hunter2" not in caught.value.message
    assert caught.value.status == 503
