"""Job workers beside the HTTP server, and a standalone worker's metrics.

``servekit serve --async-workers N`` has uWSGI's master run ``servekit worker`` as an
attached daemon (started with the server, started again if it dies, sent SIGTERM when the
server stops). On SIGTERM, the HTTP workers' drain first asks it (SIGUSR1, through its
pid file in the start folder) to let its workers finish their jobs, and waits for that
before uWSGI stops: so a job in hand when a pod is stopped is finished, not redone.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from servekit.settings import Settings
from servekit.telemetry import MULTIPROC_ENV, prepare_start_dir

__all__ = ["PIDFILE", "daemon_option", "serve_worker_metrics"]

PIDFILE = "jobs.pid"
"""The job supervisor's pid file, in the server's start folder."""
log = logging.getLogger("servekit.jobs")


def daemon_option(settings: Settings, start: Path) -> str:
    """uWSGI's ``attach-daemon2`` value running the job workers for ``settings``."""
    command = [
        sys.executable,
        "-m",
        "servekit",
        "worker",
        "--processes",
        str(settings.async_workers),
        "--metrics-port",
        "0",
        "--pidfile",
        str(start / PIDFILE),
    ]
    if any("," in part or " " in part for part in command):
        from servekit.errors import ConfigError

        raise ConfigError(
            f"--async-workers: the Python path {sys.executable!r} or the runtime folder "
            f"{start} contains a comma or space, which uWSGI's daemon option cannot pass"
        )
    return f"cmd=exec {' '.join(command)},stopsignal=15"


def serve_worker_metrics(settings: Settings) -> None:
    """Give a worker's processes a metrics folder (a standalone worker gets its own start
    folder), and serve ``/metrics`` on ``SERVEKIT_METRICS_PORT`` when one is set."""
    if not os.environ.get(MULTIPROC_ENV):
        start = prepare_start_dir(settings.runtime_dir / "worker", os.getpid())
        os.environ[MULTIPROC_ENV] = str(start / "metrics")
    if not settings.metrics_port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from servekit.jobs.config import job_store
    from servekit.jobs.metrics import QueueDepth
    from servekit.loading import release_of

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(QueueDepth(job_store(settings, release_of(settings))))
    start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
    log.info("worker metrics on port %d", settings.metrics_port)
