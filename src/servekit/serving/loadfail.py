"""A model that cannot load: one line, however many workers tried, and exit status 2.

Each worker loads the model itself (uWSGI's ``lazy-apps``), so with ``--processes 4`` a
``load()`` that raises fails four times. The first worker to fail claims a marker file in
the start folder and reports the error; the others say it at debug only. The worker
exits 22, uWSGI's ``need-app`` then stops the whole server, and the master's logger
(:mod:`servekit.serving.uwsgi_log`) turns the master's exit status 22 into ``servekit
serve``'s 2 for a start-up mistake. With ``preload`` the master loads the
model before any worker exists and exits 2 at once.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from servekit._proc import MULTIPROC_ENV
from servekit.errors import ServekitError

__all__ = [
    "EXIT_STATUS",
    "JOBS_MARKER",
    "MARKER",
    "claim",
    "claimed",
    "exit_if_failed",
    "report",
    "start_folder",
]

MARKER = "load-failed"
"""The file in the start folder that the first worker to fail creates."""
JOBS_MARKER = "jobs-load-failed"
"""The marker of the asynchronous job workers of the start."""
EXIT_STATUS = 2
"""``servekit serve``'s exit status for a model that cannot load, as for every other
start-up mistake it finds before uWSGI starts."""

log = logging.getLogger("servekit.load")


def start_folder(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path | None:
    """This start's private folder (the metrics folder's parent), if servekit made one."""
    metrics = environ.get(MULTIPROC_ENV)
    return Path(metrics).parent if metrics else None


def claim(folder: Path | None, marker: str = MARKER) -> bool:
    """Whether this process is the first of the start to fail loading (True without a
    folder, or when the folder cannot be written: never lose the error)."""
    if folder is None:
        return True
    try:
        fd = os.open(folder / marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True
    os.close(fd)
    return True


def claimed(folder: Path | None) -> bool:
    """Whether a process of this start failed to load the model."""
    return folder is not None and (folder / MARKER).exists()


def report(exc: ServekitError, folder: Path | None, marker: str = MARKER) -> None:
    """Report the load error once per start and ``marker`` (:func:`claim`); later ones
    at debug. Job workers pass their own marker (:data:`JOBS_MARKER`): theirs can fail
    for reasons of their own (the job store), and must not change the server's status."""
    from servekit.loading import report_load_error

    if claim(folder, marker):
        report_load_error(exc)
    else:
        log.debug("this worker could not load the model either: %s", exc.message)


def exit_if_failed() -> None:
    """In uWSGI's master, as it says goodbye (every worker and daemon already stopped):
    exit with :data:`EXIT_STATUS` instead of uWSGI's 22 when the model could not load.
    (uWSGI runs no Python at the master's exit, so its logger calls this.)"""
    folder = start_folder()
    if claimed(folder):
        assert folder is not None
        shutil.rmtree(folder, ignore_errors=True)  # uWSGI's vacuum will not run
        os._exit(EXIT_STATUS)
