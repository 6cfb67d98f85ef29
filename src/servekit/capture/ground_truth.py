"""Ground truth: the labels that arrive after a prediction, under its event id.

``POST /models/<id>/<version>/ground-truth`` with ``[{"event_id": "...", "label": ...}]``
(or ``{"ground_truth": [...]}``) is checked here (:func:`parse_labels`, I/O-free: a
BadRequest names the entry that is wrong) and written at once, beside the captured
predictions, to the same sink: ``DIR/ground-truth.jsonl`` for ``file://`` (rotated and
compressed the same way), one CloudEvent ``org.servekit.inference.groundtruth`` per label
for ``http(s)://``, the stream ``NAME:ground-truth`` for ``redis://``. The answer comes
only after the sink took them, so a 200 means they are stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from servekit import errors
from servekit.capture.records import stamp
from servekit.core import jsonbody
from servekit.core.encoding import encode
from servekit.core.paths import describe

__all__ = ["GroundTruth", "parse_labels"]

MAX_EVENT_ID = 256
"""Characters an event id may have."""


def parse_labels(body: bytes) -> list[tuple[str, Any]]:
    """The (event id, label) pairs of a request body; BadRequest naming the entry."""
    document = jsonbody.loads(body) if body.strip() else None
    if isinstance(document, dict) and set(document) == {"ground_truth"}:
        document = document["ground_truth"]
    if type(document) is not list or not document:
        raise errors.BadRequest(
            'send a non-empty array of {"event_id": "...", "label": ...} '
            '(or {"ground_truth": [...]})'
        )
    found: list[tuple[str, Any]] = []
    for index, item in enumerate(document):
        where = f"ground_truth[{index}]"
        if type(item) is not dict or set(item) != {"event_id", "label"}:
            raise errors.BadRequest(
                f'{where} must be {{"event_id": "...", "label": ...}}, got {describe(item)}'
            )
        event_id = item["event_id"]
        if type(event_id) is not str or not 0 < len(event_id) <= MAX_EVENT_ID:
            raise errors.BadRequest(
                f"{where}.event_id must be a string of 1 to {MAX_EVENT_ID} characters"
            )
        found.append((event_id, item["label"]))
    return found


class GroundTruth:
    """Writes labels to the capture's sink for ground truth, one request at a time per
    process (the sink is opened on first use)."""

    def __init__(self, sink: Callable[[], Any], clock: Callable[[], float] = time.time) -> None:
        self._make_sink = sink
        self._sink: Any = None
        self._lock = threading.Lock()
        self._clock = clock

    def store(self, labels: list[tuple[str, Any]]) -> int:
        """Write ``labels``; StoreUnavailable (503) when the sink cannot take them."""
        now = stamp(self._clock())
        lines = [
            encode({"time": now, "event_id": event_id, "label": label}) + b"\n"
            for event_id, label in labels
        ]
        with self._lock:
            try:
                if self._sink is None:
                    self._sink = self._make_sink()
                self._sink.write(lines)
            except Exception as exc:
                if self._sink is not None:
                    self._sink.close()
                self._sink = None
                raise errors.StoreUnavailable(
                    f"the ground truth could not be stored: {exc}; send it again"
                ) from None
        return len(lines)
