"""Load the model named by the settings, once, and build the data plane around it."""

from __future__ import annotations

import gc
import logging
import time

from servekit._version import __version__
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.errors import ServekitError
from servekit.logs import json_configured, log_fd, write_line
from servekit.runtimes import make_runtime, parse_target
from servekit.settings import Settings

__all__ = [
    "EXIT_LOAD_FAILED",
    "batch_calls",
    "load_dataplane",
    "release_of",
    "report_load_error",
]

EXIT_LOAD_FAILED = 22
"""Exit status of a process that could not load the model (uWSGI's "failed to load app":
its ``need-app`` stops the whole server; the job supervisor stops too)."""

log = logging.getLogger("servekit.load")


def release_of(settings: Settings) -> Release:
    """What ``settings`` serve: servekit's version, the model's name and version."""
    target = parse_target(settings.target, settings.project_dir, settings.runtime)
    return Release(
        harness_version=__version__,
        model_name=settings.model_name or target.default_model_name,
        model_version=settings.model_version,
    )


def load_dataplane(settings: Settings, concurrency: int = 0) -> DataPlane:
    """Parse the target, load its runtime and build the DataPlane; raises LoadError.

    ``concurrency`` is how many requests this process handles at once (uWSGI's and
    gRPC's threads): above 1, a batched model's requests meet in a batcher; 0 for a
    door that calls the model one request at a time (job workers, AMQP, Seldon's)."""
    target = parse_target(settings.target, settings.project_dir, settings.runtime)
    runtime = make_runtime(target, target.project_dir(settings.project_dir), settings)
    started = time.perf_counter()
    runtime.load()
    load_seconds = time.perf_counter() - started
    # The model's objects live as long as the process: out of the collector's reach, a
    # full collection no longer walks them (with pandas and scikit-learn loaded, 110-150
    # ms pauses in the middle of requests), and preloaded pages stay shared after fork.
    gc.collect()
    gc.freeze()
    plane = DataPlane(runtime, release_of(settings), load_seconds=load_seconds)
    for warning in plane.binder.warnings:
        log.warning("%s", warning)
    if settings.capture:
        _capture(settings, plane)
    batch_calls(plane, concurrency)
    log.info(
        "model loaded",
        extra={
            "target": target.spec,
            "runtime": runtime.kind,
            "load_seconds": round(load_seconds, 4),
        },
    )
    return plane


def batch_calls(plane: DataPlane, concurrency: int) -> None:
    """Put a batched model's calls through this process's batcher (``plane.dispatch``),
    where the requests of its ``concurrency`` threads meet."""
    runtime = plane.runtime
    options = getattr(runtime, "batch_options", None)
    predict_batch = getattr(runtime, "predict_batch", None)
    if options is None or predict_batch is None or concurrency == 0:
        return
    log.info(
        "batching",
        extra={
            "max_size": options.max_size,
            "max_wait_ms": options.max_wait_ms,
            "requests_at_once": concurrency,
        },
    )
    if concurrency <= 1:
        log.warning(
            "a batched model in a process that handles one request at a time: each batch "
            "holds one (servekit serve gives each worker SERVEKIT_THREADS=%s threads "
            "unless SERVEKIT_THREADS is set)",
            options.max_size,
        )
        return
    from prometheus_client import CollectorRegistry

    from servekit.batching.batcher import Batcher
    from servekit.metrics.batching import BatchMetrics

    metrics = BatchMetrics(CollectorRegistry())
    batcher = Batcher(predict_batch, options, concurrency, metrics.observe)
    plane.dispatch, plane.dispatch_many = batcher.submit, batcher.submit_many
    plane.arriving = batcher.arriving


def _capture(settings: Settings, plane: DataPlane) -> None:
    """Record ``plane``'s predictions (``SERVEKIT_CAPTURE``), flushed at this process's
    exit (the supervisor's children, which leave with ``os._exit``, flush on their own)."""
    import atexit

    from servekit import capture
    from servekit.capture.sinks import capture_for

    found = capture_for(settings, plane)
    plane.observer = found.observe
    capture.install(found)
    atexit.register(capture.close, capture.FLUSH_SECONDS)


def report_load_error(exc: ServekitError) -> None:
    """Say why the model cannot be loaded in one line: ``servekit: error: ...`` (a JSON
    record with the JSON log format). The user's traceback, when there is one, follows
    at debug (and the line says how to see it)."""
    traceback_text = getattr(exc, "traceback_text", "")
    debug = log.isEnabledFor(logging.DEBUG)
    hint = " (SERVEKIT_LOG_LEVEL=debug logs the traceback)" if traceback_text and not debug else ""
    if json_configured():
        log.error("servekit: error: %s%s", exc.message, hint)
        if traceback_text:
            log.debug("the load error's traceback", extra={"traceback": traceback_text})
        return
    shown = traceback_text if debug else ""
    write_line(log_fd(), f"servekit: error: {exc.message}{hint}\n{shown}".encode())
