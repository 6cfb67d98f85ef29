"""The V2 codec over the data plane: tensors to a typed Python function's or an ONNX
graph's arguments, results to output tensors, metadata, requested and binary outputs,
and every refusal a 400 naming its input or output."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.loading import load_dataplane
from servekit.protocols.v2 import V2Answer, V2Codec, encode_error
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings
from tests.onnx_models import adder, classifier, identity


@dataclasses.dataclass
class Options:
    scale: float = 1.0


def typed(
    x: npt.NDArray[np.float32],
    weights: list[float],
    n: int,
    label: str = "a",
    options: Options | None = None,
    anything=None,  # untyped on purpose
) -> dict[str, Any]:
    scale = options.scale if options else 1.0
    total = float(np.dot(x.sum(axis=0), weights)) * n * scale
    return {"total": total, "x": x * 2, "label": label, "anything": anything}


def codec_for(fn: Any) -> V2Codec:
    return V2Codec(DataPlane(FunctionRuntime(fn), Release("0", "m", "3")))


def tensor(name: str, datatype: str, shape: list[int], data: Any) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


TYPED_INPUTS = [
    tensor("x", "FP32", [2, 2], [1, 2, 3, 4]),
    tensor("weights", "FP64", [2], [0.5, 1]),
    tensor("n", "INT64", [1], [2]),
]


def infer(codec: V2Codec, inputs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    answer = codec.infer(orjson.dumps({"inputs": inputs, **extra}), None, "rid")
    assert answer.headers == {"Content-Type": "application/json"}
    document: dict[str, Any] = orjson.loads(answer.body)
    return document


def refused(codec: V2Codec, inputs: list[dict[str, Any]], **extra: Any) -> str:
    with pytest.raises(errors.BadRequest) as caught:
        codec.infer(orjson.dumps({"inputs": inputs, **extra}), None, "rid")
    assert encode_error(caught.value)[0] == 400
    return caught.value.message


def test_a_typed_function_takes_tensors_and_answers_one_output_per_key() -> None:
    options = tensor("options", "BYTES", [1], ['{"scale": 10}'])
    label = tensor("label", "BYTES", [1], ["b"])
    anything = tensor("anything", "INT32", [2, 1], [1, 2])
    document = infer(codec_for(typed), [*TYPED_INPUTS, options, label, anything], id="q")
    assert document["model_name"] == "m"
    assert document["model_version"] == "3"
    assert document["id"] == "q"
    assert document["outputs"] == [
        {"name": "total", "datatype": "FP64", "shape": [1], "data": [(4 * 0.5 + 6) * 2 * 10]},
        {"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [2, 4, 6, 8]},
        {"name": "label", "datatype": "BYTES", "shape": [1], "data": ["b"]},
        {"name": "anything", "datatype": "INT64", "shape": [2, 1], "data": [1, 2]},
    ]


def test_the_request_id_is_servekits_when_the_client_sends_none() -> None:
    assert infer(codec_for(typed), TYPED_INPUTS)["id"] == "rid"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (TYPED_INPUTS[:2], "missing input 'n' (INT64 [1])"),
        ([*TYPED_INPUTS, tensor("z", "FP32", [1], [1])], "unknown input 'z': the model's inputs"),
        (
            [tensor("x", "FP64", [1, 2], [1, 2]), *TYPED_INPUTS[1:]],
            "input 'x': expected datatype FP32, got FP64",
        ),
        (
            [*TYPED_INPUTS[:2], tensor("n", "FP32", [1], [2])],
            "input 'n': expected datatype INT64 (or UINT8",
        ),
        (
            [*TYPED_INPUTS[:2], tensor("n", "INT64", [2], [2, 3])],
            "input 'n': a single value (INT64) is a tensor of one element, got shape [2]",
        ),
        (
            [*TYPED_INPUTS, tensor("options", "BYTES", [1], ["{"])],
            "input 'options': the request body is not valid JSON",
        ),
        (
            [*TYPED_INPUTS, tensor("options", "BYTES", [1], ['{"scale": "x"}'])],
            "inputs.options.scale: expected number",
        ),
        (
            [*TYPED_INPUTS, tensor("options", "FP32", [1], [1])],
            "input 'options': expected datatype BYTES, got FP32",
        ),
        (
            [*TYPED_INPUTS, tensor("anything", "BYTES", [2], ["1", "2"])],
            "input 'anything': expected a BYTES tensor of one element holding JSON",
        ),
    ],
)
def test_a_tensor_the_model_cannot_take_is_400_naming_it(
    inputs: list[dict[str, Any]], message: str
) -> None:
    assert message in refused(codec_for(typed), inputs)


def test_typed_values_are_checked_by_the_binder_and_answered_400() -> None:
    def scaled(x: list[list[int]], ratio: float) -> float:
        return sum(map(sum, x)) * ratio

    codec = codec_for(scaled)
    ok = infer(codec, [tensor("x", "UINT8", [2, 2], [1, 2, 3, 4]), tensor("ratio", "FP16", [], 2)])
    assert ok["outputs"] == [{"name": "output0", "datatype": "FP64", "shape": [1], "data": [20.0]}]
    message = refused(
        codec, [tensor("x", "INT8", [4], [1, 2, 3, 4]), tensor("ratio", "FP64", [1], [1])]
    )
    assert message.startswith("inputs.x[0]: expected array of integer, got integer 1")


@pytest.mark.parametrize(
    ("result", "datatype", "shape", "data"),
    [
        (np.arange(6, dtype=np.uint16).reshape(2, 3), "UINT16", [2, 3], [0, 1, 2, 3, 4, 5]),
        (np.float16(1.5), "FP16", [1], [1.5]),
        (True, "BOOL", [1], [True]),
        (7, "INT64", [1], [7]),
        (2**70, "BYTES", [1], [str(2**70)]),
        ([[1.5, 2], [3, 4]], "FP64", [2, 2], [1.5, 2, 3, 4]),
        ([True, False], "BOOL", [2], [True, False]),
        (["a", "b"], "BYTES", [2], ["a", "b"]),
        ([1, "a"], "BYTES", [1], ['[1,"a"]']),
        ([True, 2], "BYTES", [1], ["[true,2]"]),
        ([[1], [2, 3]], "BYTES", [1], ["[[1],[2,3]]"]),
        ("text", "BYTES", [1], ["text"]),
        (b"raw", "BYTES", [1], ["raw"]),
        ({1: "a"}, "BYTES", [1], ['{"1":"a"}']),
        (None, "BYTES", [1], ["null"]),
        (np.array(["x", "yz"]), "BYTES", [2], ["x", "yz"]),
        ([{"a": 1}], "BYTES", [1], ['[{"a":1}]']),
    ],
)
def test_a_result_becomes_output0(result: Any, datatype: str, shape: list[int], data: Any) -> None:
    document = infer(codec_for(lambda x: result), [tensor("x", "INT8", [1], [1])])
    assert document["outputs"] == [
        {"name": "output0", "datatype": datatype, "shape": shape, "data": data}
    ]


def test_a_dtype_no_datatype_holds_is_the_models_error() -> None:
    with pytest.raises(errors.ModelError, match="output 'output0' has dtype complex128"):
        infer(codec_for(lambda x: np.array([1j])), [tensor("x", "INT8", [1], [1])])


def pair(x: int) -> dict[str, Any]:
    return {"a": np.array([x, x], dtype=np.int32), "b": ["é", "\0"]}


def test_only_the_requested_outputs_come_back_each_in_its_form() -> None:
    codec = codec_for(pair)
    inputs = [tensor("x", "INT8", [1], [3])]
    body = orjson.dumps({"inputs": inputs, "outputs": [{"name": "b"}]})
    only_b = orjson.loads(codec.infer(body, None, "rid").body)["outputs"]
    assert only_b == [{"name": "b", "datatype": "BYTES", "shape": [2], "data": ["é", "\0"]}]
    wanted = [{"name": "b", "parameters": {"binary_data": True}}, {"name": "a"}]
    answer = codec.infer(orjson.dumps({"inputs": inputs, "outputs": wanted}), None, "rid")
    size = int(answer.headers["Inference-Header-Content-Length"])
    assert answer.headers["Content-Type"] == "application/octet-stream"
    header = orjson.loads(answer.body[:size])
    raw_b = struct.pack("<I", 2) + "é".encode() + struct.pack("<I", 1) + b"\0"
    assert header["outputs"] == [
        {"name": "b", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 11}},
        {"name": "a", "datatype": "INT32", "shape": [2], "data": [3, 3]},
    ]
    assert answer.body[size:] == raw_b
    assert "unknown output 'c': the model's outputs are a, b" in refused(
        codec, inputs, outputs=[{"name": "c"}]
    )


def test_binary_data_output_sends_every_output_in_binary_unless_one_says_not() -> None:
    inputs = [tensor("x", "INT8", [1], [3])]
    document = {"inputs": inputs, "parameters": {"binary_data_output": True}}
    answer: V2Answer = codec_for(pair).infer(orjson.dumps(document), None, "rid")
    size = int(answer.headers["Inference-Header-Content-Length"])
    sizes = [
        o["parameters"]["binary_data_size"] for o in orjson.loads(answer.body[:size])["outputs"]
    ]
    assert sizes == [8, 11]
    assert answer.body[size : size + 8] == np.array([3, 3], "<i4").tobytes()


@given(st.sampled_from(["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT32"]), st.data())
def test_an_int_parameter_takes_any_integer_datatype(datatype: str, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, 127))
    document = infer(codec_for(identity_int), [tensor("n", datatype, [1, 1], [[value]])])
    assert document["outputs"] == [
        {"name": "output0", "datatype": "INT64", "shape": [1], "data": [value]}
    ]


def identity_int(n: int) -> int:
    return n


class Out(TypedDict):
    score: float
    tags: list[str]


def described(x: npt.NDArray[np.float32], flag: bool, opts: dict[str, int]) -> Out:
    return {"score": 1.0, "tags": []}


def test_metadata_describes_a_python_signature() -> None:
    metadata = codec_for(described).metadata()
    assert metadata == {
        "name": "m",
        "versions": ["3"],
        "platform": "python",
        "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [-1]},
            {"name": "flag", "datatype": "BOOL", "shape": [1]},
            {"name": "opts", "datatype": "BYTES", "shape": [1]},
        ],
        "outputs": [
            {"name": "score", "datatype": "FP64", "shape": [1]},
            {"name": "tags", "datatype": "BYTES", "shape": [-1]},
        ],
    }
    assert codec_for(lambda x: x).metadata()["outputs"] == []
    assert codec_for(typed).metadata()["outputs"] == []  # a dict: unknown until it answers


def onnx_codec(path: Path) -> V2Codec:
    return V2Codec(load_dataplane(Settings(target=str(path), model_name="adder")))


def test_an_onnx_graph_takes_its_inputs_by_name_and_answers_its_outputs(tmp_path: Path) -> None:
    codec = onnx_codec(adder(tmp_path / "adder.onnx"))
    assert codec.metadata()["platform"] == "onnxruntime_onnx"
    assert codec.metadata()["inputs"] == [
        {"name": "a", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "b", "datatype": "FP32", "shape": [-1, 3]},
    ]
    assert codec.metadata()["outputs"] == [
        {"name": "total", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "doubled", "datatype": "FP32", "shape": [-1, 3]},
    ]
    inputs = [tensor("a", "FP32", [1, 3], [1, 2, 3]), tensor("b", "FP32", [1, 3], [[1, 1, 1]])]
    document = infer(codec, inputs, outputs=[{"name": "doubled"}])
    assert document["outputs"] == [
        {"name": "doubled", "datatype": "FP32", "shape": [1, 3], "data": [4, 6, 8]}
    ]
    bad_shape = [tensor("a", "FP32", [1, 2], [1, 2]), inputs[1]]
    assert refused(codec, bad_shape) == (
        "inputs.a: expected tensor float32[batch, 3], got an array of shape [1, 2]"
    )
    rows = [inputs[0], tensor("b", "FP32", [2, 3], [1] * 6)]
    assert "b: expected dimension batch (axis 0) of 1, as in a, got 2" in refused(codec, rows)
    assert "unknown output 'x': the model's outputs are doubled, total" in refused(
        codec, inputs, outputs=[{"name": "x"}]
    )


def test_onnx_strings_and_sequences(tmp_path: Path) -> None:
    strings = onnx_codec(identity(tmp_path / "s.onnx", TensorProto.STRING, ["n"]))
    assert strings.metadata()["inputs"] == [{"name": "x", "datatype": "BYTES", "shape": [-1]}]
    document = infer(strings, [tensor("x", "BYTES", [2], ["a", "é"])])
    assert document["outputs"][0] == {
        "name": "y", "datatype": "BYTES", "shape": [2], "data": ["a", "é"]
    }  # fmt: skip
    zipmap = onnx_codec(classifier(tmp_path / "c.onnx"))
    assert zipmap.metadata()["outputs"][1] == {
        "name": "probabilities", "datatype": "BYTES", "shape": [1]
    }  # fmt: skip
    found = infer(zipmap, [tensor("scores", "FP32", [1, 2], [0, 0])])["outputs"]
    assert found[0] == {"name": "label", "datatype": "INT64", "shape": [1], "data": [0]}
    assert orjson.loads(found[1]["data"][0]) == [{"0": 0.5, "1": 0.5}]


def test_errors_are_written_in_v2s_shape() -> None:
    problem = errors.Problem("inputs.a", "integer", "string")
    assert encode_error(errors.InvalidArguments([problem])) == (
        400,
        b'{"error":"inputs.a: expected integer, got string"}',
    )
    assert encode_error(errors.NotFound("no such model")) == (404, b'{"error":"no such model"}')
