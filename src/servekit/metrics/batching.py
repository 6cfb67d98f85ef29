"""The batcher's metrics: batch sizes, the wait to form a batch, the model's time per
batch and the rows it served."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["BatchMetrics"]

_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_SECONDS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class BatchMetrics:
    """``servekit_batch_size``, ``servekit_batch_wait_seconds``,
    ``servekit_batch_model_seconds`` (histograms) and ``servekit_batch_rows_total``
    (its rate is the rows per second)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.size = Histogram(
            "servekit_batch_size",
            "Requests per call of a batched model.",
            buckets=_SIZES,
            registry=registry,
        )
        self.wait = Histogram(
            "servekit_batch_wait_seconds",
            "How long a batch's first request waited for the batch to form.",
            buckets=_SECONDS,
            registry=registry,
        )
        self.model = Histogram(
            "servekit_batch_model_seconds",
            "The batched model's time per batch (with the row-by-row retries of a failed one).",
            buckets=_SECONDS,
            registry=registry,
        )
        self.rows = Counter(
            "servekit_batch_rows",
            "Requests served by batch calls (rate(): rows per second).",
            registry=registry,
        )

    def observe(self, size: int, waited: float, model_seconds: float) -> None:
        """Record one batch."""
        self.size.observe(size)
        self.wait.observe(waited)
        self.model.observe(model_seconds)
        self.rows.inc(size)
