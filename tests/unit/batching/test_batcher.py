"""The batcher with real threads and a fake batched model: every request gets its own
row's answer, batches form up to max_size within max_wait, a poisoned row fails alone,
a wrong-length result fails its whole batch and never misroutes."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servekit.batching.batcher import Batcher
from servekit.core.batching import BatchOptions
from servekit.core.binding import BoundCall
from servekit.errors import BatchMismatch


class Model:
    """Doubles each row's x, tagging it with its own tag; records each batch."""

    def __init__(self, poison: str = "", short: bool = False, delay: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.poison = poison
        self.short = short
        self.delay = delay

    def __call__(self, calls: Sequence[BoundCall]) -> list[Any]:
        tags = [c.kwargs["tag"] for c in calls]
        self.batches.append(tags)
        time.sleep(self.delay)
        if self.poison in tags:
            raise ValueError(f"poisoned by {self.poison}")
        out = [(c.kwargs["tag"], c.kwargs["x"] * 2) for c in calls]
        return out[:-1] if self.short and len(out) > 1 else out


def _concurrently(batcher: Batcher, rows: list[tuple[str, int]]) -> dict[str, Any]:
    """Submit every row from its own thread, all released at once; each row's outcome."""
    outcomes: dict[str, Any] = {}
    start = threading.Barrier(len(rows))

    def one(tag: str, x: int) -> None:
        start.wait(timeout=10)
        try:
            outcomes[tag] = batcher.submit(BoundCall((), {"tag": tag, "x": x}))
        except Exception as exc:
            outcomes[tag] = exc

    threads = [threading.Thread(target=one, args=row) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a request never got its answer"
    return outcomes


@settings(max_examples=25, deadline=None)
@given(
    xs=st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=24),
    max_size=st.integers(1, 8),
)
def test_every_request_gets_its_own_rows_answer(xs: list[int], max_size: int) -> None:
    model = Model()
    batcher = Batcher(model, BatchOptions(max_size, 20), capacity=64)
    rows = [(f"r{i}", x) for i, x in enumerate(xs)]
    outcomes = _concurrently(batcher, rows)
    assert outcomes == {tag: (tag, x * 2) for tag, x in rows}
    assert all(len(b) <= max_size for b in model.batches)
    assert sorted(t for b in model.batches for t in b) == sorted(outcomes)


def test_concurrent_requests_meet_in_one_call() -> None:
    seen: list[tuple[int, float, float]] = []
    model = Model()
    batcher = Batcher(model, BatchOptions(8, 200), capacity=8, on_batch=lambda *a: seen.append(a))
    _concurrently(batcher, [(f"r{i}", i) for i in range(8)])
    assert [len(b) for b in model.batches] == [8]  # all 8 arrived within 200 ms: one call
    ((size, waited, _),) = seen
    assert size == 8
    assert waited < 0.2


def test_a_lone_request_waits_at_most_max_wait_and_none_with_capacity_one() -> None:
    model = Model()
    waiting = Batcher(model, BatchOptions(8, 50), capacity=8)
    started = time.monotonic()
    assert waiting.submit(BoundCall((), {"tag": "a", "x": 1})) == ("a", 2)
    assert 0.04 <= time.monotonic() - started < 1.0
    alone = Batcher(model, BatchOptions(8, 5000), capacity=1)  # nobody else can come
    started = time.monotonic()
    assert alone.submit(BoundCall((), {"tag": "b", "x": 1})) == ("b", 2)
    assert time.monotonic() - started < 1.0


def test_a_poisoned_row_fails_alone() -> None:
    model = Model(poison="r3")
    batcher = Batcher(model, BatchOptions(8, 200), capacity=8)
    outcomes = _concurrently(batcher, [(f"r{i}", i) for i in range(6)])
    assert isinstance(outcomes.pop("r3"), ValueError)
    assert outcomes == {f"r{i}": (f"r{i}", i * 2) for i in range(6) if i != 3}
    assert len(model.batches[0]) > 1  # the batch ran first, then each row alone


def test_a_wrong_length_fails_the_whole_batch_without_misrouting() -> None:
    model = Model(short=True)
    batcher = Batcher(model, BatchOptions(4, 200), capacity=4)
    outcomes = _concurrently(batcher, [(f"r{i}", i) for i in range(4)])
    assert all(isinstance(o, BatchMismatch) for o in outcomes.values()), outcomes
    assert len(model.batches) == 1  # not retried row by row: the rows are not at fault


def test_a_failing_metrics_observer_never_stops_the_batcher() -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("metrics down")

    batcher = Batcher(Model(), BatchOptions(2, 1), capacity=2, on_batch=broken)
    for i in range(3):
        assert batcher.submit(BoundCall((), {"tag": "t", "x": i})) == ("t", 2 * i)


def test_unresolved_options_are_refused() -> None:
    with pytest.raises(ValueError, match="resolved options"):
        Batcher(Model(), BatchOptions(None, 5), capacity=2)


def test_a_requests_many_calls_join_one_batch_and_keep_their_order() -> None:
    """KServe V1's instances of one request: one wait, one call, each its own result."""
    model = Model(poison="r2")
    batcher = Batcher(model, BatchOptions(8, 300), capacity=8)
    started = time.monotonic()
    outcomes = batcher.submit_many([BoundCall((), {"tag": f"r{i}", "x": i}) for i in range(5)])
    assert time.monotonic() - started < 0.9  # not 5 waits of 300 ms
    assert model.batches[0] == [f"r{i}" for i in range(5)]
    assert [r for r, e in outcomes if e is None] == [(f"r{i}", 2 * i) for i in (0, 1, 3, 4)]
    assert isinstance(outcomes[2][1], ValueError)


def _in_hand(batcher: Batcher, tag: str, entered: threading.Event, go: threading.Event) -> Any:
    """A tracked request: in hand (``entered``), it joins the queue once ``go`` is set."""
    with batcher.arriving():
        entered.set()
        go.wait(10)
        return batcher.submit(BoundCall((), {"tag": tag, "x": 1}))


def test_a_tracked_lone_request_is_sent_at_once() -> None:
    model = Model()
    batcher = Batcher(model, BatchOptions(8, 10_000), capacity=8)
    began = time.monotonic()
    with batcher.arriving():
        assert batcher.submit(BoundCall((), {"tag": "alone", "x": 1})) == ("alone", 2)
    assert time.monotonic() - began < 5  # not the 10 s max_wait
    assert model.batches == [["alone"]]


def test_a_tracked_batch_waits_for_the_requests_in_hand_and_no_others() -> None:
    model = Model()
    batcher = Batcher(model, BatchOptions(8, 10_000), capacity=8)
    entered, go, result = threading.Event(), threading.Event(), []
    late = threading.Thread(target=lambda: result.append(_in_hand(batcher, "late", entered, go)))
    late.start()
    assert entered.wait(10)
    answers: list[Any] = []
    now = threading.Event()
    now.set()
    first = threading.Thread(
        target=lambda: answers.append(_in_hand(batcher, "first", threading.Event(), now))
    )
    go_first = time.monotonic()
    first.start()
    time.sleep(0.3)  # "first" could go alone, but "late" is in hand: the batch waits
    assert model.batches == []
    go.set()
    first.join(10)
    late.join(10)
    assert sorted(model.batches[0]) == ["first", "late"]
    assert answers == [("first", 2)]
    assert result == [("late", 2)]
    assert time.monotonic() - go_first < 5


def test_a_request_in_hand_that_never_joins_releases_the_wait() -> None:
    model = Model()
    batcher = Batcher(model, BatchOptions(8, 10_000), capacity=8)
    leave = threading.Event()

    def refused() -> None:  # in hand, then answered 422: it never joins the queue
        with batcher.arriving():
            leave.wait(10)

    other = threading.Thread(target=refused)
    other.start()
    time.sleep(0.1)
    threading.Timer(0.3, leave.set).start()
    began = time.monotonic()
    with batcher.arriving():
        assert batcher.submit(BoundCall((), {"tag": "mine", "x": 2})) == ("mine", 4)
    assert 0.2 < time.monotonic() - began < 5
    other.join(10)
    assert model.batches == [["mine"]]


def test_a_request_past_its_deadline_leaves_the_queue() -> None:
    from servekit.core.deadline import DEADLINE
    from servekit.errors import DeadlineExpired

    release = threading.Event()

    class Blocking(Model):
        def __call__(self, calls: Sequence[BoundCall]) -> list[Any]:
            release.wait(10)
            return super().__call__(calls)

    model = Blocking()
    batcher = Batcher(model, BatchOptions(1, 0), capacity=1)
    first = threading.Thread(target=batcher.submit, args=(BoundCall((), {"tag": "a", "x": 1}),))
    first.start()
    time.sleep(0.1)  # "a" holds the model
    token = DEADLINE.set(time.monotonic() + 0.2)
    try:
        with pytest.raises(DeadlineExpired):
            batcher.submit(BoundCall((), {"tag": "b", "x": 1}))
        with pytest.raises(DeadlineExpired):  # a request's many calls leave together
            batcher.submit_many([BoundCall((), {"tag": t, "x": 1}) for t in ("d", "e")])
    finally:
        DEADLINE.reset(token)
    release.set()
    first.join(10)
    assert batcher.submit(BoundCall((), {"tag": "c", "x": 1})) == ("c", 2)
    assert model.batches == [["a"], ["c"]]  # "b", "d" and "e" never reached the model
