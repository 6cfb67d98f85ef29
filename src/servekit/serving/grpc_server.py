"""The Open Inference Protocol's gRPC server: ``servekit grpc TARGET``, which ``servekit
serve`` runs beside uWSGI when ``SERVEKIT_GRPC_PORT`` is set.

``SERVEKIT_GRPC_PROCESSES`` processes (each loads the model once, after fork, under the
supervisor of :mod:`servekit.serving.supervisor`) listen on the one port with
``SO_REUSEPORT``, so the kernel spreads connections among them; each serves
``SERVEKIT_THREADS`` model calls at once (health and metadata calls on threads of their
own). Under ``servekit serve`` it is uWSGI's attached daemon: started with the server,
started again if it dies, and its metrics go to the server's ``/metrics``.

On SIGTERM (or the HTTP drain's SIGUSR1 to the supervisor) each process answers
``ServerReady``/``ModelReady`` false at once while it still serves for
``SERVEKIT_DRAIN_SECONDS``, then stops accepting and lets calls in hand finish within
``SERVEKIT_GRACE_SECONDS``. Each model call runs in a helper thread under
``SERVEKIT_TIMEOUT`` (:class:`~servekit.serving.deadline.Deadline`), so a call past it
is answered ``DEADLINE_EXCEEDED`` on time, even one blocked in native code or a sleep,
and its process is replaced (the others keep serving).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from servekit.errors import ConfigError, ServekitError
from servekit.serving.supervisor import Role, Workload
from servekit.settings import Settings

if TYPE_CHECKING:
    from servekit.core.dataplane import DataPlane
    from servekit.serving.grpc_service import Health, InferenceService

__all__ = ["EXIT_REPLACE_ME", "GRPC_SERVERS", "PIDFILE", "check_grpc", "grpc_workload"]

log = logging.getLogger("servekit.grpc")
GRPC_SERVERS = Role("gRPC server", "call", "port", "servekit.grpc")
PIDFILE = "grpc.pid"
"""The gRPC supervisor's pid file, in the server's start folder."""
EXIT_REPLACE_ME = 75
"""A process's exit status after a call overran the timeout: the supervisor starts
another in its place."""
_SPARE_THREADS = 4
"""Threads beyond ``SERVEKIT_THREADS`` for health and metadata calls."""


def check_grpc(settings: Settings) -> None:
    """Refuse to start without grpcio and grpcio-tools, or with a port that is taken, or
    when the protocol's file does not compile: a ConfigError now, not a daemon failing."""
    from servekit.protocols.v2.stubs import messages

    messages()
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((settings.host, settings.grpc_port))
        except OSError as exc:
            raise ConfigError(
                f"SERVEKIT_GRPC_PORT: cannot listen on {settings.host}:{settings.grpc_port}: "
                f"{exc.strerror or exc}"
            ) from None


def grpc_workload(settings: Settings) -> Workload:
    """The processes of the gRPC server for ``settings``."""

    def run(stop: threading.Event) -> int:
        import grpc

        from servekit.loading import EXIT_LOAD_FAILED, load_dataplane
        from servekit.logs import capture_prints
        from servekit.serving import loadfail

        capture_prints()
        try:
            plane = load_dataplane(settings, concurrency=settings.threads)
        except ServekitError as exc:
            loadfail.report(exc, loadfail.start_folder())
            return EXIT_LOAD_FAILED
        from servekit.serving.grpc_service import Health

        health = Health()

        def replace_me() -> None:
            health.replace = True
            stop.set()

        service = _service(settings, plane, health, replace_me)
        pool = ThreadPoolExecutor(settings.threads + _SPARE_THREADS, "servekit-grpc")
        server = grpc.server(
            pool,
            handlers=[service.handler()],
            options=[
                ("grpc.so_reuseport", 1),
                ("grpc.max_receive_message_length", settings.max_body_bytes),
                ("grpc.max_send_message_length", -1),
            ],
            maximum_concurrent_rpcs=settings.max_connections,
        )
        address = f"[{settings.host}]" if ":" in settings.host else settings.host
        server.add_insecure_port(f"{address}:{settings.grpc_port}")
        server.start()
        log.debug("gRPC process listening on %s:%d", settings.host, settings.grpc_port)
        stop.wait()
        health.draining = True
        if not health.replace:
            time.sleep(settings.drain_seconds)  # still serving: ServerReady is false
        server.stop(settings.grace_seconds or None).wait()
        plane.runtime.close()
        return EXIT_REPLACE_ME if health.replace else 0

    about = {"port": settings.grpc_port, "threads": settings.threads}
    return Workload(run, GRPC_SERVERS, about)


def _service(
    settings: Settings, plane: DataPlane, health: Health, replace_me: Callable[[], None]
) -> InferenceService:
    """The service over ``plane``, recording into the multi-process metrics files."""
    from prometheus_client import CollectorRegistry

    from servekit.http.auth import build_authenticator
    from servekit.http.lifecycle import Gate, Recorder
    from servekit.logs import AccessLog
    from servekit.metrics.server import ServerMetrics
    from servekit.protocols.v2 import V2Codec
    from servekit.protocols.v2.stubs import messages
    from servekit.serving.deadline import Deadline
    from servekit.serving.grpc_service import InferenceService

    telemetry = ServerMetrics(CollectorRegistry())
    release = plane.release
    fields = {"model_name": release.model_name, "model_version": release.model_version}
    recorder = Recorder(telemetry, AccessLog(settings.log_format, settings.log_level), fields)
    gate = Gate(build_authenticator(settings.access_tokens, settings.access_tokens_file), telemetry)
    deadline = Deadline(
        settings.timeout, replace_me, inline=plane.dispatch is not None, arriving=plane.arriving
    )
    return InferenceService(
        V2Codec(plane),
        messages(),
        gate,
        recorder,
        deadline.run,
        health,
        settings.model_id,
        settings.threads,
    )
