"""One attempt at one job: the data plane runs it, the outcome says what to record. I/O-free
but for the store's lease renewal, which :class:`Heartbeat` does from a thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.runner import Runner
from servekit.jobs.model import Lease
from servekit.jobs.store import JobStore
from servekit.protocols.domino import DominoCodec

__all__ = ["Heartbeat", "JobRunner", "Outcome"]

log = logging.getLogger("servekit.jobs")


@dataclass(frozen=True)
class Outcome:
    """What an attempt ended with: a result, or an error and whether to try again.

    ``replace_worker`` is True after a timeout: the worker process may be left in a bad
    state, so it exits once the outcome is recorded (and is started again)."""

    result: bytes | None = None
    error: str = ""
    code: str = ""
    retry: bool = False
    replace_worker: bool = False


@dataclass
class JobRunner:
    """Runs leased jobs through the data plane under ``run_call`` (the job's deadline)."""

    plane: DataPlane
    max_result_bytes: int
    run_call: Runner

    def __post_init__(self) -> None:
        self.codec = DominoCodec(self.plane)  # a job's payload is a Domino request body

    def run(self, lease: Lease) -> Outcome:
        """One attempt; never raises for the model's or the request's errors."""
        prefix = f"attempt {lease.attempt}"
        try:
            result, _ = self.run_call(lambda: self.codec.run(lease.payload, lease.job_id))
            body = self.plane.encode_result(result, lease.job_id)
        except errors.ServekitError as exc:
            # A server-side failure (the model, a timeout) may pass on another try; a
            # request that no longer fits the signature (a new model version) will not.
            return Outcome(
                error=f"{prefix}: {exc.code}: {exc.message}",
                code=exc.code,
                retry=exc.status >= 500,
                replace_worker=isinstance(exc, errors.Timeout),
            )
        if len(body) > self.max_result_bytes:
            return Outcome(
                error=(
                    f"{prefix}: RESULT_TOO_LARGE: the result is {len(body)} bytes, over the "
                    f"asynchronous limit of {self.max_result_bytes} bytes "
                    "(SERVEKIT_ASYNC_MAX_RESULT_BYTES); store large results elsewhere (a "
                    "file, a bucket, a table) and return a reference to them instead"
                ),
                code="RESULT_TOO_LARGE",
            )
        return Outcome(result=body)


class Heartbeat:
    """Renews a lease every third of the lease time while the job runs."""

    def __init__(self, store: JobStore, lease: Lease) -> None:
        self._store = store
        self._lease = lease
        self._done = threading.Event()
        self.lost = False
        """True once a renewal found the lease taken by another worker."""
        self._thread = threading.Thread(target=self._beat, name="servekit-lease", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(5.0)

    def _beat(self) -> None:
        every = max(self._store.policy.lease_seconds / 3.0, 0.05)
        while not self._done.wait(every):
            try:
                if not self._store.renew(self._lease):
                    self.lost = True
                    log.warning(
                        "lost the lease on job %s (attempt %d)",
                        self._lease.job_id,
                        self._lease.attempt,
                        extra={"request_id": self._lease.job_id},
                    )
                    return
            except Exception as exc:  # the store is unreachable: try again next beat
                log.warning("could not renew the lease on job %s: %s", self._lease.job_id, exc)
