"""A model that cannot load, across processes (:mod:`servekit.serving.loadfail`): of many
forked children failing at once exactly one claims the error, and a forked stand-in for
uWSGI's master exits 2 after a failed load. It forks, so it is not with the in-process
rest in tests/unit/serving/test_loadfail.py; the real server is tested in
test_uwsgi_serving."""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path

from servekit._proc import MULTIPROC_ENV
from servekit.serving import loadfail, uwsgi_log


def _claim(folder: str, barrier: object, out: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    out.put(loadfail.claim(Path(folder)))  # type: ignore[attr-defined]


def test_of_many_processes_failing_at_once_exactly_one_claims(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_claim, args=(str(tmp_path), barrier, out)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert sorted(out.get(timeout=5) for _ in workers) == [False] * 7 + [True]
    assert loadfail.claimed(tmp_path)
    assert not loadfail.claimed(tmp_path / "elsewhere")
    assert not loadfail.claimed(None)


def _exit_status(folder: Path, chunks: list[str], level: int) -> tuple[int, bytes]:
    """Feed ``chunks`` to the master's handler in a forked child; its status and output."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a stand-in for uWSGI's master
        try:
            os.environ[MULTIPROC_ENV] = str(folder / "metrics")
            handler = uwsgi_log._MasterHandler(write, "json", level)
            for chunk in chunks:
                handler.emit(logging.makeLogRecord({"msg": chunk}))
        finally:
            os._exit(22)  # what uWSGI's master does after need-app
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        output = reader.read()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output


STOP = ["SIGINT/SIGTERM received...killing workers...", "goodbye to uWSGI."]


def test_the_master_exits_2_and_quietly_after_a_failed_load(tmp_path: Path) -> None:
    folder = tmp_path / "start-1"
    (folder / "metrics").mkdir(parents=True)
    (folder / loadfail.MARKER).touch()
    status, output = _exit_status(folder, STOP, logging.INFO)
    assert status == 2
    assert output == b""  # the stop lines are routine after the one error line
    assert not folder.exists()  # uWSGI's vacuum does not run: the folder is removed


def test_a_normal_stop_keeps_uwsgis_status_and_lines(tmp_path: Path) -> None:
    folder = tmp_path / "start-1"
    (folder / "metrics").mkdir(parents=True)
    (folder / loadfail.JOBS_MARKER).touch()  # a job worker's failure is not the server's
    status, output = _exit_status(folder, STOP, logging.INFO)
    assert status == 22
    assert output.count(b'"logger":"uwsgi"') == 2
