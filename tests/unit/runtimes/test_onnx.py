"""The ONNX runtime on real onnxruntime (CPU here), through the data plane and the binder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from onnx import TensorProto

from servekit.errors import InvalidArguments, LoadError
from servekit.loading import load_dataplane
from servekit.protocols.domino import DominoCodec
from servekit.runtimes.onnx import choose_providers
from servekit.settings import Settings
from tests.onnx_models import adder, classifier, identity, logistic


def plane(path: Path, **settings: Any):  # type: ignore[no-untyped-def]
    return load_dataplane(Settings(target=str(path), **settings))


def result(dataplane: Any, document: dict[str, Any]) -> Any:
    return orjson.loads(DominoCodec(dataplane).predict(orjson.dumps(document), "r").body)["result"]


def test_multi_input_multi_output_with_a_dynamic_batch(tmp_path: Path) -> None:
    served = plane(adder(tmp_path / "adder.onnx"))
    for batch in (1, 3):
        a = [[1.5, 2.0, 3.0]] * batch
        b = [[1, 1, 1]] * batch
        out = result(served, {"data": {"a": a, "b": b}})
        assert out["total"] == [[2.5, 3.0, 4.0]] * batch
        assert out["doubled"] == [[5.0, 6.0, 8.0]] * batch
    assert result(served, {"parameters": [[[0, 0, 1]], [[0, 0, 1]]]})["total"] == [[0, 0, 2]]
    details = served.runtime.details()
    assert details["providers"] == ["CPUExecutionProvider"]
    assert details["outputs"] == ["total", "doubled"]


@pytest.mark.parametrize(
    ("element", "value"),
    [
        (TensorProto.FLOAT, [0.5, 1.25]),
        (TensorProto.DOUBLE, [0.1, 1e300]),
        (TensorProto.INT64, [-(2**62), 7]),
        (TensorProto.BOOL, [True, False]),
        (TensorProto.STRING, ["héllo", "x"]),
    ],
    ids=["float32", "float64", "int64", "bool", "string"],
)
def test_element_types_round_trip(tmp_path: Path, element: int, value: list[Any]) -> None:
    served = plane(identity(tmp_path / "id.onnx", element, [None]))
    assert result(served, {"data": {"x": value}})["y"] == value


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ([[1, 2]], "an array of shape [1, 2]"),
        ([[1, 2, 3], [4, 5]], "ragged nested arrays (rows of unequal length)"),
        ([["a", "b", "c"]], "array of strings"),
        ([1, 2, 3], "an array of shape [3]"),
    ],
    ids=["wrong-shape", "ragged", "wrong-type", "wrong-rank"],
)
def test_bad_inputs_name_the_input_and_what_it_expects(
    tmp_path: Path, value: Any, got: str
) -> None:
    served = plane(adder(tmp_path / "adder.onnx"))
    with pytest.raises(InvalidArguments) as caught:
        DominoCodec(served).predict(orjson.dumps({"data": {"a": value, "b": [[0, 0, 0]]}}), "r")
    [problem] = caught.value.problems
    assert (problem.path, problem.expected, problem.got) == (
        "data.a",
        "tensor float32[batch, 3]",
        got,
    )


def test_missing_and_unknown_inputs(tmp_path: Path) -> None:
    served = plane(adder(tmp_path / "adder.onnx"))
    with pytest.raises(InvalidArguments) as caught:
        DominoCodec(served).predict(b'{"data": {"a": [[1, 2, 3]], "c": 1}}', "r")
    assert sorted(p.path for p in caught.value.problems) == ["data.b", "data.c"]


def test_a_logistic_regression(tmp_path: Path) -> None:
    served = plane(logistic(tmp_path / "logistic.onnx"))
    [[probability]] = result(served, {"data": {"features": [[0.0] * 20]}})["probability"]
    assert abs(probability - 0.524979) < 1e-5  # sigmoid(0.1)


def test_providers(tmp_path: Path) -> None:
    assert choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], "", gpu=True) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], "", gpu=False) == [
        "CPUExecutionProvider"
    ]
    with pytest.raises(LoadError, match="TensorrtExecutionProvider"):
        choose_providers(["CPUExecutionProvider"], "TensorrtExecutionProvider", gpu=False)
    served = plane(
        adder(tmp_path / "adder.onnx"), onnx_providers="CPUExecutionProvider", onnx_threads=1
    )
    assert served.runtime.details()["providers"] == ["CPUExecutionProvider"]


def test_a_broken_model_file_is_a_load_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(LoadError, match="cannot load ONNX model"):
        plane(broken)


def test_sequence_of_map_outputs_become_lists_of_objects(tmp_path: Path) -> None:
    served = plane(classifier(tmp_path / "classifier.onnx"))
    out = result(served, {"data": {"scores": [[0.0, 0.0], [3.0, 0.0]]}})
    assert out["label"] == [0, 0]
    first, second = out["probabilities"]
    assert first == {"0": 0.5, "1": 0.5}
    assert second["0"] == pytest.approx(0.952574, abs=1e-6)


def test_inputs_that_disagree_on_a_named_dimension_are_422(tmp_path: Path) -> None:
    plane = load_dataplane(Settings(target=str(adder(tmp_path / "adder.onnx"))))
    body = {"data": {"a": [[1, 2, 3], [4, 5, 6]], "b": [[1, 2, 3]]}}
    with pytest.raises(InvalidArguments) as caught:
        DominoCodec(plane).predict(orjson.dumps(body), "r")
    assert caught.value.details[0]["path"] == "b"
    assert "dimension batch (axis 0) of 2, as in a" in caught.value.message
