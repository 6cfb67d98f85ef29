"""Metrics of asynchronous predictions (registry passed in; nothing made at import).

Counters and histograms are written by whichever process does the work (HTTP workers
count submissions, job workers the rest); under uWSGI they share the multi-process
directory, so ``/metrics`` adds them up. The queue depth is read from the store at
scrape time by :class:`QueueDepth`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from servekit.jobs.store import JobStore
from servekit.metrics.server import LATENCY_BUCKETS

__all__ = ["JobMetrics", "QueueDepth"]

log = logging.getLogger("servekit.jobs")
WAIT_BUCKETS = (*LATENCY_BUCKETS, 120.0, 300.0, 900.0, 1800.0, 3600.0)


class JobMetrics:
    """The asynchronous-prediction metrics, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.submitted = Counter(
            "servekit_async_jobs_submitted_total",
            "Asynchronous jobs queued (idempotent repeats not counted).",
            registry=registry,
        )
        self.finished = Counter(
            "servekit_async_jobs_total",
            "Asynchronous jobs finished, by final status (succeeded or failed).",
            ["status"],
            registry=registry,
        )
        self.attempt_failures = Counter(
            "servekit_async_attempt_failures_total",
            "Failed attempts at asynchronous jobs, by servekit error code.",
            ["code"],
            registry=registry,
        )
        self.redeliveries = Counter(
            "servekit_async_redeliveries_total",
            "Jobs taken again because their worker was lost before finishing.",
            registry=registry,
        )
        self.queue_wait = Histogram(
            "servekit_async_queue_wait_seconds",
            "Time from submission to the start of an attempt.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.run_seconds = Histogram(
            "servekit_async_job_duration_seconds",
            "Time one attempt at a job took, model and encoding included.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )


class QueueDepth(Collector):
    """``servekit_async_queue_depth``: jobs waiting in the store, read at scrape time."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge; nothing when the store cannot be read (the scrape still works)."""
        try:
            depth = self.store.depth()
        except Exception as exc:
            log.warning("queue depth unavailable: %s", exc)
            return
        yield GaugeMetricFamily(
            "servekit_async_queue_depth", "Asynchronous jobs waiting to be taken.", value=depth
        )
