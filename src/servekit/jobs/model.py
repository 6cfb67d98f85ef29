"""What a job store holds and hands out: small frozen records. I/O-free."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "FAILED",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "TERMINAL",
    "Job",
    "JobPolicy",
    "Lease",
    "Submitted",
    "lost_attempt_message",
    "new_job_id",
]

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TERMINAL = frozenset({SUCCEEDED, FAILED})


def lost_attempt_message(attempt: int, policy: JobPolicy) -> str:
    """The error recorded for an attempt whose worker stopped renewing its lease."""
    return (
        f"attempt {attempt}: the worker was lost (its lease of {policy.lease_seconds:g} s "
        "ran out before it finished)"
    )


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
