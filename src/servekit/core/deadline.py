"""The current request's deadline, for code that waits on the request's behalf.

The transport (:class:`servekit.serving.deadline.Deadline`) sets it when it runs a
prediction in the request's own thread; the batcher reads it, so a request waiting for
its batch gives up at its deadline (raising
:class:`~servekit.errors.DeadlineExpired`, answered 504 by the transport) rather than
waiting for the model. I/O-free.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

__all__ = ["DEADLINE", "time_left"]

DEADLINE: ContextVar[float | None] = ContextVar("servekit_deadline", default=None)
"""When the current request must be answered (``time.monotonic()`` seconds); None:
no deadline is set in this context."""


def time_left() -> float | None:
    """Seconds until the current request's deadline (0 when past it); None without one."""
    until = DEADLINE.get()
    return None if until is None else max(0.0, until - time.monotonic())
