"""Graceful drain on SIGTERM, under uWSGI.

uWSGI is told (``--hook-master-start "unix_signal:15 uwsgi_route_signal"``) to turn a
SIGTERM on its master into uWSGI signal 15, which this module, imported in the master
with ``--shared-import``, routes to every worker. In each worker the handler:

1. marks the worker's :class:`~servekit.http.state.ServerState` as draining, so
   ``/readyz`` answers 503 at once while predictions are still served (a load balancer
   needs a few seconds to stop sending);
2. with ``--async-workers``, tells the job workers to finish their jobs and stop, and
   with ``SERVEKIT_GRPC_PORT`` the gRPC processes to drain as this worker does (their
   supervisors get SIGUSR1), and after the drain waits for them, at most
   ``grace_seconds``;
3. after ``drain_seconds``, asks the master (through its FIFO) for a graceful stop:
   idle workers exit, busy ones finish their request; the master then exits 0;
4. if ``grace_seconds`` is set, SIGKILLs workers still busy that long after that.

This is an entry-point module (like :mod:`servekit.serving.wsgi`): it registers the
handler when uWSGI imports it in the master, and does nothing elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

from servekit._proc import alive, children, parent_of
from servekit.http.state import ServerState
from servekit.serving.grpc_server import PIDFILE as GRPC_PIDFILE
from servekit.serving.jobs import PIDFILE
from servekit.settings import Settings

__all__ = ["UWSGI_SIGNAL", "watch"]

UWSGI_SIGNAL = 15
_HELPERS = (PIDFILE, GRPC_PIDFILE)
"""The pid files of the supervisors uWSGI runs beside the workers: job workers, gRPC."""
HANDLER_WAIT_SECONDS = 2.0
"""At most this long, the stop waits for workers still in their drain signal handler."""
_DRAINING = "draining"
"""The mark the first worker to drain leaves in the start folder."""
log = logging.getLogger("servekit.drain")
_states: list[ServerState] = []


def watch(state: ServerState) -> None:
    """Mark ``state`` as draining when this worker is told to drain."""
    _states.append(state)


def _on_sigterm(signum: int) -> None:
    """uWSGI's handler: kept short, as uWSGI skips a worker's atexit hooks (the capture's
    last records among them) when the worker is stopped while still in a signal handler."""
    if any(state.draining for state in _states):
        return
    for state in _states:
        state.draining = True
    threading.Thread(target=_stop_later, name="servekit-drain", daemon=True).start()


def _master_fifo() -> Path:
    """The master's FIFO, in this server's start folder."""
    import uwsgi

    fifo = uwsgi.opt.get("master-fifo", b"")
    if isinstance(fifo, list):
        fifo = fifo[0]
    return Path(fifo.decode() if isinstance(fifo, bytes) else str(fifo))


def _first_to_drain(start: Path) -> bool:
    """Whether this worker is the first of the server's to drain (it leaves a mark in the
    start folder; every worker gets the signal at once)."""
    try:
        os.close(os.open(start / _DRAINING, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    except OSError:  # no start folder to mark: say it rather than stay silent
        return True
    return True


def _stop_later() -> None:
    fifo = _master_fifo()
    settings = Settings.from_env(os.environ)
    if _first_to_drain(fifo.parent):  # one line for the server, not one per worker
        log.info(
            "SIGTERM: draining (readiness 503; stopping in %s s)",
            settings.drain_seconds,
            extra={
                "drain_seconds": settings.drain_seconds,
                "grace_seconds": settings.grace_seconds,
            },
        )
    path = str(fifo)
    helpers = [pid for name in _HELPERS if (pid := _supervisor(fifo.parent, name))]
    for pid in helpers:  # job workers and gRPC drain while the load balancer stops sending
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGUSR1)
    began = time.monotonic()
    time.sleep(settings.drain_seconds)
    longest = max(settings.async_timeout, settings.timeout) + 5
    for pid in helpers:  # each supervisor itself kills processes busy after grace_seconds
        _wait_for_children(pid, settings.grace_seconds or longest)
    if settings.grace_seconds:  # drain + grace bounds the whole stop, job wait included
        left = began + settings.drain_seconds + settings.grace_seconds - time.monotonic()
        _hard_stop_after(max(1, round(left)), os.getppid())
    _wait_for_handlers(HANDLER_WAIT_SECONDS)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(descriptor, b"q")  # the master's "gracefully stop everything"
        finally:
            os.close(descriptor)
    except OSError as exc:  # the master is already going
        log.warning("could not ask the uWSGI master to stop: %s", exc)
    # A worker the master spawned just before its stop began is not on its list: stop
    # this worker gracefully too (it finishes its request; a stopping master does not
    # respawn it).
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGHUP)


def _wait_for_handlers(seconds: float) -> None:
    """Wait (at most ``seconds``) until no worker of this server is in a uWSGI signal
    handler: the master's stop ends a worker still in one without its atexit hooks (the
    capture's last records among them). A worker waiting for the accept lock takes the
    drain signal only once it holds the lock; stopped before that, it exits cleanly."""
    import uwsgi

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        statuses = [str(worker.get("status", b""), "ascii") for worker in uwsgi.workers()]
        if not any(status.startswith("sig") for status in statuses):
            return
        time.sleep(0.01)


def _supervisor(start: Path, pidfile: str) -> int:
    """The pid of this server's job or gRPC supervisor (``pidfile`` in the start
    folder), or 0 when there is none.

    The pid file is only a hint: the process it names is signalled only when it is a
    child of this worker's master (uWSGI's attached daemon), never on the file's word.
    """
    try:
        pid = int((start / pidfile).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return 0
    if pid <= 1 or parent_of(pid) != os.getppid():
        log.warning("ignoring %s: process %d is not one of this server's daemons", pidfile, pid)
        return 0
    return pid


def _wait_for_children(supervisor: int, seconds: float) -> None:
    """Wait (at most ``seconds``) until ``supervisor`` has no processes left."""
    deadline = time.monotonic() + seconds
    while alive(supervisor) and children(supervisor) and time.monotonic() < deadline:
        time.sleep(0.1)


def _hard_stop_after(seconds: int, master: int) -> None:
    """A detached watchdog: SIGKILL the master's workers still alive after ``seconds``.

    It holds none of the server's descriptors (so log pipes close when uWSGI exits),
    looks up the workers when it acts (not when the drain began), and ends as soon as
    the master is gone.
    """
    if os.fork() != 0:
        return
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for descriptor in (0, 1, 2):
            os.dup2(null, descriptor)
        os.closerange(3, 65536)
        deadline = time.monotonic() + seconds
        while alive(master) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(master):
            for pid in children(master):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    finally:
        os._exit(0)


def _install() -> None:
    try:
        import uwsgi
    except ImportError:
        return
    if uwsgi.worker_id() == 0:  # in the master: the registration is inherited by workers
        uwsgi.register_signal(UWSGI_SIGNAL, "workers", _on_sigterm)


_install()
