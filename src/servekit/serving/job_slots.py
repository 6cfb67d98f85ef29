"""A job worker process with several jobs in hand: one :class:`~servekit.jobs.worker.Worker`
loop per slot, so that a batched model's jobs meet in the process's batcher.

Each slot leases, heartbeats and records its own job exactly as a lone worker does, so
delivery stays at least once and every job keeps its own result: a process killed
mid-batch loses nothing (the leases run out and the jobs are taken again). SIGTERM lets
every slot finish and record its job. A slot that must replace the process (after a
timeout) stops the others too; the supervisor starts a fresh process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from servekit.jobs.runner import JobRunner
from servekit.jobs.store import JobStore
from servekit.jobs.worker import Worker
from servekit.metrics.jobs import JobMetrics

__all__ = ["run_slots"]


def run_slots(
    store: JobStore,
    runner: JobRunner,
    metrics: JobMetrics,
    stop: threading.Event,
    slots: int,
    make: Callable[..., Worker] = Worker,
) -> None:
    """Run ``slots`` worker loops (the last in this thread) until ``stop`` is set or one
    asks for the process to be replaced."""
    done = threading.Event()  # set by a slot that returns on its own (a timeout)

    def slot() -> None:
        make(store, runner, metrics, done).run()
        done.set()

    def watch() -> None:  # the supervisor's stop stops every slot
        while not stop.wait(0.2):
            if done.is_set():
                return
        done.set()

    threads = [
        threading.Thread(target=slot, name=f"servekit-job-slot-{i}") for i in range(slots - 1)
    ]
    threads.append(threading.Thread(target=watch, name="servekit-job-stop", daemon=True))
    for thread in threads:
        thread.start()
    slot()
    for thread in threads[:-1]:
        thread.join()
