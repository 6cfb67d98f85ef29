"""A model that cannot load is said once per start, and the server exits 2
(:mod:`servekit.serving.loadfail`): the in-process parts. Many processes at once and the
master's exit are in tests/components/serving/test_loadfail.py (they fork); the real
server is tested in test_uwsgi_serving."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from servekit._proc import MULTIPROC_ENV
from servekit.errors import LoadError
from servekit.serving import loadfail, uwsgi_log


def test_without_a_writable_folder_the_error_is_still_said(tmp_path: Path) -> None:
    assert loadfail.claim(None)
    assert loadfail.claim(tmp_path / "gone")  # never lose the error over the marker


def test_the_first_failure_is_reported_the_others_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, "servekit.load")
    for _ in range(3):
        loadfail.report(LoadError("cannot load 'm.py:M': boom"), tmp_path)
    assert capfd.readouterr().err == "servekit: error: cannot load 'm.py:M': boom\n"
    debug = [r for r in caplog.records if r.name == "servekit.load"]
    assert [r.levelno for r in debug] == [logging.DEBUG, logging.DEBUG]
    loadfail.report(LoadError("the store is gone"), tmp_path, loadfail.JOBS_MARKER)
    assert capfd.readouterr().err == "servekit: error: the store is gone\n"  # its own marker


def test_the_start_folder_is_the_metrics_folders_parent(tmp_path: Path) -> None:
    assert loadfail.start_folder({MULTIPROC_ENV: str(tmp_path / "metrics")}) == tmp_path
    assert loadfail.start_folder({}) is None


def test_uwsgis_own_load_failure_lines_are_debug() -> None:
    for line in ("OOPS ! failed loading app in worker 1 (pid 7)", "need-app requested, bye"):
        found = uwsgi_log.classify(line)
        assert found is not None
        assert found.level == logging.DEBUG
