"""The job store a server or worker uses, from the one Settings object."""

from __future__ import annotations

from servekit.core.release import Release
from servekit.jobs.model import JobPolicy
from servekit.jobs.store import JobStore, open_store
from servekit.settings import Settings

__all__ = ["job_policy", "job_store"]


def job_policy(settings: Settings) -> JobPolicy:
    """The lease, attempt, retention, queue-time and queue-size policy from
    ``SERVEKIT_ASYNC_*``."""
    return JobPolicy(
        lease_seconds=float(settings.async_lease_seconds),
        max_attempts=settings.async_max_attempts,
        retention_seconds=float(settings.async_retention_seconds),
        queue_seconds=float(settings.async_queue_seconds),
        max_queued=settings.async_max_queued,
    )


def job_store(settings: Settings, release: Release) -> JobStore:
    """The store for ``settings``; jobs are kept apart per model name and version, so
    two versions sharing one Redis never run each other's jobs. Opens no connection."""
    return open_store(
        settings.async_store_url,
        job_policy(settings),
        namespace=f"{release.model_name}:{release.model_version}",
    )
