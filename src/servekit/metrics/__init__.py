"""Your own Prometheus metrics, exported at ``/metrics`` beside servekit's.

Create them once, at import or in your class's ``load()``, and update them in
``predict``; they add up correctly across uWSGI's worker processes::

    from servekit import metrics

    PREDICTIONS = metrics.counter("churn_predictions_total", "Predictions made.", ["plan"])

    def predict(plan: str) -> float:
        PREDICTIONS.labels(plan).inc()
        ...

Names and label values should be bounded (no ids or user input as label values).
Nothing is created until you call one of these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from servekit.metrics.server import LATENCY_BUCKETS

__all__ = ["counter", "created", "gauge", "histogram", "registry"]

MultiprocessMode = Literal[
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
]
"""How a gauge's values from several worker processes combine (prometheus_client's modes)."""

_registry: CollectorRegistry | None = None


def registry() -> CollectorRegistry:
    """The registry holding user metrics in this process (created on first use)."""
    global _registry
    if _registry is None:
        _registry = CollectorRegistry()
    return _registry


def created() -> bool:
    """True once any user metric exists in this process."""
    return _registry is not None


def counter(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
    """A counter (only goes up), e.g. predictions made."""
    return Counter(name, documentation, labelnames, registry=registry())


def gauge(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    multiprocess_mode: MultiprocessMode = "livesum",
) -> Gauge:
    """A gauge (goes up and down). Across workers: summed over live ones by default."""
    return Gauge(
        name, documentation, labelnames, registry=registry(), multiprocess_mode=multiprocess_mode
    )


def histogram(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    buckets: Sequence[float] = LATENCY_BUCKETS,
) -> Histogram:
    """A histogram of observations, e.g. scores or sizes."""
    return Histogram(name, documentation, labelnames, buckets=buckets, registry=registry())
