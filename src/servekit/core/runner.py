"""How a transport calls the data plane: through a :class:`Runner`, which may put the call
under a deadline (:class:`servekit.serving.deadline.Deadline`) or call it at once
(:func:`call_now`). I/O-free: a protocol and a function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["Runner", "call_now"]

T = TypeVar("T")


class Runner(Protocol):
    """Calls a prediction: ``run(fn)`` returns ``fn()``, under a request deadline or not."""

    def __call__(self, fn: Callable[[], T], /) -> T: ...


def call_now(fn: Callable[[], T], /) -> T:
    """The :class:`Runner` without a deadline (tests, the development server)."""
    return fn()
