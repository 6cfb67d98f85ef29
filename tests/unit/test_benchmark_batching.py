"""The ``--batching`` benchmark without servers: the MLP is the same as a graph and in
numpy (batched or not), the bodies carry one row, answers are checked within float
tolerance (a neighbour's row is an error), and the table, batch figures and goals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from benchmarks.batching import (
    CLIENTS,
    SETTINGS,
    Setting,
    answer_error,
    batch_figures,
    batching_table,
    expected,
    missed,
    model_body,
    p99_target_ms,
)
from benchmarks.models.mlp import SIZES, build, predict, predict_batched, rows

from servekit.core.batching import options_of


def test_the_graph_and_the_numpy_twins_compute_the_same_outputs(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    data = rows(5)
    assert data.shape == (5, SIZES[0])
    assert data.dtype == np.float32
    session = ort.InferenceSession(str(build(tmp_path / "mlp.onnx")))
    [graph] = session.run(None, {"x": data})
    want = expected(data)
    assert want.shape == (5, SIZES[-1])
    np.testing.assert_allclose(graph, want, rtol=1e-4, atol=1e-4)
    batched = predict_batched([row.tolist() for row in data])
    np.testing.assert_allclose(batched, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose([predict(row.tolist()) for row in data], want, rtol=1e-5, atol=1e-5)
    assert options_of(predict_batched) is not None
    assert options_of(predict) is None
    input_dim = session.get_inputs()[0].shape[0]
    assert isinstance(input_dim, str)  # dynamic: servekit can stack rows


def test_rows_are_seeded_and_exact_in_json() -> None:
    assert np.array_equal(rows(3), rows(3))
    sent = orjson.loads(model_body("numpy", rows(1)[0]))["data"]["x"]
    assert np.array_equal(np.asarray(sent, dtype=np.float32), rows(1)[0])


def test_the_bodies_carry_one_row_in_each_models_shape() -> None:
    row = rows(1)[0]
    graph = orjson.loads(model_body("onnx", row))
    function = orjson.loads(model_body("numpy", row))
    assert len(graph["data"]["x"]) == 1
    assert len(graph["data"]["x"][0]) == SIZES[0]
    assert len(function["data"]["x"]) == SIZES[0]


def test_answers_are_checked_against_their_own_row() -> None:
    data = rows(2)
    want = expected(data)
    near = (want[0] + 1e-6).tolist()
    assert answer_error("numpy", orjson.dumps({"result": near}), want[0]) == ""
    assert answer_error("onnx", orjson.dumps({"result": {"y": [near]}}), want[0]) == ""
    other = orjson.dumps({"result": want[1].tolist()})
    assert answer_error("numpy", other, want[0]).startswith("wrong outputs")
    assert answer_error("numpy", orjson.dumps({"result": near[:9]}), want[0])
    assert answer_error("onnx", b'{"error": {}}', want[0]).startswith("unreadable answer")
    assert answer_error("numpy", b"not json", want[0]).startswith("unreadable answer")


def test_batch_figures_are_the_differences_between_two_scrapes() -> None:
    before = {
        "servekit_batch_size_sum": 10.0,
        "servekit_batch_size_count": 5.0,
        "servekit_batch_model_seconds_sum": 0.01,
        "servekit_batch_wait_seconds_sum": 0.0,
    }
    after = {
        "servekit_batch_size_sum": 110.0,
        "servekit_batch_size_count": 9.0,
        "servekit_batch_model_seconds_sum": 0.014,
        "servekit_batch_wait_seconds_sum": 0.008,
    }
    assert batch_figures(before, after) == {
        "batches": 4,
        "mean_size": 25.0,
        "model_ms": 1.0,
        "wait_ms": 2.0,
    }
    assert batch_figures(after, after)["mean_size"] == 0.0


def test_the_settings_hold_off_as_it_is_off_with_threads_and_on() -> None:
    assert SETTINGS[0] == Setting("off")
    on = [s for s in SETTINGS if s.on]
    assert on
    assert all(s.threads <= s.max_size for s in on)
    assert any(s.threads == s.max_size for s in on)  # servekit's own choice
    assert any(not s.on and s.threads == on[0].threads for s in SETTINGS)


def _row(setting: Setting, rps: float, p99: float = 4.0, errors: int = 0) -> dict[str, Any]:
    loop = {"p50_ms": 2.0, "p90_ms": 3.0, "p99_ms": p99, "max_ms": 9.0, "first_error": ""}
    batches = {"batches": 10, "mean_size": 3.0, "model_ms": 0.5, "wait_ms": 1.0}
    row: dict[str, Any] = {
        "model": "onnx",
        "name": setting.name,
        "setting": {
            "name": setting.name,
            "max_size": setting.max_size,
            "max_wait_ms": setting.max_wait_ms,
            "threads": setting.threads,
        },
        "open_100": {**loop, "errors": errors},
        "open_500": {**loop, "errors": 0},
        "batches_open_100": batches,
        "batches_open_500": batches,
    }
    for clients in CLIENTS:
        row[f"closed_{clients}"] = {"requests_per_second": rps, "errors": 0}
        row[f"batches_closed_{clients}"] = batches
    return row


def test_the_table_gives_ratios_to_off_and_the_p99_target() -> None:
    off, threads = Setting("off"), Setting("off 32 threads", threads=32)
    on = Setting("on 32/5ms", 32, 5.0, 32)
    report = {"runs": [_row(off, 1000.0), _row(threads, 1250.0), _row(on, 2500.0, p99=9.0)]}
    lines = batching_table(report).splitlines()
    assert len(lines) == 5
    assert "| onnx | on 32/5ms | 2500 | 2500 | 2.50x | 2.00x | 2.00/9.00 | 7.50 |" in lines[4]
    assert "| onnx | off | 1000 | 1000 | - | - |" in lines[2]
    assert p99_target_ms(report["runs"][2]) == 7.5
    assert p99_target_ms(report["runs"][0]) is None
    assert missed(report) == ["onnx on 32/5ms: p99 at 100 req/s 9.00 ms > target 7.50 ms"]


def test_missed_goals_name_saturation_under_2x_and_errors() -> None:
    off, on = Setting("off"), Setting("on 32/2ms", 32, 2.0, 32)
    report = {"runs": [_row(off, 1000.0), _row(on, 1500.0, p99=3.0, errors=2)]}
    found = missed(report)
    assert found[0].startswith("onnx on 32/2ms: 2 errors")
    assert "saturation with 32 clients 1.50x off's (goal 2.0x)" in found[1]
    assert "saturation with 64 clients 1.50x off's (goal 2.0x)" in found[2]
    assert len(found) == 3
