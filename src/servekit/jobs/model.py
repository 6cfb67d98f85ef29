"""What a job store holds and hands out: small frozen records, and the rules every store
applies the same way (idempotency scopes, refusals, expiry). I/O-free."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from servekit.errors import Conflict, TooManyRequests

__all__ = [
    "FAILED",
    "QUEUED",
    "RETRY_AFTER_SECONDS",
    "RUNNING",
    "SUCCEEDED",
    "TERMINAL",
    "Job",
    "JobPolicy",
    "Lease",
    "Submitted",
    "digest",
    "expired_message",
    "idempotency_scope",
    "key_reused",
    "lost_attempt_message",
    "new_job_id",
    "queue_full",
]

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TERMINAL = frozenset({SUCCEEDED, FAILED})
RETRY_AFTER_SECONDS = 10
"""``Retry-After`` of a submission refused because the queue is full. A store cannot know
how fast its queue drains; 10 s keeps a client that obeys it from hammering a full queue
while a queue that drains in seconds is not left idle for long."""


def lost_attempt_message(attempt: int, policy: JobPolicy) -> str:
    """The error recorded for an attempt whose worker stopped renewing its lease."""
    return (
        f"attempt {attempt}: the worker was lost (its lease of {policy.lease_seconds:g} s "
        "ran out before it finished)"
    )


def expired_message(policy: JobPolicy) -> str:
    """The error recorded for a job no worker took within the policy's queue time."""
    return (
        f"EXPIRED: no worker took the job within {policy.queue_seconds:g} s of its queueing "
        "(SERVEKIT_ASYNC_QUEUE_SECONDS); its input was deleted: submit it again, with a "
        "new Idempotency-Key if it had one"
    )


def queue_full(policy: JobPolicy) -> TooManyRequests:
    """The refusal of a submission when ``policy.max_queued`` jobs already wait."""
    return TooManyRequests(
        f"the asynchronous queue is full: {policy.max_queued} jobs are waiting for a worker "
        f"(SERVEKIT_ASYNC_MAX_QUEUED); try again in {RETRY_AFTER_SECONDS} s",
        retry_after=RETRY_AFTER_SECONDS,
    )


def key_reused(key: str) -> Conflict:
    """The refusal of a known idempotency key sent (by the same caller) with another body."""
    return Conflict(
        f"the Idempotency-Key {key!r} was already used for another request (a different "
        "body) while its job is kept; send a new key for a new request"
    )


def idempotency_scope(caller: str, key: str) -> str:
    """What a store keeps for an idempotency key: a SHA-256 of the caller's identity and
    the key, so that the same key from another caller names another job."""
    return hashlib.sha256(f"{len(caller)}:{caller}:{key}".encode()).hexdigest()


def digest(payload: bytes) -> str:
    """The SHA-256 (hex) of a request body, kept with its idempotency key."""
    return hashlib.sha256(payload).hexdigest()


def new_job_id() -> str:
    """A new random job id: 32 hex digits."""
    return os.urandom(16).hex()


@dataclass(frozen=True)
class JobPolicy:
    """How a store treats its jobs. Every process using one store should agree."""

    lease_seconds: float = 30.0
    """A running job whose worker has not renewed its lease for this long is taken again."""
    max_attempts: int = 3
    """Attempts before a job is ``failed`` (a lost worker counts as an attempt)."""
    retention_seconds: float = 1800.0
    """How long a finished job (and its result) is kept; then it is deleted."""
    queue_seconds: float = 1800.0
    """How long a job may wait in the queue (since it was queued, or queued again after a
    failed attempt) before it is failed with an ``EXPIRED`` error and its input deleted."""
    max_queued: int = 1000
    """Queued jobs a store holds at most: a submission beyond it is refused
    (:class:`~servekit.errors.TooManyRequests`). Retries of accepted jobs are not refused."""


@dataclass(frozen=True)
class Submitted:
    """The answer to a submission: the job's id, and False when an idempotency key
    matched an earlier job (nothing new was queued)."""

    job_id: str
    created: bool


@dataclass(frozen=True)
class Job:
    """A job as a client may see it. ``state`` is one of queued, running, succeeded,
    failed; ``result`` is the model's result as JSON bytes (succeeded only); ``errors``
    holds one message per failed attempt."""

    job_id: str
    state: str
    created_at: float
    attempts: int
    started_at: float | None = None
    completed_at: float | None = None
    result: bytes | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lease:
    """One attempt at a job, held by one worker until it succeeds, fails or expires.

    ``token`` fences the attempt: a store accepts a result only from the lease that is
    current, so a worker that lost its lease cannot overwrite a newer attempt's result.
    ``redelivered`` is True when an earlier attempt's worker was lost.
    """

    job_id: str
    token: str
    attempt: int
    payload: bytes
    created_at: float
    redelivered: bool = False
