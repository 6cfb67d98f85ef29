"""An in-memory job store for unit tests: one process, the same contract as the real ones."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from servekit.jobs.model import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    JobPolicy,
    Lease,
    Submitted,
    digest,
    expired_message,
    idempotency_scope,
    key_reused,
    lost_attempt_message,
    new_job_id,
    queue_full,
)
from servekit.jobs.store import FailedHook

__all__ = ["MemoryStore"]


@dataclass
class _Record:
    job: Job
    payload: bytes | None
    key: str | None
    digest: str
    queued_until: float
    token: str = ""
    lease_until: float = 0.0
    expires_at: float = float("inf")
    errors: list[str] = field(default_factory=list)


class MemoryStore:
    """Jobs in a dict, guarded by one lock; ``clock`` may be a fake for expiry tests.

    The queued jobs are also kept in queue order (so the depth is their count, and the
    ones past their queue time are at the front), the finished ones in finishing order
    (the ones past their retention are at the front): expiry touches only what expires.
    """

    def __init__(self, policy: JobPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._keys: dict[str, str] = {}
        self._order: list[str] = []
        self._queued: dict[str, None] = {}
        self._finished: deque[str] = deque()
        self._changed = threading.Condition()
        self._tokens = 0

    def submit(
        self, payload: bytes, idempotency_key: str | None = None, caller: str = ""
    ) -> Submitted:
        with self._changed:
            self._expire()
            scope = None if idempotency_key is None else idempotency_scope(caller, idempotency_key)
            known = None if scope is None else self._keys.get(scope)
            if known is not None:
                if self._records[known].digest != digest(payload):
                    raise key_reused(str(idempotency_key))
                return Submitted(known, created=False)
            if len(self._queued) >= self.policy.max_queued:
                raise queue_full(self.policy)
            job_id, now = new_job_id(), self._clock()
            self._records[job_id] = _Record(
                Job(job_id, QUEUED, now, 0),
                payload,
                scope,
                digest(payload),
                now + self.policy.queue_seconds,
            )
            if scope is not None:
                self._keys[scope] = job_id
            self._order.append(job_id)
            self._queued[job_id] = None
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
        self._expire()
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
            self._queued.pop(job_id, None)
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
                record.queued_until = self._clock() + self.policy.queue_seconds
                self._queued[record.job.job_id] = None
                self._changed.notify_all()
            else:
                self._finish(record, FAILED, None)
            return True

    def depth(self) -> int:
        with self._changed:
            self._expire()
            return len(self._queued)

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
        self._queued.pop(record.job.job_id, None)
        self._finished.append(record.job.job_id)

    def _expire(self) -> int:
        """Fail the queued jobs past their queue time, delete the finished ones past
        their retention; how many. Each loop ends: every turn removes its front item."""
        now, changed = self._clock(), 0
        while self._queued:
            record = self._records[next(iter(self._queued))]
            if record.queued_until > now:
                break
            record.errors.append(expired_message(self.policy))
            self._finish(record, FAILED, None)
            changed += 1
        while self._finished and self._records[self._finished[0]].expires_at <= now:
            record = self._records.pop(self._finished.popleft())
            if record.key is not None:
                self._keys.pop(record.key, None)
            changed += 1
        return changed
