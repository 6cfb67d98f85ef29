"""Job workers beside the HTTP server, and a standalone worker's metrics.

``servekit serve --async-workers N`` has uWSGI's master run ``servekit worker`` as an
attached daemon (started with the server, started again if it dies, sent SIGTERM when the
server stops). On SIGTERM, the HTTP workers' drain first asks it (SIGUSR1, through its
pid file in the start folder) to let its workers finish their jobs, and waits for that
before uWSGI stops: so a job in hand when a pod is stopped is finished, not redone.

This module imports no prometheus_client at the top: a standalone worker must set the
multi-process folder (:func:`metrics_folder`) before prometheus_client is first imported.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from pathlib import Path

from servekit._proc import MULTIPROC_ENV, prepare_start_dir, private_dir
from servekit.errors import ConfigError
from servekit.serving.supervisor import Child
from servekit.settings import Settings

__all__ = [
    "PIDFILE",
    "check_store",
    "daemon_option",
    "metrics_folder",
    "metrics_server",
    "servekit_daemon",
]

PIDFILE = "jobs.pid"
"""The job supervisor's pid file, in the server's start folder."""


def daemon_option(settings: Settings, start: Path) -> str:
    """uWSGI's ``attach-daemon2`` value running the job workers for ``settings``."""
    workers = [
        "worker",
        "--processes",
        str(settings.async_workers),
        "--metrics-port",
        "0",
        "--amqp-url",
        "''",  # job workers, not AMQP consumers (the command runs through sh -c)
    ]
    return servekit_daemon(workers, start / PIDFILE, "--async-workers")


def servekit_daemon(arguments: list[str], pidfile: Path, what: str) -> str:
    """uWSGI's ``attach-daemon2`` value running ``servekit ARGUMENTS --pidfile PIDFILE``
    with this Python, stopped with SIGTERM; ``what`` names the setting asking for it."""
    command = [sys.executable, "-m", "servekit", *arguments, "--pidfile", str(pidfile)]
    if any("," in part or " " in part for part in command):
        raise ConfigError(
            f"{what}: the Python path {sys.executable!r} or the runtime folder "
            f"{pidfile.parent} contains a comma or space, which uWSGI's daemon option "
            "cannot pass"
        )
    return f"cmd=exec {' '.join(command)},stopsignal=15"


def check_store(settings: Settings) -> None:
    """Refuse to start with a job store URL that cannot work: a malformed URL, or an
    SQLite file that cannot be made (which also makes its tables, once, before the
    processes that share it start). A Redis that is down is not checked: the server
    starts and answers 503 STORE_UNAVAILABLE until it is back."""
    from servekit.jobs.config import job_policy
    from servekit.jobs.sqlite import SqliteStore
    from servekit.jobs.store import open_store

    store = open_store(settings.async_store_url, job_policy(settings))
    try:
        if isinstance(store, SqliteStore):
            try:
                store.depth()
            except Exception as exc:
                raise ConfigError(f"SERVEKIT_ASYNC_STORE: {exc}") from exc
    finally:
        store.close()


def metrics_folder(settings: Settings) -> None:
    """Give a standalone worker's processes a multi-process metrics folder of their own
    (under ``servekit serve`` the server's is inherited)."""
    if not os.environ.get(MULTIPROC_ENV):
        private_dir(settings.runtime_path)
        start = prepare_start_dir(settings.runtime_path / "worker", os.getpid())
        os.environ[MULTIPROC_ENV] = str(start / "metrics")


def metrics_server(settings: Settings, queue_depth: bool = True) -> Child | None:
    """The body of a process serving the workers' ``/metrics`` (job workers' with the
    queue depth; AMQP consumers' without) on ``SERVEKIT_METRICS_PORT``, or None when no
    port is set. A process of its own, so
    the supervisor never forks while a server thread runs. A port that cannot be bound
    is a ConfigError now, at start-up, not a crashing child later."""
    if not settings.metrics_port:
        return None
    try:
        with socket.socket() as probe:
            probe.bind((settings.host, settings.metrics_port))
    except OSError as exc:
        raise ConfigError(
            f"SERVEKIT_METRICS_PORT: cannot listen on {settings.host}:{settings.metrics_port}: "
            f"{exc.strerror or exc}"
        ) from exc

    def serve(stop: threading.Event) -> int:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        from servekit.jobs.config import job_store
        from servekit.loading import release_of
        from servekit.metrics.jobs import QueueDepth

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        if queue_depth:
            registry.register(QueueDepth(job_store(settings, release_of(settings))))
        start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor stops it with SIGTERM
        stop.wait()
        return 0

    return serve
