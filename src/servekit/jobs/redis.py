"""The shared job store: one Redis (6.2 or later) for the workers of many pods.

Every key of a store starts with ``servekit:<namespace>:``:

- ``stream``: a Redis Stream with one entry ``{id: <job id>}`` per queued attempt, read
  by the consumer group ``workers`` (made on first use from id ``0``, so entries added
  before it are not skipped). An entry stays in the group's pending list while its
  attempt runs; a worker renews its lease by resetting the entry's idle time (``XCLAIM``).
- ``job:<id>``: a hash with the job's ``state``, ``payload``, ``result``, ``errors`` (a
  JSON array), ``created_at``, ``started_at``, ``completed_at``, ``attempts``, the current
  attempt's ``token`` and ``owner``, its stream ``entry``, its ``idem`` key, the SHA-256
  ``digest`` of its payload and, while queued, ``queued_until``.
- ``idem:<scope>``: the id of the job submitted with an idempotency key; the scope is a
  SHA-256 of the caller's identity and the key.

Delivery is at least once: an entry idle for longer than the lease (its worker died or
stopped renewing) is taken by the next worker (``XAUTOCLAIM``), which records the lost
attempt and runs the job again, or fails it when it has used its attempts. The token
fences each attempt, and each change of a job runs as one Lua script, so a stale worker
changes nothing. A finished job's entry is removed; its hash and idempotency key expire
after the retention (Redis deletes them itself).

The queue's depth is the stream's length (O(1)) less its pending entries (the summary
of ``XPENDING``: O(1) but for its list of consumers with pending entries). A
submission reads it and adds its entry in one script, so concurrent submissions never
queue more than ``max_queued`` jobs. Jobs past their queue time are failed (``EXPIRED``)
from the front of the undelivered entries (those after the group's last delivered id),
a bounded batch at each submission, depth read and purge; a worker handed one fails it
instead of running it, and a read of one fails it first.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import redis

from servekit.errors import ConfigError, StoreUnavailable
from servekit.jobs.model import (
    QUEUED,
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
from servekit.jobs.redis_scripts import SCRIPTS
from servekit.jobs.store import FailedHook, redact_url

__all__ = ["RedisStore"]

T = TypeVar("T")
_GROUP = "workers"
_SLICE_SECONDS = 1.0  # the longest XREADGROUP BLOCK (under the socket timeout, if any)
_TRANSIENT = (
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ClusterDownError,
)
_FIELDS = (
    "state",
    "created_at",
    "attempts",
    "started_at",
    "completed_at",
    "result",
    "errors",
    "queued_until",
)
_EXPIRE_BATCH = 100  # undelivered entries a submission or depth read looks at, at most
_PURGE_ROUNDS = 100  # purge: batches of _EXPIRE_BATCH * 10, at most


class RedisStore:
    """Jobs in the Redis at ``url``, under ``servekit:<namespace>:``; ``clock`` stamps the
    jobs' times (leases and retention are timed by Redis itself)."""

    def __init__(
        self,
        url: str,
        policy: JobPolicy,
        namespace: str = "servekit",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.url = url
        self._clock = clock
        self._prefix = f"servekit:{namespace}:"
        self._stream = self._prefix + "stream"
        self._lease_ms = max(1, int(policy.lease_seconds * 1000))
        self._expired = json.dumps(expired_message(policy))
        self._keep_ms = max(1, int(policy.retention_seconds * 1000))
        self._pid = -1
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._cursor: Any = "0-0"  # where XAUTOCLAIM goes on scanning the pending entries
        self._slice = _SLICE_SECONDS

    def _redis(self) -> Any:
        """This process's client (a fork gets its own), with the consumer group made."""
        if self._client is None or self._pid != os.getpid():
            try:
                client = redis.Redis.from_url(self.url)
            except ValueError as exc:
                raise ConfigError(f"invalid job store URL {redact_url(self.url)}: {exc}") from exc
            self._group(client)
            timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
            self._slice = min(_SLICE_SECONDS, timeout / 2) if timeout else _SLICE_SECONDS
            self._scripts = {name: client.register_script(lua) for name, lua in SCRIPTS.items()}
            self._client, self._pid = client, os.getpid()
        return self._client

    def _group(self, client: Any) -> None:
        try:
            client.xgroup_create(self._stream, _GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _call(self, action: Callable[[Any], T]) -> T:
        """Run ``action(client)``, making the group again if it is gone (the stream was
        deleted); connection failures become :class:`StoreUnavailable` (503)."""
        try:
            try:
                return action(self._redis())
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group(self._redis())
                return action(self._redis())
        except redis.ResponseError as exc:  # a failover, a full or loading server
            if not isinstance(exc, _TRANSIENT) and not str(exc).startswith("BUSY"):
                raise
            raise StoreUnavailable(
                f"the job store {redact_url(self.url)} cannot take this now: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(
                f"cannot reach the job store {redact_url(self.url)}: {exc}"
            ) from exc

    def _run(self, script: str, job_id: str, *args: Any) -> Any:
        keys = [self._prefix + "job:" + job_id, self._stream]
        head = [job_id, repr(self._clock()), self._keep_ms]
        return self._call(lambda r: self._scripts[script](keys=keys, args=[*head, *args]))

    def submit(
        self, payload: bytes, idempotency_key: str | None = None, caller: str = ""
    ) -> Submitted:
        """Queue ``payload``; an idempotency key of ``caller`` whose job is still kept
        returns that job (Conflict for another payload); TooManyRequests when full."""
        job_id = new_job_id()
        keys = [self._prefix + "job:" + job_id, self._stream]
        if idempotency_key is not None:
            keys.append(self._prefix + "idem:" + idempotency_scope(caller, idempotency_key))
        now = self._clock()
        args = [
            *(job_id, repr(now), self._keep_ms, payload, self._prefix + "job:", digest(payload)),
            *(self.policy.max_queued, repr(now + self.policy.queue_seconds), self._expired),
            _EXPIRE_BATCH,
        ]
        outcome, known = self._call(lambda r: self._scripts["submit"](keys=keys, args=args))
        if outcome == b"conflict":
            raise key_reused(str(idempotency_key))
        if outcome == b"full":
            raise queue_full(self.policy)
        return Submitted(known.decode(), created=outcome == b"created")

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is unknown or has expired (a queued one past its
        queue time is failed first)."""
        key = self._prefix + "job:" + job_id
        fields = self._call(lambda r: r.hmget(key, _FIELDS))
        if fields[0] == QUEUED.encode() and fields[7] and float(fields[7]) <= self._clock():
            self._run("expire_one", job_id, self._expired)
            fields = self._call(lambda r: r.hmget(key, _FIELDS))
        state, created, attempts, started, completed, result, errors, _ = fields
        if state is None:
            return None
        return Job(
            job_id,
            state.decode(),
            float(created),
            int(attempts),
            None if started is None else float(started),
            None if completed is None else float(completed),
            result,
            tuple(json.loads(errors)),
        )

    def lease(
        self, owner: str, wait_seconds: float, on_failed: FailedHook | None = None
    ) -> Lease | None:
        """Take a lost attempt's entry (idle past the lease) or else a new one for
        ``owner``, waiting up to ``wait_seconds``; entries of finished, expired or
        exhausted jobs are dropped on the way."""
        deadline = time.monotonic() + wait_seconds
        while True:
            left = deadline - time.monotonic()
            entry = self._call(partial(self._next, owner=owner, left=left))
            if entry is not None:
                found = self._start(owner, *entry, on_failed=on_failed)
                if found is not None:
                    return found
            elif left <= 0:
                return None

    def _next(self, r: Any, owner: str, left: float) -> tuple[str, str] | None:
        """(entry id, job id) of the next entry for ``owner``, or None after a short wait."""
        reply = r.xautoclaim(self._stream, _GROUP, owner, self._lease_ms, self._cursor, count=1)
        self._cursor = reply[0]
        entries = reply[1]
        if not entries:
            block = None if left <= 0 else max(1, int(min(left, self._slice) * 1000))
            read = r.xreadgroup(_GROUP, owner, {self._stream: ">"}, count=1, block=block)
            if not read:
                return None
            # RESP2: [[stream, [entry]]]; RESP3: {stream: [[entry]]}
            entries = next(iter(read.values()))[0] if isinstance(read, dict) else read[0][1]
        entry_id, fields = entries[0]
        if not fields or b"id" not in fields:  # deleted meanwhile (Redis 6.2 returns it)
            r.xack(self._stream, _GROUP, entry_id)
            return None
        return entry_id.decode(), fields[b"id"].decode()

    def _start(
        self, owner: str, entry_id: str, job_id: str, on_failed: FailedHook | None
    ) -> Lease | None:
        """Start an attempt at the job of ``entry_id``; None when the entry was dropped."""
        token, lost_for, message = new_job_id(), -1, ""
        for _ in range(5):
            reply = self._run(
                "start",
                job_id,
                *(entry_id, owner, token, self.policy.max_attempts, lost_for, message),
                self._expired,
            )
            if reply[0] == 0:
                return None
            if reply[0] == 3:  # its last attempt was lost: now failed
                if on_failed is not None:
                    on_failed(job_id)
                return None
            if reply[0] == 1:  # its last attempt was lost: record why, with its number
                lost_for = int(reply[1])
                message = json.dumps(lost_attempt_message(lost_for, self.policy))
                continue
            _, attempt, lost, payload, created = reply
            return Lease(job_id, token, int(attempt), payload, float(created), bool(lost))
        return None

    def renew(self, lease: Lease) -> bool:
        """Reset the idle time of the lease's entry; False when the lease is not held."""
        return bool(self._run("renew", lease.job_id, lease.token))

    def succeed(self, lease: Lease, result: bytes) -> bool:
        """Record the result; False (and nothing changes) when the lease was lost."""
        return bool(self._run("succeed", lease.job_id, lease.token, result))

    def fail(self, lease: Lease, error: str, retry: bool) -> bool:
        """Record a failed attempt, queueing the job again (a new stream entry) when
        ``retry`` and attempts are left; False when the lease was lost."""
        args = (json.dumps(error), "1" if retry else "0", self.policy.max_attempts)
        until = repr(self._clock() + self.policy.queue_seconds)
        return bool(self._run("fail", lease.job_id, lease.token, *args, until))

    def depth(self) -> int:
        """Entries not yet delivered to a worker: the stream's length less its pending
        (after failing a batch of those past their queue time)."""
        prefix = self._prefix + "job:"
        waiting = self._run("depth", "", prefix, self._expired, _EXPIRE_BATCH)
        return max(0, int(waiting))

    def purge(self) -> int:
        """Fail the queued jobs past their queue time (Redis deletes finished jobs itself
        when they expire); how many were failed."""
        batch, failed = _EXPIRE_BATCH * 10, 0
        for _ in range(_PURGE_ROUNDS):
            done = int(self._run("expire", "", self._prefix + "job:", self._expired, batch))
            failed += done
            if done < batch:
                break
        return failed

    def close(self) -> None:
        """Close this process's connections (they reopen when the store is used again)."""
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()
