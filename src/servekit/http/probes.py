"""The probes and the metrics: ``live`` (``/healthz``), ``ready`` (``/readyz``) and
``metrics`` (``/metrics``), views for the route table (:mod:`servekit.http.routes`)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.registry import Collector

from servekit import metrics
from servekit.http.predictions import not_ready
from servekit.http.state import ServerState
from servekit.metrics.server import ServerMetrics, exposition

__all__ = ["views"]

_JSON = "application/json"


def views(
    state: ServerState,
    registry: CollectorRegistry,
    telemetry: ServerMetrics,
    live: list[Collector],
) -> dict[str, Any]:
    """The views, by endpoint. ``live`` are collectors read at each scrape."""

    def alive() -> Response:
        return Response(orjson.dumps({"status": "alive"}), mimetype=_JSON)

    def ready() -> Response:
        plane = state.dataplane
        if plane is None or state.draining:
            raise not_ready(state)
        document = {
            "status": "ready",
            "model": plane.release.to_dict(),
            "runtime": plane.runtime.details(),
        }
        return Response(orjson.dumps(document), mimetype=_JSON)

    def metrics_view() -> Response:
        extra = [metrics.registry()] if metrics.created() else []
        return Response(
            exposition(registry, *extra, live=live, lost=telemetry.lost),
            mimetype=CONTENT_TYPE_LATEST,
        )

    return {"live": alive, "ready": ready, "metrics": metrics_view}
