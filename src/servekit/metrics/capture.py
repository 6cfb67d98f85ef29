"""The capture's counter: ``servekit_capture_records_total{outcome}``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["CaptureCounts"]


class CaptureCounts:
    """Counts each record's outcome: ``written``, ``dropped`` (the queue was full, or the
    process stopped first) or ``failed`` (the sink refused or was down)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "servekit_capture_records",
            "Prediction capture records by outcome: written, dropped (queue full or stopped "
            "first), failed (the sink refused or was down).",
            ["outcome"],
            registry=registry,
        )

    def add(self, outcome: str, count: int) -> None:
        """Count ``count`` records of ``outcome``."""
        if count:
            self.records.labels(outcome).inc(count)
