"""A Seldon class's ``metrics()`` as Prometheus metrics (registry passed in).

Each ``{"type", "key", "value", "tags"}`` becomes a metric named ``key`` (made safe for
Prometheus) with its tags and the ``method`` (predict, feedback, health) as labels:
COUNTER adds ``value``, GAUGE sets it, TIMER observes ``value`` milliseconds as seconds
in a histogram, as Seldon's wrapper exports them. A key reused with another type or
other tag names is skipped with one warning.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from servekit.metrics.server import LATENCY_BUCKETS

__all__ = ["UserMetrics"]

log = logging.getLogger("servekit.metrics")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_:]")


class UserMetrics:
    """Exports user metrics into ``registry``, creating each series once."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._made: dict[str, tuple[str, tuple[str, ...], Any]] = {}
        self._warned: set[str] = set()

    def record(self, metrics: list[dict[str, Any]], method: str = "predict") -> None:
        """Export one answer's metrics, labelled with the ``method`` that made them
        (predict, feedback or health), as Seldon's wrapper labels them."""
        for metric in metrics:
            kind, key, value = metric["type"], metric["key"], float(metric["value"])
            tags = {_safe(str(k)): str(v) for k, v in (metric.get("tags") or {}).items()}
            tags["method"] = method
            family = self._family(kind, _safe(key), tuple(sorted(tags)))
            if family is None:
                continue
            child = family.labels(**tags) if tags else family
            if kind == "COUNTER":
                child.inc(max(value, 0.0))
            elif kind == "GAUGE":
                child.set(value)
            else:
                child.observe(value / 1000.0)

    def _family(self, kind: str, name: str, labels: tuple[str, ...]) -> Any:
        made = self._made.get(name)
        if made is not None:
            if made[:2] == (kind, labels):
                return made[2]
            if name not in self._warned:
                self._warned.add(name)
                log.warning("metric %r reused with another type or tags: skipped", name)
            return None
        help_text = f"A model metric ({kind.lower()}) from its metrics()."
        try:
            family = self._create(kind, name, labels, help_text)
        except ValueError as exc:  # the name is taken (one of servekit's own, say)
            log.warning("metric %r cannot be exported: %s", name, exc)
            self._made[name] = ("", (), None)
            return None
        self._made[name] = (kind, labels, family)
        return family

    def _create(self, kind: str, name: str, labels: tuple[str, ...], help_text: str) -> Any:
        if kind == "COUNTER":
            family: Any = Counter(name, help_text, labels, registry=self.registry)
        elif kind == "GAUGE":
            family = Gauge(
                name, help_text, labels, registry=self.registry, multiprocess_mode="mostrecent"
            )
        else:
            family = Histogram(
                name, help_text, labels, buckets=LATENCY_BUCKETS, registry=self.registry
            )
        return family


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"m_{cleaned}"
