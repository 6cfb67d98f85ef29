"""The sink a ``SERVEKIT_CAPTURE`` URL names, and the capture a server installs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from servekit.capture.recorder import Capture, Sink
from servekit.core.dataplane import DataPlane
from servekit.settings import Settings

__all__ = ["capture_for", "sink_factory"]


def sink_factory(settings: Settings, labels: bool = False) -> Callable[[], Sink]:
    """What opens the sink of ``SERVEKIT_CAPTURE`` (in the writing thread's process):
    for predictions, or for ground truth (``labels``)."""
    url = settings.capture
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        from servekit.capture.files import FileSink

        folder = Path(urlsplit(url).path)
        name = "ground-truth" if labels else "predictions"
        rotate = (settings.capture_rotate_bytes, settings.capture_rotate_seconds)
        return lambda: FileSink(folder, *rotate, name=name)
    if scheme in ("http", "https"):
        from servekit.capture.cloudevents import HttpSink

        return lambda: HttpSink(url, labels=labels)
    from servekit.capture.redis_stream import RedisSink

    return lambda: RedisSink(url, ":ground-truth" if labels else "")


def capture_for(settings: Settings, plane: DataPlane) -> Capture:
    """The capture of ``plane``'s predictions under ``settings``, its counter registered
    (in the multi-process files, so the server's ``/metrics`` shows it)."""
    from prometheus_client import CollectorRegistry

    from servekit.metrics.capture import CaptureCounts

    names = tuple(p.name for p in plane.binder.signature.params)
    return Capture(
        sink_factory(settings),
        plane.release,
        names,
        settings.capture_sample,
        settings.capture_queue,
        CaptureCounts(CollectorRegistry()),
    )
