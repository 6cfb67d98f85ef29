"""The SQLite job store makes its file private without opening it once it exists: closing
any descriptor of the file would drop the POSIX locks the process's other connections
hold on it (uWSGI threads each open one; with the old open-and-close, a server with
SERVEKIT_THREADS > 1 answered "disk I/O error" and saw stale jobs:
tests/integration/test_batching_jobs.py failed 2 runs in 3 that way)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from servekit.jobs import sqlite_file
from servekit.jobs.sqlite_file import open_database


def test_an_existing_file_is_made_private_without_being_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jobs.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    opened: list[str] = []
    real_open = os.open

    def spy(name: str, *args: object) -> int:
        fd = real_open(name, *args)  # type: ignore[arg-type]
        opened.append(str(name))  # only a descriptor really opened (O_EXCL may refuse)
        return fd

    monkeypatch.setattr(sqlite_file.os, "open", spy)
    open_database(path, time.time()).close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert str(path) not in opened


def test_a_new_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "store" / "jobs.db"
    open_database(path, time.time()).close()
    assert path.stat().st_mode & 0o777 == 0o600
