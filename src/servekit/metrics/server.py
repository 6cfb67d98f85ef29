"""servekit's own Prometheus metrics, and their exposition (single or multi-process).

Under uWSGI every worker is a separate process, so ``servekit serve`` gives each server
start a clean directory and sets ``PROMETHEUS_MULTIPROC_DIR`` for the workers:
prometheus_client then keeps each worker's values in files there, and ``/metrics`` adds
them up with its ``MultiProcessCollector``. Counts of recycled or killed workers stay
(their files remain); their live gauges (in-flight requests) are dropped at scrape time.

No metric is created at import: :class:`ServerMetrics` takes the registry to use.
Labels are bounded: route templates, status codes and error codes only.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from servekit._proc import MULTIPROC_ENV, prepare_start_dir
from servekit.metrics.exits import Lost, count_exits

__all__ = [
    "LATENCY_BUCKETS",
    "MULTIPROC_ENV",
    "ServerMetrics",
    "exposition",
    "prepare_start_dir",
]

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
SIZE_BUCKETS = (100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8)
_READ_ATTEMPTS = 4


class ServerMetrics:
    """The metrics every servekit server exports, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._per_route: dict[tuple[str, int], tuple[Any, Any, Any, Any]] = {}
        self._per_error: dict[str, Any] = {}
        self.requests = Counter(
            "servekit_requests_total",
            "Requests answered, by route and HTTP status code.",
            ["route", "code"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "servekit_request_duration_seconds",
            "Time from request start to response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.model_seconds = Histogram(
            "servekit_model_duration_seconds",
            "Time spent in the model's own code.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.request_bytes = Histogram(
            "servekit_request_size_bytes",
            "Request body sizes, by route.",
            ["route"],
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.response_bytes = Histogram(
            "servekit_response_size_bytes",
            "Response body sizes, by route.",
            ["route"],
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.inflight = Gauge(
            "servekit_inflight_requests",
            "Requests being handled now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.load_seconds = Gauge(
            "servekit_model_load_seconds",
            "Seconds the model took to load (the slowest worker).",
            registry=registry,
            multiprocess_mode="max",
        )
        self.errors = Counter(
            "servekit_model_errors_total",
            "Error responses, by servekit error code (MODEL_ERROR, INVALID_ARGUMENTS, ...).",
            ["code"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "servekit_auth_failures_total",
            "Requests refused for a missing or invalid access token.",
            registry=registry,
        )
        self.workers_lost = Counter(
            "servekit_workers_lost_total",
            "Worker processes that ended, by reason: crashed (a segfault, os._exit, the "
            "out-of-memory killer, harakiri), timeout (replaced after a request overran "
            "SERVEKIT_TIMEOUT), recycled (SERVEKIT_MAX_REQUESTS) or stopped.",
            ["reason"],
            registry=registry,
        )
        self.requests_lost = Counter(
            "servekit_requests_lost_total",
            "Requests in flight in a worker that crashed (answered 502 WORKER_LOST by the "
            "nginx front, or a closed connection).",
            registry=registry,
        )
        self.build_info = Gauge(
            "servekit_build_info",
            "Always 1: what is serving.",
            ["version", "model_name", "model_version"],
            registry=registry,
            multiprocess_mode="max",
        )

    def observe(self, route: str, code: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
        """Record one answered request."""
        children = self._per_route.get((route, code))
        if children is None:  # labels() validates and locks: look each series up once
            children = (
                self.requests.labels(route, str(code)),
                self.request_seconds.labels(route),
                self.request_bytes.labels(route),
                self.response_bytes.labels(route),
            )
            self._per_route[(route, code)] = children
        requests, request_seconds, request_bytes, response_bytes = children
        requests.inc()
        request_seconds.observe(seconds)
        request_bytes.observe(bytes_in)
        response_bytes.observe(bytes_out)

    def lost(self, reason: str, requests: float) -> None:
        """Count one worker that ended, and the requests it had in flight."""
        self.workers_lost.labels(reason).inc()
        if requests > 0:
            self.requests_lost.inc(requests)

    def error(self, code: str) -> None:
        """Count one error response by its servekit error code."""
        child = self._per_error.get(code)
        if child is None:
            child = self._per_error[code] = self.errors.labels(code)
        child.inc()


def multiprocess_dir() -> str | None:
    """The multi-process metrics directory, when this process runs under one."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(
    *registries: CollectorRegistry, live: Sequence[Collector] = (), lost: Lost | None = None
) -> bytes:
    """The text exposition: all workers' files in multi-process mode, else ``registries``;
    with ``live`` collectors (read at scrape time, such as the queue depth) either way.
    Processes found dead are counted through ``lost`` (:mod:`servekit.metrics.exits`)."""
    current = CollectorRegistry()
    for collector in live:
        current.register(collector)
    path = multiprocess_dir()
    if path is None:
        return b"".join(generate_latest(r) for r in (*registries, current))
    count_exits(path, lost)
    multiprocess.MultiProcessCollector(current, path=path)  # type: ignore[no-untyped-call]
    for attempt in range(_READ_ATTEMPTS):
        try:
            return generate_latest(current)
        except (ValueError, UnicodeDecodeError, struct.error, OSError):
            # A worker growing its file while we read it (prometheus_client's files are
            # written without a lock): read again; such a window lasts microseconds.
            if attempt == _READ_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
