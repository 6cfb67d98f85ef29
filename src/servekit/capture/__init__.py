"""Prediction capture: every sampled prediction recorded, without slowing it.

With ``SERVEKIT_CAPTURE`` set (a sink URL), every process that serves the model (HTTP
workers, job workers, gRPC and AMQP processes) records each sampled prediction, whatever
its protocol, through the data plane's observer (:mod:`.recorder`, :mod:`.records`).
The model's own code can add records of its own::

    from servekit import capture

    capture.record(features={"tenure": 3, "spend_ratio": 0.4}, prediction=0.82)

``record`` never blocks and never raises for the sink: it returns False when capture is
off or the record was dropped. Its ``event_id`` defaults to the request's id.
"""

from __future__ import annotations

from typing import Any

from servekit.capture.recorder import Capture
from servekit.logs import request_id_var

__all__ = ["FLUSH_SECONDS", "Capture", "active", "close", "install", "record"]

_active: list[Capture] = []
FLUSH_SECONDS = 5.0
"""How long a stopping process takes at most to write what it queued."""


def record(features: Any, prediction: Any, event_id: str | None = None) -> bool:
    """Record ``features`` and ``prediction`` (JSON-shaped values, numpy arrays and
    dataclasses too) under ``event_id`` (default: the current request's id); False when
    capture is off or the record was dropped."""
    if not _active:
        return False
    found = event_id if event_id is not None else request_id_var.get() or ""
    return _active[0].record(features, prediction, found)


def active() -> Capture | None:
    """This process's capture, when ``SERVEKIT_CAPTURE`` is set."""
    return _active[0] if _active else None


def install(capture: Capture) -> None:
    """Make ``capture`` this process's (done where the model is loaded)."""
    _active[:] = [capture]


def close(seconds: float) -> None:
    """Write what this process queued, at most ``seconds`` (at its stop)."""
    if _active:
        _active[0].close(seconds)
