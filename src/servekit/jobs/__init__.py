"""Asynchronous predictions: a durable job store and the workers that run its jobs.

A client submits a request (validated against the model's signature first), gets a job
id at once, and polls it. Jobs live in a :class:`~servekit.jobs.store.JobStore`:

- :class:`~servekit.jobs.memory.MemoryStore`: in one process, for unit tests;
- :class:`~servekit.jobs.sqlite.SqliteStore` (``sqlite:///path/jobs.db``): the embedded
  default, safe across the processes of one pod;
- :class:`~servekit.jobs.redis.RedisStore` (``redis://host:port/db``): for many pods.

Workers (:mod:`servekit.jobs.worker`) lease a job, run it through the same
:class:`~servekit.core.dataplane.DataPlane` as the synchronous path, and record its
result. Delivery is at least once: a job whose worker dies is taken again once its
lease runs out, up to ``max_attempts`` times. A store holds at most ``max_queued``
waiting jobs (a submission beyond them is refused, 429), fails a job that waited longer
than ``queue_seconds`` (``EXPIRED``), and keeps each idempotency key per caller, with a
digest of its body (another body is 409). The modules here import no web framework.
"""

from servekit.jobs.model import Job, JobPolicy, Lease, Submitted
from servekit.jobs.store import JobStore, open_store

__all__ = ["Job", "JobPolicy", "JobStore", "Lease", "Submitted", "open_store"]
