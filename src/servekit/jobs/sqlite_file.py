"""The SQLite job database file: its schema (and the columns added since the first
release), its mode, and opening a connection to it.

The file holds every queued request and every kept result, so it is made readable by
its owner only (0600) before SQLite first opens it; SQLite gives its ``-wal`` and
``-shm`` files the mode of the database file. A file an earlier servekit made readable
by others is tightened when this process owns it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from servekit.errors import StoreUnavailable
from servekit.jobs.model import QUEUED

__all__ = ["open_database"]

_TABLE = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id       TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    state        TEXT NOT NULL,
    payload      BLOB,
    result       BLOB,
    errors       TEXT NOT NULL DEFAULT '[]',
    idem_key     TEXT,
    created_at   REAL NOT NULL,
    started_at   REAL,
    completed_at REAL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    token        TEXT,
    lease_until  REAL,
    expires_at   REAL,
    idem_digest  TEXT,
    queued_until REAL,
    UNIQUE (namespace, idem_key)
);
"""
_ADDED = {"idem_digest": "TEXT", "queued_until": "REAL"}  # columns files made before lack
_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (namespace, state, created_at);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at);
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (namespace, state, queued_until);
"""
_OPEN_SECONDS = 30.0


def open_database(path: Path, queued_until: float) -> sqlite3.Connection:
    """A new connection to ``path`` (made 0600, with its folder, if missing), the schema
    made or brought up to date (queued jobs of an older file get ``queued_until``).
    Processes opening a new file at once wait for each other (changing the journal mode
    can be refused while another does); failures are :class:`StoreUnavailable`."""
    deadline = time.monotonic() + _OPEN_SECONDS
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _private(path)
            db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA secure_delete=ON")  # deleted rows leave no trace
                db.executescript(_TABLE)
                _migrate(db, queued_until)
                db.executescript(_INDEXES)
            except BaseException:
                db.close()
                raise
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreUnavailable(f"cannot open the job store {path}: {exc}") from exc
            time.sleep(0.02)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the job store {path}: {exc}") from exc


def _migrate(db: sqlite3.Connection, queued_until: float) -> None:
    """Add the columns a file made by an earlier servekit lacks (once: whichever process
    comes first, in a write transaction); its queued jobs wait from now."""
    db.execute("BEGIN IMMEDIATE")
    try:
        have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        for name, kind in _ADDED.items():
            if name not in have:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        if "queued_until" not in have:
            db.execute("UPDATE jobs SET queued_until = ? WHERE state = ?", (queued_until, QUEUED))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _private(path: Path) -> None:
    """Make the database file readable by its owner only (0600, whatever the umask)
    before SQLite opens it; SQLite gives its ``-wal`` and ``-shm`` files the same mode.
    A file an earlier servekit made readable by others is tightened too (when ours)."""
    # Never open (and close) the file itself when it exists: closing any descriptor of
    # it drops every POSIX lock this process holds on it, those of the connections
    # other threads have open, and SQLite then fails ("disk I/O error") or worse.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)  # a new file: no connection can have it open yet
    for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            status = extra.stat()
            if status.st_mode & 0o077 and status.st_uid == os.geteuid():
                os.chmod(extra, 0o600)
        except FileNotFoundError:
            pass
