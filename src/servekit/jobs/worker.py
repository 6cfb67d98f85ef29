"""A job worker process: lease a job, run it, record the outcome, repeat until told to stop.

SIGTERM (or SIGINT) asks the worker to stop: a job being run is finished and recorded
first. A worker that dies instead (SIGKILL, a crash) loses nothing: its lease runs out
and another worker takes the job again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from servekit.jobs.model import Lease
from servekit.jobs.runner import Heartbeat, JobRunner, Outcome
from servekit.jobs.store import JobStore
from servekit.metrics.jobs import JobMetrics

__all__ = ["Worker", "stop_on_signals"]

log = logging.getLogger("servekit.jobs")
_PURGE_EVERY = 10.0
_LEASE_WAIT = 0.5


def worker_name() -> str:
    """A name no other worker process has: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class Worker:
    """Runs jobs from ``store`` with ``runner`` until ``stop`` is set."""

    def __init__(
        self,
        store: JobStore,
        runner: JobRunner,
        metrics: JobMetrics,
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.runner = runner
        self.metrics = metrics
        self.stop = stop
        self.name = worker_name()
        self._clock = clock
        self._purged = 0.0

    def run(self) -> None:
        """The loop; returns when stopped, or after a timeout left the process unsafe."""
        log.info("job worker started", extra={"worker": self.name})
        while not self.stop.is_set():
            self._purge_now_and_then()
            try:
                lease = self.store.lease(self.name, _LEASE_WAIT, self._lost_and_failed)
            except Exception as exc:  # the store is down: wait, try again
                log.warning("could not take a job: %s", exc, extra={"worker": self.name})
                self.stop.wait(1.0)
                continue
            if lease is not None and self.work(lease).replace_worker:
                log.warning("replacing this job worker after a timeout")
                return
        log.info("job worker stopped", extra={"worker": self.name})

    def work(self, lease: Lease) -> Outcome:
        """Run one leased job and record its outcome in the store (retrying the store
        while the lease is kept alive; given up, the job is simply taken again later)."""
        started = self._clock()
        self.metrics.queue_wait.observe(max(0.0, started - lease.created_at))
        if lease.redelivered:
            self.metrics.redeliveries.inc()
        extra = {"request_id": lease.job_id, "attempt": lease.attempt, "worker": self.name}
        with Heartbeat(self.store, lease):
            outcome = self.runner.run(lease)
            self.metrics.run_seconds.observe(self._clock() - started)
            if outcome.result is None:
                self.metrics.attempt_failures.labels(outcome.code).inc()
            recorded = self._retrying(lambda: self._record(lease, outcome), extra)
        if recorded is None:
            log.error("could not record the job's outcome; it will run again", extra=extra)
        elif not recorded:
            log.warning("job finished after its lease was lost; outcome dropped", extra=extra)
        else:
            self._recorded(lease, outcome)
        return outcome

    def _record(self, lease: Lease, outcome: Outcome) -> bool:
        """The store write alone, so a retry never repeats more than the write."""
        if outcome.result is not None:
            return self.store.succeed(lease, outcome.result)
        return self.store.fail(lease, outcome.error, outcome.retry)

    def _recorded(self, lease: Lease, outcome: Outcome) -> None:
        """Count and log a recorded outcome (the final state follows from the policy)."""
        if outcome.result is not None:
            state = "succeeded"
        elif outcome.retry and lease.attempt < self.store.policy.max_attempts:
            state = "retried"
        else:
            state = "failed"
        if state != "retried":
            self.metrics.finished.labels(state).inc()
        log.info(
            "job %s",
            state,
            extra={
                "request_id": lease.job_id,
                "attempt": lease.attempt,
                "worker": self.name,
                "error": outcome.error or None,
            },
        )

    def _retrying(self, action: Callable[[], bool], extra: dict[str, Any]) -> bool | None:
        """``action()``, tried again (for about a lease's time) while the store fails."""
        give_up = time.monotonic() + max(self.store.policy.lease_seconds, 5.0)
        pause = 0.1
        while True:
            try:
                return action()
            except Exception as exc:
                if time.monotonic() + pause > give_up:
                    log.error("the job store keeps failing: %s", exc, extra=extra)
                    return None
                log.warning("the job store failed (%s); trying again", exc, extra=extra)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def _lost_and_failed(self, job_id: str) -> None:
        """A job the store failed while leasing: its last attempt's worker was lost."""
        self.metrics.finished.labels("failed").inc()
        log.info("job failed", extra={"request_id": job_id, "error": "its last worker was lost"})

    def _purge_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._purged < min(_PURGE_EVERY, self.store.policy.retention_seconds):
            return
        self._purged = now
        try:
            self.store.purge()
        except Exception as exc:
            log.warning("could not purge expired jobs: %s", exc)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (the job in hand is finished first)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("signal %d: finishing the current job, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
