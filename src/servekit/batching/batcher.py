"""The batcher: requests of one process meet here and the model is called once for many.

A request's thread (uWSGI's, or a job worker's) has bound its arguments; it calls
:meth:`Batcher.submit` and blocks, at most until the request's deadline
(:mod:`servekit.core.deadline`). One thread per process (started at the first submit, so
after the fork) takes the oldest waiting request, waits at most ``max_wait_ms`` from its
arrival for others, calls ``run`` with up to ``max_size`` of them, and hands each its own
result. When that call raises, each request is run again alone, so only the one that
caused it fails; a result that is not one per request
(:class:`~servekit.errors.BatchMismatch`) fails them all.

Whom it waits for: where the transport says when a request is in hand
(:meth:`Batcher.arriving`, around each request of the HTTP and gRPC servers), only for
the requests in hand that have not joined the queue yet, so a lone request is sent at
once and a batch grows with the load (while one batch runs, the next one gathers).
Elsewhere (job workers), for as many requests as the process handles at once
(``capacity``), at most ``max_wait_ms``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from servekit.core.batching import BatchOptions
from servekit.core.binding import BoundCall
from servekit.core.deadline import time_left
from servekit.errors import BatchMismatch, DeadlineExpired

__all__ = ["BatchObserver", "Batcher"]

BatchObserver = Callable[[int, float, float], None]
"""Sees each batch: its size, how long its first request waited, the model's seconds."""


class _Pending:
    __slots__ = ("arrived", "bound", "done", "error", "result")

    def __init__(self, bound: BoundCall, arrived: float) -> None:
        self.bound = bound
        self.arrived = arrived
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self, result: Any) -> None:
        self.result = result
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


class Batcher:
    """Groups the bound calls of one process into calls of ``run`` (a runtime's
    ``predict_batch``: bound calls -> one result each)."""

    def __init__(
        self,
        run: Callable[[Sequence[BoundCall]], list[Any]],
        options: BatchOptions,
        capacity: int,
        on_batch: BatchObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if options.max_size is None or options.max_wait_ms is None:
            raise ValueError("Batcher needs resolved options (BatchOptions.resolved)")
        self.run = run
        self.max_size = options.max_size
        self.max_wait = options.max_wait_ms / 1000
        self.capacity = max(1, capacity)
        self.on_batch = on_batch
        self.clock = clock
        self._pid = -1
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: deque[_Pending] = deque()
        self._tracked = False
        self._coming = 0
        self._mine = threading.local()

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """A request in hand in this thread (being read, decoded, bound): while it has
        not joined the queue, a batch waits for it (at most ``max_wait_ms``). Once a
        transport says this, the batcher waits for nothing else."""
        with self._lock:
            self._tracked = True
            self._coming += 1
        self._mine.coming = True
        try:
            yield
        finally:
            if self._mine.coming:  # it left without joining the queue (a 422, say)
                self._mine.coming = False
                with self._lock:
                    self._coming -= 1
                    self._arrived.notify()

    def submit(self, bound: BoundCall) -> Any:
        """This request's result from a batch call; what the model raised for it.
        DeadlineExpired at the request's deadline (it leaves the queue if still there)."""
        (pending,) = self._enqueue([bound])
        self._wait([pending])
        if pending.error is not None:
            raise pending.error
        return pending.result

    def submit_many(self, bounds: Sequence[BoundCall]) -> list[tuple[Any, BaseException | None]]:
        """Many calls of one request at once (KServe V1's instances): each one's result
        or error, in order; they join batches as if sent together."""
        pendings = self._enqueue(bounds)
        self._wait(pendings)
        return [(p.result, p.error) for p in pendings]

    def _enqueue(self, bounds: Sequence[BoundCall]) -> list[_Pending]:
        now = self.clock()
        pendings = [_Pending(bound, now) for bound in bounds]
        with self._lock:
            if self._pid != os.getpid():  # the first submit of this process
                self._start()
            if getattr(self._mine, "coming", False):
                self._mine.coming = False
                self._coming -= 1
            self._queue.extend(pendings)
            self._arrived.notify()
        return pendings

    def _wait(self, pendings: list[_Pending]) -> None:
        """Until each is done; at the request's deadline, what is still queued leaves
        the queue (not worth the model's time any more) and DeadlineExpired is raised."""
        for pending in pendings:
            if pending.done.wait(time_left()):
                continue
            with self._lock:
                for queued in pendings:
                    with contextlib.suppress(ValueError):
                        self._queue.remove(queued)
            raise DeadlineExpired()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._queue.clear()  # what a parent process had queued is not this one's
        thread = threading.Thread(target=self._loop, name="servekit-batcher", daemon=True)
        thread.start()

    def _loop(self) -> None:
        while True:
            self._serve(self._take())

    def _take(self) -> list[_Pending]:
        """The next batch: the oldest request and those that came within its wait."""
        limit = min(self.max_size, self.capacity)
        with self._lock:
            while True:
                while not self._queue:
                    self._arrived.wait()
                while 0 < len(self._queue) < limit and (self._coming > 0 or not self._tracked):
                    left = self._queue[0].arrived + self.max_wait - self.clock()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
                if self._queue:  # (requests past their deadline leave it)
                    count = min(len(self._queue), self.max_size)
                    return [self._queue.popleft() for _ in range(count)]

    def _serve(self, group: list[_Pending]) -> None:
        started = self.clock()
        failed: BaseException | None = None
        try:
            results = self.run([p.bound for p in group])
        except BatchMismatch as exc:
            for pending in group:
                pending.fail(exc)
        except BaseException as exc:
            failed = exc
        else:
            if len(results) != len(group):
                wrong = BatchMismatch(f"{len(results)} results for {len(group)} requests")
                for pending in group:
                    pending.fail(wrong)
            else:
                for pending, result in zip(group, results, strict=True):
                    pending.finish(result)
        if failed is not None:  # find the request that caused it: each alone
            if len(group) == 1:
                group[0].fail(failed)
            else:
                for pending in group:
                    self._serve_one(pending)
        if self.on_batch is not None:
            with contextlib.suppress(Exception):  # metrics must never stop the batcher
                self.on_batch(len(group), started - group[0].arrived, self.clock() - started)

    def _serve_one(self, pending: _Pending) -> None:
        try:
            (result,) = self.run([pending.bound])
        except BaseException as exc:
            pending.fail(exc)
        else:
            pending.finish(result)
