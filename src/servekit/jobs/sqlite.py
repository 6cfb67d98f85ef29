"""The embedded job store: one SQLite file (WAL), shared by the processes of one pod.

Each process (and thread) opens its own connection on first use, so a store made
before a fork works after it. Every read-modify-write runs in a ``BEGIN IMMEDIATE``
transaction, which SQLite serialises across processes; readers never block in WAL
mode. Jobs survive a restart of every process: only the file holds them. Finished jobs
are deleted, input and result with them, once their retention has passed (by
:meth:`SqliteStore.purge`, which workers call; reads hide expired jobs before that).

The file is made 0600 before SQLite opens it (:mod:`servekit.jobs.sqlite_file`). A
queued job past its queue time is failed (``EXPIRED``, input deleted) by the next
submission, lease, read or purge to come across it. A submission counts the queued
jobs (an index range, at most ``max_queued`` entries) and inserts in one ``BEGIN
IMMEDIATE`` transaction, which every process's writers take in turn: concurrent
submissions never queue more than ``max_queued`` jobs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from servekit.errors import ServekitError, StoreUnavailable
from servekit.jobs.model import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    JobPolicy,
    Lease,
    Submitted,
    digest,
    expired_message,
    idempotency_scope,
    key_reused,
    lost_attempt_message,
    new_job_id,
    queue_full,
)
from servekit.jobs.sqlite_file import open_database
from servekit.jobs.store import FailedHook

__all__ = ["SqliteStore"]

_POLL_SECONDS = 0.05
_COLUMNS = (
    "job_id, state, created_at, attempts, started_at, completed_at, result, errors, queued_until"
)


class SqliteStore:
    """Jobs in the SQLite database at ``path`` (created with its folder if missing); the
    jobs of each ``namespace`` (model name and version) are kept apart."""

    def __init__(
        self,
        path: Path,
        policy: JobPolicy,
        namespace: str = "servekit",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.path = path
        self.namespace = namespace
        self._clock = clock
        self._local = threading.local()
        self._pid = -1

    def _db(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a fork: connections of the parent are not ours
            self._local = threading.local()
            self._pid = os.getpid()
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._open()
            self._local.db = db
        return db

    def _open(self) -> sqlite3.Connection:
        """A new connection (the file made 0600, the schema brought up to date)."""
        return open_database(self.path, self._clock() + self.policy.queue_seconds)

    def _read(self, sql: str, args: tuple[object, ...]) -> Any:
        """One row of a read-only query; errors are StoreUnavailable."""
        try:
            return self._db().execute(sql, args).fetchone()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the job store {self.path} is unavailable: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk errors
            raise StoreUnavailable(f"the job store {self.path} is unavailable: {exc}") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.execute("ROLLBACK")
            raise StoreUnavailable(f"the job store {self.path} is unavailable: {exc}") from exc

    def submit(
        self, payload: bytes, idempotency_key: str | None = None, caller: str = ""
    ) -> Submitted:
        with self._write() as db:
            outcome = self._submit_in(db, payload, idempotency_key, caller)
        if isinstance(outcome, ServekitError):
            raise outcome  # once committed: the expiries made on the way stay made
        return outcome

    def _submit_in(
        self, db: sqlite3.Connection, payload: bytes, key: str | None, caller: str
    ) -> Submitted | ServekitError:
        now, body = self._clock(), digest(payload)
        self._expire_queued(db, now)
        scope = None if key is None else idempotency_scope(caller, key)
        if scope is not None:
            row = db.execute(
                "SELECT job_id, idem_digest FROM jobs WHERE namespace = ? AND idem_key = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (self.namespace, scope, now),
            ).fetchone()
            if row is not None:
                known: str = row[0]
                return Submitted(known, False) if row[1] in (None, body) else key_reused(str(key))
            db.execute(  # the key's job is past its retention: the key is free again
                "DELETE FROM jobs WHERE namespace = ? AND idem_key = ?", (self.namespace, scope)
            )
        if self._queued(db) >= self.policy.max_queued:
            return queue_full(self.policy)
        job_id = new_job_id()
        db.execute(
            "INSERT INTO jobs (job_id, namespace, state, payload, idem_key, idem_digest, "
            "created_at, queued_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, self.namespace, QUEUED, payload, scope, body, now, self._until(now)),
        )
        return Submitted(job_id, created=True)

    def _queued(self, db: sqlite3.Connection) -> int:
        """Queued jobs of this namespace, counted up to ``max_queued`` (an index range)."""
        row = db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE namespace = ? AND state = ? LIMIT ?)",
            (self.namespace, QUEUED, self.policy.max_queued),
        ).fetchone()
        return int(row[0])

    def _until(self, now: float) -> float:
        return now + self.policy.queue_seconds

    def _expire_queued(self, db: sqlite3.Connection, now: float) -> int:
        """Fail this namespace's queued jobs past their queue time (an index range: cheap
        when there are none); how many."""
        rows = db.execute(
            "SELECT job_id, errors FROM jobs WHERE namespace = ? AND state = ? "
            "AND queued_until <= ?",
            (self.namespace, QUEUED, now),
        ).fetchall()
        message = expired_message(self.policy)
        for job_id, errors in rows:
            self._finish(db, job_id, FAILED, None, json.dumps([*json.loads(errors), message]), now)
        return len(rows)

    def get(self, job_id: str) -> Job | None:
        now = self._clock()
        query = (
            f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ? AND namespace = ? "
            "AND (expires_at IS NULL OR expires_at > ?)"
        )
        row = self._read(query, (job_id, self.namespace, now))
        if row is not None and row[1] == QUEUED and row[8] is not None and row[8] <= now:
            with self._write() as db:  # past its queue time: fail it now, then read it
                self._expire_queued(db, now)
            row = self._read(query, (job_id, self.namespace, now))
        if row is None:
            return None
        job_id, state, created, attempts, started, completed, result, errors, _ = row
        return Job(
            job_id, state, created, attempts, started, completed, result, tuple(json.loads(errors))
        )

    def lease(
        self, owner: str, wait_seconds: float, on_failed: FailedHook | None = None
    ) -> Lease | None:
        deadline = time.monotonic() + wait_seconds
        while True:
            found = self._take(owner, on_failed)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def _take(self, owner: str, on_failed: FailedHook | None) -> Lease | None:
        failed: list[str] = []
        lease = self._take_in(owner, failed)
        if on_failed is not None:  # only once committed
            for job_id in failed:
                on_failed(job_id)
        return lease

    def _take_in(self, owner: str, failed: list[str]) -> Lease | None:
        now = self._clock()
        with self._write() as db:
            self._expire_queued(db, now)
            while True:
                row = db.execute(
                    "SELECT job_id, state, attempts, payload, created_at, errors FROM jobs "
                    "WHERE namespace = ? AND (state = ? OR (state = ? AND lease_until <= ?)) "
                    "ORDER BY created_at LIMIT 1",
                    (self.namespace, QUEUED, RUNNING, now),
                ).fetchone()
                if row is None:
                    return None
                job_id, state, attempts, payload, created_at, errors = row
                lost = state == RUNNING
                if lost:
                    errors = json.dumps(
                        [*json.loads(errors), lost_attempt_message(attempts, self.policy)]
                    )
                    if attempts >= self.policy.max_attempts:
                        self._finish(db, job_id, FAILED, None, errors, now)
                        failed.append(job_id)
                        continue
                token = f"{owner}:{new_job_id()}"
                db.execute(
                    "UPDATE jobs SET state = ?, attempts = attempts + 1, token = ?, "
                    "lease_until = ?, started_at = COALESCE(started_at, ?), errors = ? "
                    "WHERE job_id = ?",
                    (RUNNING, token, now + self.policy.lease_seconds, now, errors, job_id),
                )
                return Lease(job_id, token, attempts + 1, payload, created_at, redelivered=lost)

    def renew(self, lease: Lease) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE job_id = ? AND token = ? AND state = ?",
                (self._clock() + self.policy.lease_seconds, lease.job_id, lease.token, RUNNING),
            )
            return cursor.rowcount == 1

    def succeed(self, lease: Lease, result: bytes) -> bool:
        with self._write() as db:
            errors = self._held(db, lease)
            if errors is None:
                return False
            self._finish(db, lease.job_id, SUCCEEDED, result, errors, self._clock())
            return True

    def fail(self, lease: Lease, error: str, retry: bool) -> bool:
        with self._write() as db:
            errors = self._held(db, lease)
            if errors is None:
                return False
            errors = json.dumps([*json.loads(errors), error])
            if retry and lease.attempt < self.policy.max_attempts:
                db.execute(
                    "UPDATE jobs SET state = ?, token = NULL, lease_until = NULL, errors = ?, "
                    "queued_until = ? WHERE job_id = ?",
                    (QUEUED, errors, self._until(self._clock()), lease.job_id),
                )
            else:
                self._finish(db, lease.job_id, FAILED, None, errors, self._clock())
            return True

    def depth(self) -> int:
        row = self._read(
            "SELECT COUNT(*) FROM jobs WHERE namespace = ? AND state = ? AND queued_until > ?",
            (self.namespace, QUEUED, self._clock()),
        )
        return int(row[0])

    def purge(self) -> int:
        now = self._clock()
        with self._write() as db:
            changed = self._expire_queued(db, now)
            changed += db.execute("DELETE FROM jobs WHERE expires_at <= ?", (now,)).rowcount
        if changed:  # copy the WAL back and truncate it: no deleted input stays there
            self._read("PRAGMA wal_checkpoint(TRUNCATE)", ())
        return changed

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None and self._pid == os.getpid():
            db.close()
        self._local = threading.local()

    @staticmethod
    def _held(db: sqlite3.Connection, lease: Lease) -> str | None:
        """The job's errors (JSON) when ``lease`` still holds it, else None."""
        row = db.execute(
            "SELECT errors FROM jobs WHERE job_id = ? AND token = ? AND state = ?",
            (lease.job_id, lease.token, RUNNING),
        ).fetchone()
        return None if row is None else str(row[0])

    def _finish(
        self,
        db: sqlite3.Connection,
        job_id: str,
        state: str,
        result: bytes | None,
        errors: str,
        now: float,
    ) -> None:
        db.execute(
            "UPDATE jobs SET state = ?, result = ?, errors = ?, completed_at = ?, "
            "expires_at = ?, payload = NULL, token = NULL, lease_until = NULL "
            "WHERE job_id = ?",
            (state, result, errors, now, now + self.policy.retention_seconds, job_id),
        )
