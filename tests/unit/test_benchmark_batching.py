"""The ``--batching`` benchmark without servers: each MLP shape is the same as a graph
and in numpy (batched or not), the bodies carry one row of the model's shape, answers are
checked within float tolerance (a neighbour's row is an error), a setting left to
servekit passes no ``--threads``, ``--batching-models`` picks models, and the table,
batch figures and goals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from benchmarks import batching
from benchmarks.__main__ import _batching_models, main
from benchmarks.batching import (
    CLIENTS,
    MODELS,
    SETTINGS,
    WIDE_SETTINGS,
    Setting,
    answer_error,
    batch_figures,
    batching_table,
    expected,
    missed,
    model_body,
    p99_target_ms,
    threads_flags,
)
from benchmarks.models import mlp
from benchmarks.models.mlp import (
    SIZES,
    SMALL,
    WIDE,
    build,
    forward,
    predict,
    predict_batched,
    predict_wide,
    predict_wide_batched,
    rows,
)

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


def test_the_wide_graph_and_its_numpy_twins_compute_the_same_outputs(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    data = rows(3, sizes=WIDE)
    assert data.shape == (3, 1024)
    session = ort.InferenceSession(str(build(tmp_path / "wide.onnx", WIDE)))
    assert session.get_inputs()[0].shape[1] == 1024
    [graph] = session.run(None, {"x": data})
    want = expected(data, WIDE)
    assert want.shape == (3, 10)
    np.testing.assert_allclose(graph, want, rtol=1e-4, atol=1e-4)
    # not the small model's maths on the first 256 inputs, nor the small model's weights
    assert not np.allclose(want, expected(data[:, :256]), rtol=1e-2, atol=1e-2)
    batched = predict_wide_batched([row.tolist() for row in data])
    np.testing.assert_allclose(batched, want, rtol=1e-5, atol=1e-5)
    single = [predict_wide(row.tolist()) for row in data]
    np.testing.assert_allclose(single, want, rtol=1e-5, atol=1e-5)
    assert options_of(predict_wide_batched) is not None
    assert options_of(predict_wide) is None


def test_the_shapes_keep_the_small_default_and_weights_are_made_once_per_shape() -> None:
    assert SIZES == SMALL == (256, 1024, 1024, 10)
    assert WIDE == (1024, 4096, 4096, 10)
    assert [w.shape for w, _ in mlp.weights()] == [(256, 1024), (1024, 1024), (1024, 10)]
    assert mlp.weights() is mlp.weights(SMALL) is mlp.weights(list(SMALL))
    assert [w.shape for w, _ in mlp.weights(WIDE)] == [(1024, 4096), (4096, 4096), (4096, 10)]
    assert mlp.weights(WIDE) is mlp.weights(list(WIDE))
    assert all(w.dtype == np.float32 for w, _ in mlp.weights(WIDE))
    data = rows(2)
    np.testing.assert_array_equal(forward(data), forward(data, SMALL))


def test_nothing_is_made_at_import() -> None:
    """Importing the model file (as servekit's workers do) builds no weights."""
    import subprocess
    import sys

    script = (
        "import benchmarks.models.mlp as m; "
        "assert m._weights.cache_info().currsize == 0, m._weights.cache_info()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=batching.ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_rows_are_seeded_and_exact_in_json() -> None:
    assert np.array_equal(rows(3), rows(3))
    sent = orjson.loads(model_body("numpy", rows(1)[0]))["data"]["x"]
    assert np.array_equal(np.asarray(sent, dtype=np.float32), rows(1)[0])
    wide = rows(1, sizes=WIDE)[0]
    sent = orjson.loads(model_body("numpy-wide", wide))["data"]["x"]
    assert np.array_equal(np.asarray(sent, dtype=np.float32), wide)


def test_the_bodies_carry_one_row_in_each_models_shape() -> None:
    row = rows(1)[0]
    graph = orjson.loads(model_body("onnx", row))
    function = orjson.loads(model_body("numpy", row))
    assert len(graph["data"]["x"]) == 1
    assert len(graph["data"]["x"][0]) == SIZES[0]
    assert len(function["data"]["x"]) == SIZES[0]
    wide = rows(1, sizes=WIDE)[0]
    graph = orjson.loads(model_body("onnx-wide", wide))
    function = orjson.loads(model_body("numpy-wide", wide))
    assert len(graph["data"]["x"]) == 1
    assert len(graph["data"]["x"][0]) == 1024
    assert len(function["data"]["x"]) == 1024


def test_the_models_are_the_two_shapes_each_served_two_ways() -> None:
    assert list(MODELS) == ["onnx", "numpy", "onnx-wide", "numpy-wide"]
    assert {name: (m.kind, m.sizes) for name, m in MODELS.items()} == {
        "onnx": ("onnx", SMALL),
        "numpy": ("numpy", SMALL),
        "onnx-wide": ("onnx", WIDE),
        "numpy-wide": ("numpy", WIDE),
    }
    assert MODELS["onnx-wide"].shape == "1024-4096-4096-10"
    for model in MODELS.values():
        for function in model.functions if model.kind == "numpy" else ():
            assert callable(getattr(mlp, function))
    unbatched, batched = MODELS["numpy-wide"].functions
    assert options_of(getattr(mlp, unbatched)) is None
    assert options_of(getattr(mlp, batched)) is not None


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


def test_wide_answers_are_checked_against_their_own_row() -> None:
    data = rows(2, sizes=WIDE)
    want = expected(data, WIDE)
    assert not np.allclose(want[0], want[1], rtol=1e-4, atol=1e-4)
    graph = orjson.dumps({"result": {"y": [want[0].tolist()]}})
    assert answer_error("onnx-wide", graph, want[0]) == ""
    assert answer_error("numpy-wide", orjson.dumps({"result": want[0].tolist()}), want[0]) == ""
    wrong = orjson.dumps({"result": {"y": [want[1].tolist()]}})
    assert answer_error("onnx-wide", wrong, want[0]).startswith("wrong outputs")
    small = expected(rows(1))[0]  # the small model's answer to another row
    assert answer_error("numpy-wide", orjson.dumps({"result": small.tolist()}), want[0])
    # the graph's envelope is not the function's
    assert answer_error("numpy-wide", graph, want[0]).startswith("unreadable answer")


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


@pytest.mark.parametrize("settings", [SETTINGS, WIDE_SETTINGS])
def test_the_settings_hold_off_as_it_is_off_with_threads_and_on(
    settings: tuple[Setting, ...],
) -> None:
    assert settings[0] == Setting("off")
    assert settings[0].threads == 1
    on = [s for s in settings if s.on]
    assert on
    assert all(s.threads is None or s.threads <= s.max_size for s in on)
    assert any(s.threads is None for s in on)  # servekit's own choice
    assert any(s.threads == 8 for s in on)
    assert any(not s.on and s.threads == 32 for s in settings)
    assert all(
        m.settings is (WIDE_SETTINGS if m.sizes == WIDE else SETTINGS) for m in MODELS.values()
    )


def test_threads_left_to_servekit_pass_no_threads_flag() -> None:
    assert threads_flags(Setting("on 32/5ms", 32, 5.0, None)) == ()
    assert threads_flags(Setting("on 32/2ms 8 threads", 32, 2.0, 8)) == ("--threads", "8")
    assert threads_flags(Setting("off 32 threads", threads=32)) == ("--threads", "32")
    assert threads_flags(Setting("off")) == ("--threads", "1")


def test_servers_start_with_the_settings_flags_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVEKIT_THREADS", "3")
    monkeypatch.delenv("SERVEKIT_BATCH_MAX_SIZE", raising=False)
    seen: list[tuple[tuple[str, ...], dict[str, str | None]]] = []

    def fake_start(*args: Any, **kwargs: Any) -> str:
        keys = ("SERVEKIT_THREADS", "SERVEKIT_BATCH_MAX_SIZE", "SERVEKIT_BATCH_MAX_WAIT_MS")
        seen.append((args[7], {k: os.environ.get(k) for k in keys}))
        return "server"

    monkeypatch.setattr(batching, "start", fake_start)
    batching._start("t.onnx", Setting("on 32/5ms", 32, 5.0, None), 1, "0", b"{}")
    batching._start("t.onnx", Setting("on 32/2ms 8 threads", 32, 2.0, 8), 1, "0", b"{}")
    assert seen[0] == (
        (),
        {
            "SERVEKIT_THREADS": None,
            "SERVEKIT_BATCH_MAX_SIZE": "32",
            "SERVEKIT_BATCH_MAX_WAIT_MS": "5",
        },
    )
    assert seen[1][0] == ("--threads", "8")
    assert os.environ["SERVEKIT_THREADS"] == "3"  # restored
    assert "SERVEKIT_BATCH_MAX_SIZE" not in os.environ


def test_the_threads_run_are_read_from_servekit() -> None:
    """``--print-config`` with the setting's flags and environment (a subprocess)."""
    target = str(batching.ROOT / "benchmarks/models/mlp.py:predict_wide_batched")
    assert batching._threads_run(target, Setting("on 32/2ms 8 threads", 32, 2.0, 8)) == 8
    chosen = batching._threads_run(target, Setting("on 32/5ms", 32, 5.0, None))
    assert isinstance(chosen, int)
    assert chosen >= 1
    unbatched = str(batching.ROOT / "benchmarks/models/mlp.py:predict_wide")
    assert batching._threads_run(unbatched, Setting("off 32 threads", threads=32)) == 32
    assert batching._threads_run(unbatched, Setting("refused", threads=0)) is None


def test_batching_models_picks_a_subset_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_run(*args: Any) -> int:
        raise AssertionError(f"the benchmark would run: {args}")

    monkeypatch.setattr("benchmarks.__main__._batching_only", no_run)
    assert _batching_models(None) == ("onnx", "numpy", "onnx-wide", "numpy-wide")
    assert _batching_models("numpy-wide, onnx-wide") == ("onnx-wide", "numpy-wide")
    assert "unknown wide" in str(_batching_models("onnx,wide"))
    assert isinstance(_batching_models(","), str)
    with pytest.raises(SystemExit):
        main(["--batching", "--batching-models", "onnx,bogus"])
    with pytest.raises(SystemExit):
        main(["--batching-models", "onnx"])


def _row(
    setting: Setting,
    rps: float,
    p99: float = 4.0,
    errors: int = 0,
    model: str = "onnx",
    threads: int | None = None,
) -> dict[str, Any]:
    """A run's row; ``threads``: those servekit said it ran (absent when None)."""
    loop = {"p50_ms": 2.0, "p90_ms": 3.0, "p99_ms": p99, "max_ms": 9.0, "first_error": ""}
    batches = {"batches": 10, "mean_size": 3.0, "model_ms": 0.5, "wait_ms": 1.0}
    row: dict[str, Any] = {
        "model": model,
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
    if threads is not None:
        row["threads"] = threads
    return row


def test_the_table_gives_ratios_to_off_and_the_p99_target() -> None:
    off, threads = Setting("off"), Setting("off 32 threads", threads=32)
    on = Setting("on 32/5ms", 32, 5.0, 32)
    report = {"runs": [_row(off, 1000.0), _row(threads, 1250.0), _row(on, 2500.0, p99=9.0)]}
    lines = batching_table(report).splitlines()
    assert len(lines) == 5
    assert len(lines[0].split("|")) == len(lines[1].split("|")) == len(lines[4].split("|"))
    assert (
        "| onnx | 256-1024-1024-10 | on 32/5ms | 32 | 2500 | 2500 | 2.50x | 2.00x | "
        "2.00/9.00 | 7.50 |"
    ) in lines[4]
    assert "| onnx | 256-1024-1024-10 | off | 1 | 1000 | 1000 | - | - |" in lines[2]
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


def test_the_table_names_each_shape_and_the_threads_servekit_chose() -> None:
    off, threads = Setting("off"), Setting("off 32 threads", threads=32)
    chosen = Setting("on 32/5ms", 32, 5.0, None)
    report = {
        "runs": [
            _row(off, 1000.0),
            _row(off, 300.0, model="onnx-wide"),
            _row(threads, 400.0, model="onnx-wide"),
            _row(chosen, 1200.0, p99=6.0, model="onnx-wide", threads=32),
            _row(chosen, 900.0, p99=6.0, model="onnx-wide"),  # servekit did not say
        ]
    }
    lines = batching_table(report).splitlines()
    assert "| onnx | 256-1024-1024-10 | off | 1 | 1000 |" in lines[2]
    # the wide rows compare with the wide off rows, not the small model's
    assert "| onnx-wide | 1024-4096-4096-10 | off | 1 | 300 | 300 | - | - |" in lines[3]
    assert (
        "| onnx-wide | 1024-4096-4096-10 | on 32/5ms | 32 (default) | 1200 | 1200 | 4.00x | 3.00x |"
    ) in lines[5]
    assert (
        "| onnx-wide | 1024-4096-4096-10 | on 32/5ms | default | 900 | 900 | 3.00x | - |"
    ) in lines[6]
    assert missed(report) == []
