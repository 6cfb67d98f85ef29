"""The capture queue with a fake sink: records as the model saw its arguments, sampling,
a full queue and a failing sink counted (never raised to the request), the flush at the
stop, and the observer wired into the data plane for every prediction a codec makes."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import numpy as np
import orjson
import pytest

from servekit import errors
from servekit.capture.recorder import Capture
from servekit.capture.records import encode_record
from servekit.core.binding import BoundCall, Call
from servekit.core.dataplane import DataPlane, Observed
from servekit.core.release import Release
from servekit.protocols.domino import DominoCodec
from servekit.runtimes.function import FunctionRuntime

RELEASE = Release("0", "m", "3")


class Counts:
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def add(self, outcome: str, count: int) -> None:
        self.seen[outcome] = self.seen.get(outcome, 0) + count


class ListSink:
    def __init__(self, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.lines: list[bytes] = []
        self.fail = fail
        self.gate = gate
        self.closed = False

    def write(self, lines: list[bytes]) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise OSError("sink down")
        self.lines.extend(lines)

    def close(self) -> None:
        self.closed = True


@dataclasses.dataclass
class Point:
    x: float
    y: float


def capture(sink: ListSink, **kwargs: Any) -> tuple[Capture, Counts]:
    counts = Counts()
    options = {"sample": 1.0, "capacity": 100, **kwargs}
    found = Capture(lambda: sink, RELEASE, ("a", "b"), counts=counts, **options)
    return found, counts


def records(sink: ListSink) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in sink.lines]


def observed(result: Any = 1, error: errors.ServekitError | None = None) -> Observed:
    return Observed("rid", "v2", BoundCall((np.arange(3), Point(1, 2)), {"c": "x"}), result,
                    error, 0.0123)  # fmt: skip


def test_a_prediction_becomes_one_line_as_the_model_saw_it() -> None:
    sink = ListSink()
    found, counts = capture(sink)
    found.observe(observed({"label": np.float32(0.5)}))
    found.observe(observed(None, errors.ModelError("ValueError: bad")))
    found.close(5)
    first, second = records(sink)
    assert first == {
        "time": first["time"], "event_id": "rid", "model": "m", "version": "3",
        "protocol": "v2", "inputs": {"a": [0, 1, 2], "b": {"x": 1.0, "y": 2.0}, "c": "x"},
        "result": {"label": 0.5}, "status": 200, "model_ms": 12.3,
    }  # fmt: skip
    assert first["time"].endswith("Z")
    assert (second["status"], second["result"], second["error"]) == (500, None, "ValueError: bad")
    assert counts.seen == {"written": 2}
    assert sink.closed


def test_what_json_cannot_hold_is_kept_as_its_repr() -> None:
    line = encode_record({"inputs": {"a": object()}, "result": 1, "event_id": "e"})
    found = orjson.loads(line)
    assert found["result"] == 1
    assert found["inputs"]["unencodable"].startswith("{'a': <object object")


def test_sampling_keeps_the_chosen_fraction() -> None:
    sink = ListSink()
    draws = iter([0.1, 0.9, 0.29, 0.3])
    found, _ = capture(sink, sample=0.3, chance=lambda: next(draws))
    for _ in range(4):
        found.observe(observed())
    found.close(5)
    assert len(sink.lines) == 2


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    gate = threading.Event()
    sink = ListSink(gate=gate)
    found, counts = capture(sink, capacity=3)
    began = time.monotonic()
    kept = [found.record({"i": i}, i, f"e{i}") for i in range(50)]
    assert time.monotonic() - began < 0.5
    # At most 3 queued, and one batch (at most 3 more) in the writer's hands.
    assert kept.count(False) >= 50 - 2 * 3
    gate.set()
    found.close(5)
    assert counts.seen["dropped"] == kept.count(False)
    assert counts.seen["written"] == kept.count(True) == len(sink.lines)
    assert records(sink)[0]["protocol"] == "user"


def test_a_failing_sink_is_counted_never_raised() -> None:
    sink = ListSink(fail=True)
    found, counts = capture(sink)
    for _ in range(5):
        found.observe(observed())
    found.close(5)
    assert counts.seen == {"failed": 5}


def test_the_data_plane_shows_each_codecs_predictions_to_its_observer() -> None:
    def model(a: int, b: int = 2) -> int:
        if a < 0:
            raise ValueError("negative")
        return a + b

    plane = DataPlane(FunctionRuntime(model), RELEASE)
    seen: list[Observed] = []
    plane.observer = seen.append
    codec = DominoCodec(plane)
    codec.predict(b'{"data": {"a": 1}}', "r1")
    with pytest.raises(errors.ModelError):
        codec.predict(b'{"data": {"a": -1}}', "r2")
    with pytest.raises(errors.InvalidArguments):  # refused before the model: no record
        codec.predict(b'{"data": {"a": "x"}}', "r3")
    plane.call(plane.bind(Call("data", {"a": 5})), "r4")  # no protocol: not a prediction
    assert [(o.request_id, o.protocol, o.result, o.bound.kwargs) for o in seen] == [
        ("r1", "domino", 3, {"a": 1}),
        ("r2", "domino", None, {"a": -1}),
    ]
    assert isinstance(seen[1].error, errors.ModelError)


def test_mlflow_scoring_inputs_are_recorded_as_columns_with_their_params() -> None:
    """/invocations hands the model one ScoringInput; capture records its columns by name
    (as the envelope's columns form binds them), not the wrapper object."""
    import pandas as pd

    from servekit.capture.records import prediction_record
    from servekit.runtimes.mlflow.scoring import ScoringInput

    frame = pd.DataFrame({"tenure": [3, 40], "plan": ["basic", "pro"]})
    for data, params, inputs in (
        (frame, {"top": 2}, {"tenure": [3, 40], "plan": ["basic", "pro"], "top": 2}),
        ({"x": np.arange(2)}, None, {"x": [0, 1]}),
        (np.ones((1, 2)), None, {"inputs": [[1.0, 1.0]]}),
    ):
        bound = BoundCall((ScoringInput(data, params),), {})
        observed = Observed("e1", "mlflow", bound, pd.Series([1, 0]), None, 0.001)
        line = encode_record(prediction_record(observed, RELEASE, ("inputs",), 0.0))
        record = orjson.loads(line)
        assert record["inputs"] == inputs
        assert record["result"] == [1, 0]
