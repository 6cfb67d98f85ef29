"""``servekit worker``: N worker processes, kept running, stopped gracefully.

The supervisor loads no model itself: each worker process loads it once, after fork,
then runs its body: :class:`~servekit.jobs.worker.Worker` (:func:`job_worker`), or any
other :data:`Child`, such as the AMQP consumer (:mod:`servekit.serving.amqp`). A worker
that dies is started again; one that cannot load the model or open the store (exit 22)
stops them all, as a failed load stops the HTTP server. Signals to the supervisor:

- SIGTERM / SIGINT: every worker finishes its current job and exits, then so does the
  supervisor (workers still busy after ``grace_seconds`` are killed; their jobs are taken
  again after their lease, so nothing is lost);
- SIGUSR1 (sent by the HTTP server's drain under ``servekit serve --async-workers``):
  the same, but the supervisor then waits for SIGTERM, so uWSGI does not start it again.

Signals are blocked around every fork, so a signal never runs the supervisor's handler
in a new worker; a worker installs its own handlers before it unblocks them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from servekit.errors import ServekitError
from servekit.jobs.store import redact_url
from servekit.settings import Settings

__all__ = ["JOB_WORKERS", "Child", "Role", "Supervisor", "Workload", "job_worker", "run_supervisor"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
_RESPAWN_PAUSE = 1.0
Child = Callable[[threading.Event], int]
"""A worker process's body: runs until the event is set (SIGTERM), returns its exit status."""


@dataclass(frozen=True)
class Role:
    """What the logs call a supervised process, the work it finishes when stopped, and
    what it opens besides the model (a failure to open either is exit 22)."""

    name: str
    work: str
    opens: str
    logger: str = "servekit.jobs"
    """The logger of the supervisor's lines about these processes."""


JOB_WORKERS = Role("job worker", "job", "store")


@dataclass(frozen=True)
class Workload:
    """What :func:`run_supervisor` runs: each process's body, its role, and the fields of
    the "starting" log line."""

    body: Child
    role: Role
    about: dict[str, Any] = field(default_factory=dict)


def job_worker(settings: Settings) -> Child:
    """A worker process's life: load the model, run jobs until ``stop`` is set."""

    def run(stop: threading.Event) -> int:
        from prometheus_client import CollectorRegistry

        from servekit.jobs.config import job_store
        from servekit.jobs.runner import JobRunner
        from servekit.loading import EXIT_LOAD_FAILED, batch_calls, load_dataplane
        from servekit.logs import capture_prints
        from servekit.metrics.jobs import JobMetrics
        from servekit.serving import loadfail
        from servekit.serving.deadline import Deadline
        from servekit.serving.job_slots import run_slots

        capture_prints()
        # A job's time limit is the async one, for runtimes that time calls themselves (R).
        job_settings = dataclasses.replace(settings, timeout=settings.async_timeout)
        try:
            plane = load_dataplane(job_settings)
            store = job_store(settings, plane.release)
        except ServekitError as exc:
            loadfail.report(exc, loadfail.start_folder(), loadfail.JOBS_MARKER)
            return EXIT_LOAD_FAILED
        options = getattr(plane.runtime, "batch_options", None)
        slots = options.max_size if options is not None else 1
        batch_calls(plane, slots if slots > 1 else 0)  # jobs in hand meet in one call
        deadline = Deadline(
            settings.async_timeout,
            lambda: None,
            "SERVEKIT_ASYNC_TIMEOUT",
            inline=plane.dispatch is not None,
        )
        runner = JobRunner(plane, settings.async_max_result_bytes, deadline.run)
        try:
            run_slots(store, runner, JobMetrics(CollectorRegistry()), stop, slots)
        finally:
            store.close()
            plane.runtime.close()
        return 0

    return run


class Supervisor:
    """Keeps ``count`` processes running ``child`` (and one ``extra`` process, e.g. the
    metrics server, when given) until stopped."""

    def __init__(
        self,
        child: Child,
        count: int,
        grace_seconds: int,
        extra: Child | None = None,
        drain_seconds: int = 0,
        role: Role = JOB_WORKERS,
    ) -> None:
        self.child = child
        self.role = role
        self.count = count
        self.grace = grace_seconds
        self.drain_seconds = drain_seconds
        self.extra_started = 0.0
        self.extra = extra
        self.extra_pid = 0
        self.children: dict[int, float] = {}
        self.stopping = False
        self.draining = False
        self.stop_requested_at = 0.0
        self.exit_code = 0
        self.log = logging.getLogger(role.logger)

    def _fork(self, body: Child) -> int:
        """Fork a process running ``body`` with its own handlers; its pid. Call with the
        signals blocked (:func:`_blocked`) until the pid is recorded."""
        pid = os.fork()
        if pid == 0:
            self._become_child(body, self.role)
        return pid

    @staticmethod
    def _become_child(body: Child, role: Role) -> None:
        from servekit.jobs.worker import stop_on_signals

        code = 1
        try:
            stop = threading.Event()
            stop_on_signals(stop)
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            code = body(stop)
        except BaseException:
            logging.getLogger(role.logger).exception("%s crashed", role.name)
        finally:
            from servekit import capture

            capture.close(capture.FLUSH_SECONDS)  # what it recorded (os._exit runs no atexit)
            logging.shutdown()
            os._exit(code)

    def spawn(self) -> None:
        with _blocked():
            if not self.stopping:
                self.children[self._fork(self.child)] = time.monotonic()

    def spawn_extra(self) -> None:
        with _blocked():
            if not self.stopping and self.extra is not None:
                self.extra_pid = self._fork(self.extra)
                self.extra_started = time.monotonic()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            self.draining = True
            if not self.stopping and self.grace:  # jobs get the HTTP drain's time too
                self.grace += self.drain_seconds
        elif self.draining:
            self.draining = False  # the SIGTERM after a drain: leave once workers are gone
        if self.stopping:
            return
        self.stopping = True
        self.stop_requested_at = time.monotonic()
        role = self.role
        self.log.info("stopping %ss (each finishes its current %s)", role.name, role.work)
        for pid in self.children:
            _signal(pid, signal.SIGTERM)

    def reap(self) -> None:
        from servekit.loading import EXIT_LOAD_FAILED

        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            if pid == self.extra_pid:
                self.extra_pid = 0
                if not self.stopping:
                    self.log.warning("the worker's metrics server exited (%d); restarting it", code)
                    if time.monotonic() - self.extra_started < _RESPAWN_PAUSE:
                        time.sleep(_RESPAWN_PAUSE)
                    self.spawn_extra()
                continue
            started = self.children.pop(pid, time.monotonic())
            if self.stopping:
                continue
            if code == EXIT_LOAD_FAILED:  # it has said why (serving.loadfail)
                self.log.info(
                    "%s %d could not load the model or its %s: stopping",
                    self.role.name,
                    pid,
                    self.role.opens,
                )
                self.exit_code = 2  # a start-up mistake, as servekit serve says it
                self.on_signal(signal.SIGTERM, None)
                continue
            self.log.warning("%s %d exited (%d); starting another", self.role.name, pid, code)
            if time.monotonic() - started < _RESPAWN_PAUSE:
                time.sleep(_RESPAWN_PAUSE)  # a crash loop must not spin
            self.spawn()

    def run(self) -> int:
        self.spawn_extra()
        for _ in range(self.count):
            self.spawn()
        while True:
            self.reap()
            if self.stopping and not self.children and not self.draining:
                if self.extra_pid:
                    _signal(self.extra_pid, signal.SIGTERM)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(self.extra_pid, 0)
                return self.exit_code
            late = time.monotonic() - self.stop_requested_at > self.grace
            if self.stopping and self.grace and late:
                for pid in self.children:
                    self.log.warning(
                        "%s %d busy after %d s: killing it", self.role.name, pid, self.grace
                    )
                    _signal(pid, signal.SIGKILL)
            time.sleep(0.05)


@contextlib.contextmanager
def _blocked() -> Iterator[None]:
    """The supervisor's signals held back (not lost) for the ``with`` body."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def run_supervisor(
    settings: Settings,
    count: int,
    pidfile: str = "",
    extra: Child | None = None,
    workload: Workload | None = None,
) -> int:
    """Run ``count`` job workers (or ``workload``'s processes) until stopped; the exit
    status for the command."""
    workload = workload or Workload(
        job_worker(settings), JOB_WORKERS, {"store": redact_url(settings.async_store_url)}
    )
    role = workload.role
    supervisor = Supervisor(
        workload.body, count, settings.grace_seconds, extra, settings.drain_seconds, role
    )
    for signum in _SIGNALS:
        signal.signal(signum, supervisor.on_signal)
    if pidfile:
        Path(pidfile).write_text(f"{os.getpid()}\n", encoding="ascii")
    logging.getLogger(role.logger).info(
        "starting %ss", role.name, extra={"processes": count, **workload.about}
    )
    try:
        return supervisor.run()
    finally:
        if pidfile:
            Path(pidfile).unlink(missing_ok=True)
