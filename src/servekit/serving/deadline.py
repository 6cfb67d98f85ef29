"""Request deadlines: a prediction past the timeout is answered 504 TIMEOUT.

:class:`Deadline` interrupts the request's Python code when the time is up: with a
``SIGALRM`` timer when the request runs in the main thread (uWSGI's default, one thread
per worker), else by raising an exception asynchronously in the request's thread. The
interruption is a ``BaseException``, so a model's ``except Exception`` cannot swallow
it; at the deadline's edge it becomes :class:`~servekit.errors.Timeout`, answered through
the one error envelope. The worker may be left in a bad state, so ``on_expire`` is
called to replace it (under uWSGI: this worker finishes the response, then exits and is
respawned). Code stuck in native code never returns to Python: uWSGI's harakiri, set a
little later than the deadline, kills that worker.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from servekit.errors import DeadlineExpired, Timeout

__all__ = ["Deadline", "Expired"]


Expired = DeadlineExpired
"""Raised inside the request's code when its time is up."""


class Deadline:
    """A per-request time limit of ``seconds``; ``on_expire`` runs after one expires."""

    def __init__(
        self, seconds: float, on_expire: Callable[[], None], setting: str = "SERVEKIT_TIMEOUT"
    ) -> None:
        self.seconds = seconds
        self.on_expire = on_expire
        self.setting = setting
        self._armed = False
        self._handler_installed = False

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the ``with`` body under the deadline; raise Timeout if it expires."""
        main = threading.current_thread() is threading.main_thread()
        disarm = self._arm_alarm() if main else self._arm_watchdog()
        try:
            yield
        except Expired:
            self.on_expire()
            raise Timeout(
                f"the prediction ran past the timeout of {self.seconds:g} s ({self.setting})"
            ) from None
        finally:
            disarm()

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

    def _arm_watchdog(self) -> Callable[[], None]:
        thread_id = threading.get_ident()
        finished = threading.Event()

        def watch() -> None:
            if not finished.wait(self.seconds):
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread_id), ctypes.py_object(Expired)
                )

        threading.Thread(target=watch, name="servekit-deadline", daemon=True).start()
        return finished.set
