"""V2 over gRPC, without a network: ``ModelInferRequest`` messages (typed contents and
raw contents, every datatype) become the same tensors the REST codec reads, answers come
back raw, and every refusal is a BadRequest naming its input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.protocols.v2 import V2Codec
from servekit.protocols.v2.binary import from_bytes, to_bytes
from servekit.protocols.v2.datatypes import DATATYPES
from servekit.protocols.v2.grpc_codec import (
    decode_request,
    encode_response,
    metadata_response,
    status_name,
)
from servekit.protocols.v2.stubs import messages
from servekit.runtimes.function import FunctionRuntime

FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}


def request(**fields: Any) -> Any:
    return messages()["ModelInferRequest"](**fields)


def echo(x: np.ndarray) -> Any:  # type: ignore[type-arg]
    return x


def codec() -> V2Codec:
    return V2Codec(DataPlane(FunctionRuntime(echo), Release("0", "echo", "2")))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(FIELDS)).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            hnp.arrays(
                DATATYPES[kind],
                hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
                elements={"allow_nan": False} if kind.startswith("FP") else None,
            ),
        )
    ),
    st.booleans(),
)
def test_typed_and_raw_contents_give_the_same_tensor(case: Any, raw: bool) -> None:
    kind, array = case
    message = request(model_name="echo")
    tensor = message.inputs.add(name="x", datatype=kind, shape=list(array.shape))
    if raw:
        message.raw_input_contents.append(to_bytes(array))
    else:
        getattr(tensor.contents, FIELDS[kind]).extend(array.reshape(-1).tolist())
    decoded = decode_request(message)
    assert decoded.datatypes == {"x": kind}
    assert decoded.inputs["x"].dtype == DATATYPES[kind]
    np.testing.assert_array_equal(decoded.inputs["x"], array)


def test_bytes_and_fp16_tensors() -> None:
    message = request()
    words = message.inputs.add(name="w", datatype="BYTES", shape=[2])
    words.contents.bytes_contents.extend([b"a", b"\xff"])
    decoded = decode_request(message)
    assert decoded.inputs["w"].tolist() == [b"a", b"\xff"]
    half = np.array([1.5, -2], dtype=np.float16)
    message = request()
    message.inputs.add(name="h", datatype="FP16", shape=[2])
    message.raw_input_contents.append(to_bytes(half))
    np.testing.assert_array_equal(decode_request(message).inputs["h"], half)
    message = request()
    message.inputs.add(name="h", datatype="FP16", shape=[2]).contents.fp32_contents.extend([1, 2])
    with pytest.raises(errors.BadRequest, match=r"input 'h' \(FP16 \[2\]\): .*raw_input_contents"):
        decode_request(message)


def typed(kind: str, shape: list[int], field: str = "", values: Any = (), name: str = "x") -> Any:
    """A builder adding one input with typed contents."""

    def build(message: Any) -> None:
        added = message.inputs.add(name=name, datatype=kind, shape=shape)
        if field:
            getattr(added.contents, field).extend(values)

    return build


def raw(*tensors: tuple[str, list[int]], data: bytes, contents: bool = False) -> Any:
    """A builder adding inputs (name, shape) of FP32 and one raw entry."""

    def build(message: Any) -> None:
        for name, shape in tensors:
            added = message.inputs.add(name=name, datatype="FP32", shape=shape)
            if contents:
                added.contents.fp32_contents.append(1)
        message.raw_input_contents.append(data)

    return build


def twice(message: Any) -> None:
    typed("BOOL", [0])(message)
    typed("BOOL", [0])(message)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (typed("FP32", [3], "fp32_contents", [1, 2]),
         r"input 'x' \(FP32 \[3\]\): the shape holds 3 elements, fp32_contents has 2"),
        (typed("FP32", [1], "fp64_contents", [1]),
         r"input 'x' \(FP32 \[1\]\): its data goes in contents.fp32_contents; got fp64_"),
        (typed("INT8", [1], "int_contents", [300]),
         r"input 'x' \(INT8 \[1\]\): 300 does not fit INT8 \(-128..127\)"),
        (typed("FP31", [1]), r"input 'x': datatype 'FP31' is not one of BOOL"),
        (typed("FP32", [-1]), r"input 'x': shape must be whole numbers >= 0"),
        (typed("FP32", [1], name=""), r"inputs\[0\]: name must be a non-empty string"),
        (twice, r"input 'x' is given twice"),
        (raw(("x", [1]), ("y", [1]), data=b"1234"),
         r"raw_input_contents has 1 entries for 2 inputs"),
        (raw(("x", [2]), data=b"1234"),
         r"input 'x' \(FP32 \[2\]\): binary_data_size is 4 bytes, the shape and datatype"),
        (raw(("x", [1]), data=b"1234", contents=True),
         r"input 'x': give contents or raw_input_contents, not both"),
        (lambda m: None, r"the request has no inputs"),
    ],
)  # fmt: skip
def test_a_bad_tensor_is_a_bad_request_naming_it(build: Any, message: str) -> None:
    found = request()
    build(found)
    with pytest.raises(errors.BadRequest, match=message):
        decode_request(found)


def test_unsupported_extensions_are_refused_not_ignored() -> None:
    found = request()
    found.inputs.add(name="x", datatype="FP32", shape=[1]).contents.fp32_contents.append(1)
    found.parameters["shared_memory_region"].string_param = "r0"
    with pytest.raises(errors.BadRequest, match="does not support the shared_memory_region"):
        decode_request(found)


def test_the_answer_is_raw_with_the_requested_outputs_and_the_callers_id() -> None:
    plane = codec()
    message = request(model_name="echo", id="abc")
    message.inputs.add(name="x", datatype="INT16", shape=[2, 2]).contents.int_contents.extend(
        [1, -2, 3, 4]
    )
    inferred = plane.run(decode_request(message), "rid")
    response = encode_response(messages(), plane, inferred)
    assert (response.model_name, response.model_version, response.id) == ("echo", "2", "abc")
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("output0", "INT16", [2, 2])
    answer = from_bytes("output0", "INT16", (2, 2), response.raw_output_contents[0])
    assert answer.tolist() == [[1, -2], [3, 4]]
    message.outputs.add(name="nope")
    with pytest.raises(errors.BadRequest, match="unknown output 'nope'"):
        plane.run(decode_request(message), "rid")
    assert plane.run(decode_request(request(inputs=message.inputs)), "rid").id == "rid"


def test_metadata_and_status_names() -> None:
    response = metadata_response(messages(), codec())
    assert (response.name, list(response.versions), response.platform) == (
        "echo",
        ["2"],
        "python",
    )
    assert [(t.name, t.datatype, list(t.shape)) for t in response.inputs] == [("x", "BYTES", [-1])]
    assert status_name(errors.BadRequest("x")) == "INVALID_ARGUMENT"
    assert status_name(errors.Unauthorized()) == "UNAUTHENTICATED"
    assert status_name(errors.NotFound("x")) == "NOT_FOUND"
    assert status_name(errors.Timeout("x")) == "DEADLINE_EXCEEDED"
    assert status_name(errors.NotReady("x")) == "UNAVAILABLE"
    assert status_name(errors.ModelError("x")) == "INTERNAL"
