"""ONNX graphs batched by stacking rows: each request gets exactly its own rows back,
rows of other shapes run in their own group, and graphs that cannot be stacked are not
batched (real onnxruntime sessions on graphs made with onnx's helpers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto

from servekit.core.batching import BatchOptions
from servekit.core.binding import Binder, BoundCall, Call
from servekit.errors import InvalidArguments
from servekit.runtimes import parse_target
from servekit.runtimes.onnx import OnnxOptions, OnnxRuntime
from tests.onnx_models import adder, classifier, identity


def _runtime(path: Path, size: int = 8) -> OnnxRuntime:
    runtime = OnnxRuntime(parse_target(str(path)), OnnxOptions(threads=1, batch=(size, 2.0)))
    runtime.load()
    return runtime


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory) -> OnnxRuntime:
    return _runtime(adder(tmp_path_factory.mktemp("onnx") / "adder.onnx"))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_each_request_gets_its_own_rows(added: OnnxRuntime, rows: list[int], rnd: Any) -> None:
    binder = Binder(added.signature())
    payloads = [[[rnd.uniform(-9, 9) for _ in range(3)] for _ in range(count)] for count in rows]
    calls = [binder.bind(Call("data", {"a": p, "b": p})) for p in payloads]
    answers = added.predict_batch(calls)
    for payload, answer in zip(payloads, answers, strict=True):
        expected = np.asarray(payload, dtype=np.float32).reshape(-1, 3) * 2
        np.testing.assert_array_equal(answer["total"], expected)
        np.testing.assert_array_equal(answer["doubled"], expected * 2)


def test_rows_of_another_shape_run_in_their_own_group(tmp_path: Path) -> None:
    runtime = _runtime(identity(tmp_path / "id.onnx", TensorProto.FLOAT, ["n", "m"]))
    seen: list[tuple[int, ...]] = []
    session_run = runtime._session.run
    runtime._session = type(
        "Spy", (), {"run": lambda _, o, f: seen.append(f["x"].shape) or session_run(o, f)}
    )()
    a, b, c = (np.full((r, m), r * 10 + m, np.float32) for r, m in ((2, 3), (1, 5), (3, 3)))
    answers = runtime.predict_batch([BoundCall((a,), {}), BoundCall((b,), {}), BoundCall((c,), {})])
    assert sorted(seen) == [(1, 5), (5, 3)]  # a and c stacked; b alone
    for sent, answer in zip((a, b, c), answers, strict=True):
        np.testing.assert_array_equal(answer["y"], sent)


def test_a_request_whose_inputs_disagree_on_rows_fails_alone_with_a_422(
    added: OnnxRuntime,
) -> None:
    good = BoundCall((np.ones((1, 3), np.float32), np.ones((1, 3), np.float32)), {})
    bad = BoundCall((np.ones((2, 3), np.float32), np.ones((1, 3), np.float32)), {})
    with pytest.raises(ValueError, match="different numbers of rows"):
        added.predict_batch([good, bad])
    with pytest.raises(InvalidArguments):  # run alone, as the batcher retries it
        added.predict_batch([bad])


def test_only_graphs_that_stack_are_batched(tmp_path: Path) -> None:
    assert _runtime(adder(tmp_path / "a.onnx")).batch_options == BatchOptions(8, 2.0)
    assert _runtime(adder(tmp_path / "b.onnx"), size=1).batch_options is None
    fixed = identity(tmp_path / "f.onnx", TensorProto.FLOAT, [2, 3])
    assert _runtime(fixed).batch_options is None
    assert _runtime(classifier(tmp_path / "c.onnx")).batch_options is None  # a ZipMap output
