"""Batched models' rules: the decorator, one row's signature, gathering requests into
one call and scattering its result; the Python runtime serving a batched function; and
finding the mark in the source before uWSGI starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import servekit
from servekit.core.batching import BatchOptions, gather, options_of, row_signature, scatter
from servekit.core.binding import Binder, Call
from servekit.core.signature import Signature
from servekit.errors import BatchMismatch, InvalidArguments, LoadError
from servekit.runtimes import parse_target
from servekit.runtimes.batched import batch_size
from servekit.runtimes.python import PythonRuntime
from servekit.settings import Settings


@servekit.batch(max_size=4, max_wait_ms=1)
def scaled(x: list[float], scale: list[float] = 2.0) -> list[float]:  # type: ignore[assignment]
    return [a * b for a, b in zip(x, scale, strict=True)]


def test_the_decorator_marks_and_returns_the_function() -> None:
    assert options_of(scaled) == BatchOptions(4, 1)
    assert scaled([1.0], [3.0]) == [3.0]

    @servekit.batch
    def bare(x: list[int]) -> list[int]:
        return x

    assert options_of(bare) == BatchOptions(None, None)
    assert options_of(lambda x: x) is None
    with pytest.raises(ValueError, match="max_size must be an integer >= 1"):
        servekit.batch(max_size=0)
    with pytest.raises(ValueError, match="max_wait_ms must be >= 0"):
        servekit.batch(max_wait_ms=-1)


def test_code_wins_over_the_settings_which_win_over_the_defaults() -> None:
    assert BatchOptions(4, 1).resolved(64, 9) == BatchOptions(4, 1)
    assert BatchOptions().resolved(64, 9) == BatchOptions(64, 9)
    assert BatchOptions().resolved(0, -1) == BatchOptions(32, 5.0)


def test_each_request_is_bound_as_one_row() -> None:
    row = row_signature(Signature.from_callable(scaled), "m")
    binder = Binder(row)
    bound = binder.bind(Call("data", {"x": 3}))
    assert gather([bound], row.params) == {"x": [3.0], "scale": [2.0]}
    with pytest.raises(InvalidArguments) as caught:
        binder.bind(Call("data", {"x": "three"}))
    assert caught.value.problems[0].path == "data.x"
    positional = binder.bind(Call("parameters", [1, 5]))
    assert gather([bound, positional], row.params) == {"x": [3.0, 1.0], "scale": [2.0, 5.0]}


def test_a_batched_function_takes_named_parameters_and_warns_on_non_lists() -> None:
    def loose(x: int, *rest: Any) -> list[int]:
        return [x]

    with pytest.raises(ValueError, match="named parameters only"):
        row_signature(Signature.from_callable(loose), "m.py:loose")

    def plain(x: int) -> list[int]:
        return [x]

    row = row_signature(Signature.from_callable(plain), "m.py:plain")
    assert "not list[...]" in row.warnings[0]


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ([1, 2], "returned 2 results for 3 requests"),
        ({"a": 1}, "returned a dict, not a list"),
        ("abc", "returned a str, not a list"),
        (7, "returned a int, not a list"),
    ],
)
def test_a_result_that_is_not_one_per_request_is_refused(result: Any, match: str) -> None:
    with pytest.raises(BatchMismatch, match=match):
        scatter(result, 3, "m.py:f")
    assert scatter((1, 2, 3), 3, "m") == [1, 2, 3]


def test_the_python_runtime_serves_a_batched_function(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import servekit\n\n"
        "class Model:\n"
        "    def load(self):\n"
        "        self.calls = 0\n\n"
        "    @servekit.batch(max_wait_ms=3)\n"
        "    def predict(self, x: list[int], tag: list[str]) -> list[str]:\n"
        "        self.calls += 1\n"
        "        return [f'{t}:{v * 10}' for v, t in zip(x, tag)]\n"
    )
    runtime = PythonRuntime(parse_target("m.py:Model", str(tmp_path)), tmp_path, batching=(8, -1))
    runtime.load()
    assert runtime.batch_options == BatchOptions(8, 3)
    binder = Binder(runtime.signature())
    calls = [binder.bind(Call("data", {"x": i, "tag": f"t{i}"})) for i in range(3)]
    assert runtime.predict_batch(calls) == ["t0:0", "t1:10", "t2:20"]
    assert runtime.instance.calls == 1
    assert runtime.predict(calls[1].args, calls[1].kwargs) == "t1:10"  # a batch of one
    with pytest.raises(InvalidArguments):
        binder.bind(Call("data", {"x": [1, 2], "tag": "t"}))  # a row takes one value


def test_a_batched_function_with_args_stops_the_load(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import servekit\n\n@servekit.batch\ndef predict(*x):\n    return x\n"
    )
    runtime = PythonRuntime(parse_target("m.py:predict", str(tmp_path)), tmp_path)
    runtime.load()
    with pytest.raises(LoadError, match="named parameters only"):
        runtime.signature()


@pytest.mark.parametrize(
    ("source", "name", "size"),
    [
        ("import servekit\n@servekit.batch(max_size=12)\ndef f(x): ...\n", "f", 12),
        ("from servekit import batch\n@batch\ndef f(x): ...\n", "f", 32),
        (
            "import servekit\nclass M:\n    @servekit.batch()\n    def predict(self, x): ...\n",
            "M",
            32,
        ),
        (
            "import servekit\nclass M:\n  @servekit.batch(max_size=3)\n  def go(self, x): pass\n",
            "M.go",
            3,
        ),
        ("def f(x): ...\n", "f", 0),
        ("import functools\n@functools.cache\ndef f(x): ...\n", "f", 0),
    ],
)
def test_serve_finds_the_mark_before_starting(
    tmp_path: Path, source: str, name: str, size: int
) -> None:
    (tmp_path / "m.py").write_text(source)
    target = parse_target(f"m.py:{name}", str(tmp_path))
    assert batch_size(target, Settings()) == size


def test_an_onnx_graph_is_batched_by_the_setting(tmp_path: Path) -> None:
    target = parse_target("m.onnx", str(tmp_path))
    assert batch_size(target, Settings()) == 0
    assert batch_size(target, Settings(batch_max_size=16)) == 16


def test_one_rows_return_type() -> None:
    from collections.abc import Sequence

    from servekit.core.batching import row_type

    assert row_type(list[dict[str, int]]) == dict[str, int]
    assert row_type(Sequence[float]) is float
    assert row_type(dict) is None
    assert row_type(None) is None
