"""Request deadlines: a prediction past the timeout is answered 504 TIMEOUT, on time.

:meth:`Deadline.run` calls the prediction under the deadline:

- in the main thread (uWSGI's default, one thread per worker), a ``SIGALRM`` timer
  interrupts the request's Python code (and a blocking call such as ``time.sleep``);
  code stuck in native code never returns to Python: uWSGI's harakiri, set a little
  later than the deadline, kills that worker;
- in one of several request threads (``--threads``), a signal cannot reach the
  request, so the prediction runs in a helper thread while the request thread waits for it at
  most the deadline; at the deadline the request is answered 504 at once, the helper is
  interrupted where Python can be (an exception raised in it asynchronously), and the
  worker is replaced gracefully, so the other threads' requests finish first. The
  request thread itself never overruns, so harakiri never kills a neighbour's request.

A batched model's requests (``inline``) run in the request's own thread, whatever the
thread: the deadline is left in :data:`servekit.core.deadline.DEADLINE`, and the batcher,
where such a request waits, gives up at it; no helper thread per request.

The interruption is a ``BaseException``, so a model's ``except Exception`` cannot
swallow it; it becomes :class:`~servekit.errors.Timeout`, answered through the one
error envelope. The worker may be left in a bad state, so ``on_expire`` is called to
replace it (under uWSGI: this worker finishes its responses, then exits and is
respawned).
"""

from __future__ import annotations

import contextvars
import ctypes
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import Any, TypeVar

from servekit.core.deadline import DEADLINE
from servekit.errors import DeadlineExpired, Timeout

__all__ = ["Deadline", "Expired"]

T = TypeVar("T")


Expired = DeadlineExpired
"""Raised inside the request's code when its time is up."""


class Deadline:
    """A per-request time limit of ``seconds``; ``on_expire`` runs after one expires."""

    def __init__(
        self,
        seconds: float,
        on_expire: Callable[[], None],
        setting: str = "SERVEKIT_TIMEOUT",
        inline: bool = False,
        arriving: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.seconds = seconds
        self.on_expire = on_expire
        self.setting = setting
        self.inline = inline
        """Run each prediction in the request's thread, the deadline in ``DEADLINE``
        (a batched model: its requests wait in the batcher, which honours it)."""
        self.arriving = arriving
        """Marks each request in hand while it runs (the batcher's
        :meth:`~servekit.batching.batcher.Batcher.arriving`); None: nothing to mark."""
        self._armed = False
        self._handler_installed = False

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` under the deadline; Timeout when it expires."""
        arriving = self.arriving
        if arriving is None:
            return self._run(fn)
        with arriving():
            return self._run(fn)

    def _run(self, fn: Callable[[], T]) -> T:
        if threading.current_thread() is threading.main_thread():
            with self.guard():
                return fn()
        if self.inline:
            return self._run_inline(fn)
        return self._run_beside(fn)

    def _run_inline(self, fn: Callable[[], T]) -> T:
        token = DEADLINE.set(time.monotonic() + self.seconds)
        try:
            return fn()
        except Expired:
            self.on_expire()
            raise self._timeout() from None
        finally:
            DEADLINE.reset(token)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the ``with`` body (in the main thread) under the deadline."""
        disarm = self._arm_alarm()
        try:
            yield
        except Expired:
            self.on_expire()
            raise self._timeout() from None
        finally:
            disarm()

    def _timeout(self) -> Timeout:
        return Timeout(
            f"the prediction ran past the timeout of {self.seconds:g} s ({self.setting})"
        )

    def _arm_alarm(self) -> Callable[[], None]:
        if not self._handler_installed:  # once per process, not per request
            signal.signal(signal.SIGALRM, self._fire)
            self._handler_installed = True
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self._disarm_alarm

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:  # a late alarm after the body finished is ignored
            raise Expired()

    def _disarm_alarm(self) -> None:
        self._armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _run_beside(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a helper thread; give up waiting for it at the deadline."""
        outcome: list[Any] = []
        context = contextvars.copy_context()  # the request id, for the model's logs
        done = threading.Event()
        helper: list[int] = []

        def call() -> None:
            helper.append(threading.get_ident())
            try:
                outcome.append((True, context.run(fn)))
            except BaseException as exc:  # handed to the request thread as it is
                outcome.append((False, exc))
            finally:
                done.set()

        threading.Thread(target=call, name="servekit-prediction", daemon=True).start()
        done.wait(self.seconds)
        if not outcome:
            if helper:  # interrupt it where Python can
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(helper[0]), ctypes.py_object(Expired)
                )
            self.on_expire()
            raise self._timeout()
        ok, value = outcome[0]
        if ok:
            return value  # type: ignore[no-any-return]
        if isinstance(value, Expired):
            self.on_expire()
            raise self._timeout() from None
        raise value
