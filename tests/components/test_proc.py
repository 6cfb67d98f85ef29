"""The job pid file against a real child process (a sleeping Python that this test starts):
only the uWSGI master's own child is ever signalled. The private runtime folder, which
needs no process, is in tests/unit/test_proc.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servekit._proc import parent_of
from servekit.serving import drain
from servekit.serving.jobs import PIDFILE


def test_a_daemon_pid_file_names_a_process_only_if_it_is_the_masters_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / PIDFILE).write_text(str(child.pid))
        assert parent_of(child.pid) == os.getpid()
        # In a worker, os.getppid() is the uWSGI master: a process that is not its child
        # (an unrelated one named by a planted file) is never signalled.
        assert drain._supervisor(tmp_path, PIDFILE) == 0
        monkeypatch.setattr(os, "getppid", os.getpid)  # now the sleeper is "our" daemon
        assert drain._supervisor(tmp_path, PIDFILE) == child.pid
        (tmp_path / PIDFILE).write_text("1")
        assert drain._supervisor(tmp_path, PIDFILE) == 0
    finally:
        child.kill()
        child.wait()
