"""The request deadline's inline mode (a batched model's requests): the prediction runs
in the request's own thread with the deadline in ``DEADLINE``; an expiry there is the
request's Timeout, and the request is marked in hand while it runs."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from servekit.core.deadline import DEADLINE, time_left
from servekit.errors import DeadlineExpired, Timeout
from servekit.serving.deadline import Deadline


def _in_thread(fn: Any) -> Any:
    """``fn()`` in a thread that is not the main one (as uWSGI's request threads are)."""
    out: list[Any] = []

    def body() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(10)
    return out[0]


def test_inline_runs_in_the_requests_thread_with_its_deadline() -> None:
    deadline = Deadline(2.0, lambda: None, inline=True)

    def prediction() -> tuple[str, float | None]:
        return threading.current_thread().name, time_left()

    caller, left = _in_thread(lambda: (threading.current_thread().name, deadline.run(prediction)))
    assert left[0] == caller  # no helper thread
    assert left[1] is not None
    assert 1.0 < left[1] <= 2.0
    assert DEADLINE.get() is None  # reset afterwards


def test_an_expiry_inline_is_the_requests_timeout_and_replaces_the_worker() -> None:
    expired: list[bool] = []
    deadline = Deadline(0.5, lambda: expired.append(True), inline=True)

    def waits_in_the_batcher() -> None:
        raise DeadlineExpired()

    answer = _in_thread(lambda: deadline.run(waits_in_the_batcher))
    assert isinstance(answer, Timeout)
    assert "past the timeout of 0.5 s (SERVEKIT_TIMEOUT)" in answer.message
    assert expired == [True]


def test_without_inline_a_thread_still_runs_the_prediction_beside() -> None:
    deadline = Deadline(2.0, lambda: None)
    names = _in_thread(
        lambda: (
            threading.current_thread().name,
            deadline.run(lambda: threading.current_thread().name),
        )
    )
    assert names[1] == "servekit-prediction"
    assert names[0] != names[1]


def test_each_request_is_marked_in_hand_while_it_runs() -> None:
    marks: list[str] = []

    @contextlib.contextmanager
    def arriving() -> Iterator[None]:
        marks.append("in")
        try:
            yield
        finally:
            marks.append("out")

    deadline = Deadline(2.0, lambda: None, inline=True, arriving=arriving)
    assert _in_thread(lambda: deadline.run(lambda: marks.append("run") or "ok")) == "ok"
    with pytest.raises(ValueError, match="bad"):
        deadline.run(lambda: (_ for _ in ()).throw(ValueError("bad")))  # main thread
    assert marks == ["in", "run", "out", "in", "out"]
