"""An in-memory job store for unit tests: one process, the same contract as the real ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from servekit.jobs.model import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    Job,
    JobPolicy,
    Lease,
    Submitted,
    lost_attempt_message,
    new_job_id,
)
from servekit.jobs.store import FailedHook

__all__ = ["MemoryStore"]


@dataclass
class _Record:
    job: Job
    payload: bytes | None
    key: str | None
    token: str = ""
    lease_until: float = 0.0
    expires_at: float = float("inf")
    errors: list[str] = field(default_factory=list)


class MemoryStore:
    """Jobs in a dict, guarded by one lock; ``clock`` may be a fake for expiry tests."""

    def __init__(self, policy: JobPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._keys: dict[str, str] = {}
        self._order: list[str] = []
        self._changed = threading.Condition()
        self._tokens = 0

    def submit(self, payload: bytes, idempotency_key: str | None = None) -> Submitted:
        with self._changed:
            self._expire()
            if idempotency_key is not None and idempotency_key in self._keys:
                return Submitted(self._keys[idempotency_key], created=False)
            job_id = new_job_id()
            job = Job(job_id, QUEUED, self._clock(), 0)
            self._records[job_id] = _Record(job, payload, idempotency_key)
            if idempotency_key is not None:
                self._keys[idempotency_key] = job_id
            self._order.append(job_id)
            self._changed.notify_all()
            return Submitted(job_id, created=True)

    def get(self, job_id: str) -> Job | None:
        with self._changed:
            self._expire()
            record = self._records.get(job_id)
            return None if record is None else record.job

    def lease(
        self, owner: str, wait_seconds: float, on_failed: FailedHook | None = None
    ) -> Lease | None:
        deadline = time.monotonic() + wait_seconds
        with self._changed:
            while True:
                found = self._take(owner, on_failed)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, 0.05))

    def _take(self, owner: str, on_failed: FailedHook | None) -> Lease | None:
        now = self._clock()
        for job_id in list(self._order):
            record = self._records[job_id]
            state = record.job.state
            lost = state == RUNNING and record.lease_until <= now
            if state != QUEUED and not lost:
                continue
            if lost:
                record.errors.append(lost_attempt_message(record.job.attempts, self.policy))
                if record.job.attempts >= self.policy.max_attempts:
                    self._finish(record, FAILED, None)
                    if on_failed is not None:
                        on_failed(job_id)
                    continue
            assert record.payload is not None
            self._tokens += 1
            record.token = f"{owner}:{self._tokens}"
            record.lease_until = now + self.policy.lease_seconds
            record.job = replace(
                record.job,
                state=RUNNING,
                attempts=record.job.attempts + 1,
                started_at=record.job.started_at or now,
            )
            return Lease(
                job_id,
                record.token,
                record.job.attempts,
                record.payload,
                record.job.created_at,
                redelivered=lost,
            )
        return None

    def renew(self, lease: Lease) -> bool:
        with self._changed:
            record = self._held(lease)
            if record is None:
                return False
            record.lease_until = self._clock() + self.policy.lease_seconds
            return True

    def succeed(self, lease: Lease, result: bytes) -> bool:
        with self._changed:
            record = self._held(lease)
            if record is None:
                return False
            self._finish(record, SUCCEEDED, result)
            return True

    def fail(self, lease: Lease, error: str, retry: bool) -> bool:
        with self._changed:
            record = self._held(lease)
            if record is None:
                return False
            record.errors.append(error)
            if retry and record.job.attempts < self.policy.max_attempts:
                record.token = ""
                record.job = replace(record.job, state=QUEUED, errors=tuple(record.errors))
                self._changed.notify_all()
            else:
                self._finish(record, FAILED, None)
            return True

    def depth(self) -> int:
        with self._changed:
            return sum(1 for r in self._records.values() if r.job.state == QUEUED)

    def purge(self) -> int:
        with self._changed:
            return self._expire()

    def close(self) -> None:
        """Nothing to release."""

    def _held(self, lease: Lease) -> _Record | None:
        record = self._records.get(lease.job_id)
        if record is None or record.job.state != RUNNING or record.token != lease.token:
            return None
        return record

    def _finish(self, record: _Record, state: str, result: bytes | None) -> None:
        now = self._clock()
        record.job = replace(
            record.job, state=state, completed_at=now, result=result, errors=tuple(record.errors)
        )
        record.payload = None
        record.token = ""
        record.expires_at = now + self.policy.retention_seconds
        self._order.remove(record.job.job_id)

    def _expire(self) -> int:
        now = self._clock()
        gone = [
            job_id
            for job_id, record in self._records.items()
            if record.job.state in TERMINAL and record.expires_at <= now
        ]
        for job_id in gone:
            record = self._records.pop(job_id)
            if record.key is not None:
                self._keys.pop(record.key, None)
        return len(gone)
