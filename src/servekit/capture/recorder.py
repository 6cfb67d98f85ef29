"""The per-process capture queue: requests hand records over, a thread writes them.

:meth:`Capture.observe` (the data plane's observer) and :meth:`Capture.record` (user
code) only sample and append to a bounded in-memory queue: nothing is encoded, written
or waited for on the request's path. A background thread, started in the process that
first records (so it exists after uWSGI's fork), takes batches, encodes them
(:mod:`.records`) and writes them to the sink. A full queue, a sink that fails and
records still queued when the process stops are counted
(``servekit_capture_records_total{outcome}``: ``written``, ``dropped``, ``failed``) and
logged at most once a minute. :meth:`Capture.close` flushes within a time limit.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from servekit.capture.records import encode_record, prediction_record, user_record
from servekit.core.dataplane import Observed
from servekit.core.release import Release

__all__ = ["BATCH", "Capture", "Counts", "Sink"]

log = logging.getLogger("servekit.capture")
BATCH = 500
"""The most records one write to the sink carries."""
_PERIOD = 0.2
"""Seconds between the writer's rounds when fewer than a batch are queued: waking it for
every record would cost each request a thread switch."""
_QUIET = 60.0
"""Seconds between two log lines about drops or a failing sink."""


class Sink(Protocol):
    """Where records go: ``write`` takes complete JSON lines (raises when it cannot)."""

    def write(self, lines: list[bytes]) -> None: ...

    def close(self) -> None: ...


class Counts(Protocol):
    """What counts the records' outcomes (a Prometheus counter in the server)."""

    def add(self, outcome: str, count: int) -> None: ...


class Capture:
    """Samples and queues records for ``sink`` (made in the writing thread's process)."""

    def __init__(
        self,
        sink: Callable[[], Sink],
        release: Release,
        names: tuple[str, ...],
        sample: float,
        capacity: int,
        counts: Counts,
        chance: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._make_sink = sink
        self.release = release
        self.names = names
        self.sample = sample
        self.capacity = capacity
        self.counts = counts
        self._chance = chance
        self._clock = clock
        self._pid = 0
        self._items: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._said: dict[str, float] = {}

    def observe(self, observed: Observed) -> None:
        """The data plane's observer: queue this prediction (when sampled)."""
        if self.sample >= 1.0 or self._chance() < self.sample:
            self._put(("prediction", observed, self._clock()))

    def record(self, features: Any, prediction: Any, event_id: str) -> bool:
        """Queue a record the model's code makes; False when it was dropped."""
        return self._put(("user", features, prediction, event_id, self._clock()))

    def _put(self, item: tuple[Any, ...]) -> bool:
        if self._pid != os.getpid():
            self._start()
        if len(self._items) >= self.capacity or self._closing:
            self.counts.add("dropped", 1)
            self._say("dropped", "capture queue full: records dropped (the sink is slow or down)")
            return False
        self._items.append(item)
        if len(self._items) >= BATCH:  # else the writer comes by itself: no wake-up a call
            self._wake.set()
        return True

    def _start(self) -> None:
        """A fresh queue and writer thread in this process (after a fork, the parent's
        thread does not exist here)."""
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._items = collections.deque()
            self._wake = threading.Event()
            self._closing = False
            self._thread = threading.Thread(target=self._run, name="servekit-capture", daemon=True)
            self._pid = os.getpid()
            self._thread.start()

    def _run(self) -> None:
        sink: Sink | None = None
        while True:
            self._wake.wait(_PERIOD)
            self._wake.clear()
            while self._items:
                batch = [self._items.popleft() for _ in range(min(BATCH, len(self._items)))]
                sink = self._write(sink, batch)
            if self._closing:
                break
        if sink is not None:
            sink.close()

    def _write(self, sink: Sink | None, batch: list[tuple[Any, ...]]) -> Sink | None:
        """Write one batch (opening the sink first if it is not open); the sink."""
        try:
            if sink is None:
                sink = self._make_sink()
            sink.write([encode_record(self._build(item)) for item in batch])
        except Exception as exc:
            self.counts.add("failed", len(batch))
            self._say("failed", f"the capture sink failed, records dropped: {exc}")
            return sink
        self.counts.add("written", len(batch))
        return sink

    def _build(self, item: tuple[Any, ...]) -> dict[str, Any]:
        if item[0] == "prediction":
            return prediction_record(item[1], self.release, self.names, item[2])
        _, features, prediction, event_id, now = item
        return user_record(features, prediction, event_id, self.release, now)

    def _say(self, what: str, message: str) -> None:
        now = time.monotonic()
        if now - self._said.get(what, -_QUIET) >= _QUIET:
            self._said[what] = now
            log.warning(message)

    def close(self, seconds: float) -> None:
        """Write what is queued (at most ``seconds``), then stop; what is left is
        counted as dropped."""
        thread = self._thread
        if thread is None or self._pid != os.getpid():
            return
        self._closing = True
        self._wake.set()
        thread.join(seconds)
        left = len(self._items)
        if thread.is_alive() or left:
            self.counts.add("dropped", left)
            if left:
                log.warning("capture: %d records not written before the stop", left)
