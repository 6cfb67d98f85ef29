"""The job-store seam: one small interface, chosen by URL (``SERVEKIT_ASYNC_STORE``).

Every method may be called from any process sharing the store; a store opens its
connections lazily, so one made before a fork is safe to use after it. Times are Unix
seconds from the store's clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from servekit.errors import ConfigError
from servekit.jobs.model import Job, JobPolicy, Lease, Submitted

__all__ = ["FailedHook", "JobStore", "open_store", "redact_url"]

FailedHook = Callable[[str], None]
"""Called with the id of each job that :meth:`JobStore.lease` fails (its last attempt was
lost), so the caller can count it."""


@runtime_checkable
class JobStore(Protocol):
    """Durable jobs: submit and poll (HTTP side); lease, renew, finish (worker side)."""

    policy: JobPolicy

    def submit(
        self, payload: bytes, idempotency_key: str | None = None, caller: str = ""
    ) -> Submitted:
        """Queue ``payload`` (a validated request body).

        An idempotency key belongs to its ``caller`` (an opaque identity, never a secret):
        while its job is kept, the same caller's key with the same body returns that job's
        id and queues nothing; with another body it raises
        :class:`~servekit.errors.Conflict`. A submission that would queue a job while
        ``policy.max_queued`` already wait raises :class:`~servekit.errors.TooManyRequests`
        (checked and inserted atomically: submissions never push the queue past it).
        Queued jobs past ``policy.queue_seconds`` are failed first, so they free room."""

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is unknown or has expired. A queued job past its
        queue time reads ``failed`` (``EXPIRED``)."""

    def lease(
        self, owner: str, wait_seconds: float, on_failed: FailedHook | None = None
    ) -> Lease | None:
        """Take the next job for ``owner`` (a unique worker name), waiting up to
        ``wait_seconds`` for one. Jobs whose lease ran out are taken again; one that has
        used up its attempts is failed instead (and reported to ``on_failed``)."""

    def renew(self, lease: Lease) -> bool:
        """Extend ``lease`` by the policy's lease time; False when it is no longer held."""

    def succeed(self, lease: Lease, result: bytes) -> bool:
        """Record the result; False (and nothing changes) when the lease was lost."""

    def fail(self, lease: Lease, error: str, retry: bool) -> bool:
        """Record a failed attempt: queue the job again when ``retry`` and attempts are
        left, else fail it. False (and nothing changes) when the lease was lost."""

    def depth(self) -> int:
        """Jobs waiting to be taken (queued, and not yet past their queue time)."""

    def purge(self) -> int:
        """Fail queued jobs past their queue time (``EXPIRED``, input deleted) and delete
        finished jobs past their retention (input and result); how many jobs changed."""

    def close(self) -> None:
        """Release connections."""


def open_store(url: str, policy: JobPolicy, namespace: str = "servekit") -> JobStore:
    """The store for ``url``: ``sqlite:///abs/path.db``, ``redis://host:port/db``
    (``rediss://`` for TLS) or ``memory://`` (one process only: tests).

    ``namespace`` keeps the jobs of different models (and versions) apart in one Redis.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"SERVEKIT_ASYNC_STORE must be a URL such as sqlite:///var/jobs.db or "
            f"redis://host:6379/0, got {url!r}"
        )
    if scheme == "sqlite":
        from servekit.jobs.sqlite import SqliteStore

        if rest.strip("/") == "":
            raise ConfigError(f"SERVEKIT_ASYNC_STORE={url!r} names no database file")
        if not rest.startswith("/"):
            raise ConfigError(
                f"SERVEKIT_ASYNC_STORE={url!r}: give the database's absolute path, "
                f"sqlite:///abs/path/jobs.db"
            )
        return SqliteStore(Path("/" + rest.lstrip("/")), policy, namespace)
    if scheme in ("redis", "rediss", "unix"):
        from servekit.jobs.redis import RedisStore

        return RedisStore(url, policy, namespace)
    if scheme == "memory":
        from servekit.jobs.memory import MemoryStore

        return MemoryStore(policy)
    raise ConfigError(
        f"SERVEKIT_ASYNC_STORE: unknown store {scheme!r}; use sqlite:///path/jobs.db or "
        f"redis://host:port/db"
    )


def redact_url(url: str) -> str:
    """``url`` without its user, password or ``password=`` query parameter (for logs)."""
    return re.sub(r"(password=)[^&]*", r"\1***", re.sub(r"//[^/@]*@", "//***@", url))
