"""The asynchronous API's logic, for any transport: submit a request, read a job.

:class:`AsyncPredictions` validates a request against the model's signature *before*
queueing it (a bad request is a 400/422 at once, not a failed job later), queues the
body as it came, and renders a job as Domino's asynchronous API does. I/O-free but for
the store it is given.

The store refuses a submission when its queue is full (429 TOO_MANY_REQUESTS with
``Retry-After``) and when the caller reuses an idempotency key for another body (409
CONFLICT). Keys are scoped to the caller: :func:`caller_identity` of the request's
``Authorization`` header (a digest; the token itself is never stored).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.jobs.model import RUNNING, SUCCEEDED, Job
from servekit.jobs.store import JobStore
from servekit.metrics.jobs import JobMetrics
from servekit.protocols.domino import DominoCodec

__all__ = ["AsyncPredictions", "caller_identity", "public_status"]

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def public_status(state: str) -> str:
    """Domino's ``status``: ``queued`` (a running job too), ``succeeded`` or ``failed``.
    Domino's client treats anything but ``queued`` as finished."""
    return "queued" if state == RUNNING else state


def caller_identity(authorization: str | None) -> str:
    """Whom an idempotency key belongs to: the SHA-256 (hex) of the ``Authorization``
    header's value, or ``""`` without one. Another token (or the same token sent another
    way, Bearer or Basic) is another caller."""
    if authorization is None:
        return ""
    return hashlib.sha256(authorization.encode("utf-8", "surrogateescape")).hexdigest()


def _when(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AsyncPredictions:
    """Submits validated requests to ``store`` and reads jobs back."""

    plane: DataPlane
    store: JobStore
    max_body_bytes: int
    metrics: JobMetrics

    def __post_init__(self) -> None:
        self.codec = DominoCodec(self.plane)  # jobs hold Domino request bodies

    def check_length(self, length: int) -> None:
        """PayloadTooLarge for a body over the asynchronous limit (before reading it)."""
        if length > self.max_body_bytes:
            raise errors.PayloadTooLarge(
                f"the request body is {length} bytes, over the asynchronous limit of "
                f"{self.max_body_bytes} bytes (SERVEKIT_ASYNC_MAX_BODY_BYTES); send a "
                "reference to large inputs (a URL or object key) instead"
            )

    def submit(
        self, body: bytes, idempotency_key: str | None, request_id: str, caller: str = ""
    ) -> bytes:
        """Validate and queue ``body`` for ``caller`` (see :func:`caller_identity`); the
        ``{"asyncPredictionId"}`` answer as JSON. TooManyRequests when the queue is full,
        Conflict when the caller's key was used for another body."""
        self.check_length(len(body))
        if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
            raise errors.BadRequest(
                "the Idempotency-Key header must be 1 to 255 printable ASCII characters "
                "without spaces"
            )
        self.codec.bind(body)  # 400 / 422 now, with every problem and its path
        submitted = self.store.submit(body, idempotency_key, caller)
        if submitted.created:
            self.metrics.submitted.inc()
        return orjson.dumps({"asyncPredictionId": submitted.job_id, "request_id": request_id})

    def status(self, job_id: str) -> bytes:
        """The job's status document as JSON; NotFound for an unknown or expired id."""
        job = self.store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            raise errors.NotFound(
                f"no asynchronous prediction {job_id!r}: the id is unknown, or its result "
                "has expired (finished jobs are kept SERVEKIT_ASYNC_RETENTION_SECONDS)"
            )
        return orjson.dumps(render(job))


def render(job: Job) -> dict[str, Any]:
    """A job as Domino's asynchronous API shows it (``phase`` tells queued from running)."""
    document: dict[str, Any] = {
        "asyncPredictionId": job.job_id,
        "status": public_status(job.state),
        "phase": job.state,
        "createdAt": _when(job.created_at),
        "attempts": job.attempts,
    }
    if job.started_at is not None:
        document["startedAt"] = _when(job.started_at)
    if job.completed_at is not None:
        document["completedAt"] = _when(job.completed_at)
    if job.state == SUCCEEDED and job.result is not None:
        document["result"] = orjson.Fragment(job.result)
    if job.state != SUCCEEDED and job.errors:
        document["errors"] = list(job.errors)
    return document
