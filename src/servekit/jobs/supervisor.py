"""``servekit worker``: N job-worker processes, kept running, stopped gracefully.

The supervisor loads no model itself: each worker process loads it once, after fork,
then runs :class:`~servekit.jobs.worker.Worker`. A worker that dies is started again; one
that cannot load the model (exit 22) stops them all, as a failed load stops the HTTP
server. Signals to the supervisor:

- SIGTERM / SIGINT: every worker finishes its current job and exits, then so does the
  supervisor (workers still busy after ``grace_seconds`` are killed; their jobs are taken
  again after their lease, so nothing is lost);
- SIGUSR1 (sent by the HTTP server's drain under ``servekit serve --async-workers``):
  the same, but the supervisor then waits for SIGTERM, so uWSGI does not start it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from servekit.errors import ServekitError
from servekit.settings import Settings

__all__ = ["EXIT_LOAD_FAILED", "run_supervisor"]

log = logging.getLogger("servekit.jobs")
EXIT_LOAD_FAILED = 22
_RESPAWN_PAUSE = 1.0


def _child(settings: Settings) -> int:
    """A worker process's whole life: load the model, run jobs until stopped."""
    from prometheus_client import CollectorRegistry

    from servekit.jobs.config import job_store
    from servekit.jobs.metrics import JobMetrics
    from servekit.jobs.runner import JobRunner
    from servekit.jobs.worker import Worker, stop_on_signals
    from servekit.loading import load_dataplane
    from servekit.logs import capture_prints
    from servekit.serving.deadline import Deadline

    stop = threading.Event()
    stop_on_signals(stop)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    capture_prints()
    try:
        plane = load_dataplane(settings)
    except ServekitError as exc:
        traceback_text = getattr(exc, "traceback_text", "")
        os.write(2, f"servekit: error: {exc.message}\n{traceback_text}".encode())
        return EXIT_LOAD_FAILED
    store = job_store(settings, plane.release)
    runner = JobRunner(
        plane, settings.async_max_result_bytes, Deadline(settings.timeout, lambda: None).guard
    )
    try:
        Worker(store, runner, JobMetrics(CollectorRegistry()), stop).run()
    finally:
        store.close()
        plane.runtime.close()
    return 0


class _Supervisor:
    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.children: dict[int, float] = {}
        self.stopping = False
        self.draining = False
        self.stop_requested_at = 0.0
        self.exit_code = 0

    def spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(self.settings)
            except BaseException:
                log.exception("job worker crashed")
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            self.draining = True
        elif self.draining:
            self.draining = False  # the SIGTERM after a drain: leave once workers are gone
        if self.stopping:
            return
        self.stopping = True
        self.stop_requested_at = time.monotonic()
        log.info("stopping job workers (each finishes its current job)")
        for pid in self.children:
            _signal(pid, signal.SIGTERM)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            started = self.children.pop(pid, time.monotonic())
            code = os.waitstatus_to_exitcode(status)
            if code == EXIT_LOAD_FAILED and not self.stopping:
                log.error("a job worker could not load the model: stopping")
                self.exit_code = 1
                self.on_signal(signal.SIGTERM, None)
            elif not self.stopping:
                log.warning("job worker %d exited (%d); starting another", pid, code)
                if time.monotonic() - started < _RESPAWN_PAUSE:
                    time.sleep(_RESPAWN_PAUSE)  # a crash loop must not spin
                self.spawn()

    def run(self) -> int:
        for _ in range(self.count):
            self.spawn()
        grace = self.settings.grace_seconds
        while True:
            self.reap()
            if self.stopping and not self.children and not self.draining:
                return self.exit_code
            if self.stopping and grace and time.monotonic() - self.stop_requested_at > grace:
                for pid in self.children:
                    log.warning("job worker %d still busy after %d s: killing it", pid, grace)
                    _signal(pid, signal.SIGKILL)
            time.sleep(0.1)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def run_supervisor(settings: Settings, count: int, pidfile: str = "") -> int:
    """Run ``count`` job workers until stopped; the exit status for the command."""
    supervisor = _Supervisor(settings, count)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, supervisor.on_signal)
    if pidfile:
        Path(pidfile).write_text(f"{os.getpid()}\n", encoding="ascii")
    log.info(
        "starting job workers",
        extra={"processes": count, "store": _safe_url(settings.async_store_url)},
    )
    try:
        return supervisor.run()
    finally:
        if pidfile:
            Path(pidfile).unlink(missing_ok=True)


def _safe_url(url: str) -> str:
    """``url`` without a password, for the log."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
