"""V2 tensors on the wire: every datatype as JSON and as binary, both ways, and every
refusal naming its input (:mod:`servekit.protocols.v2.datatypes`, ``.binary``,
``.request``)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from servekit import errors
from servekit.core.encoding import encode
from servekit.protocols.v2.binary import from_bytes, to_bytes
from servekit.protocols.v2.datatypes import DATATYPES, datatype_of, from_json, to_json
from servekit.protocols.v2.request import decode

NUMERIC = [name for name in DATATYPES if name != "BYTES"]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
FINITE = {"allow_nan": False, "allow_infinity": False}


def arrays_of(datatype: str) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    dtype = DATATYPES[datatype]
    if datatype == "BYTES":
        return SHAPES.flatmap(
            lambda shape: st.lists(
                st.text(max_size=5).map(str.encode),
                min_size=int(np.prod(shape)),
                max_size=int(np.prod(shape)),
            ).map(lambda items: _objects(items).reshape(shape))
        )
    return hnp.arrays(dtype, SHAPES, elements=FINITE)


def _objects(items: list[bytes]) -> np.ndarray[Any, Any]:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def json_data(array: np.ndarray[Any, Any], name: str = "x") -> Any:
    """The data as a client writes it: through JSON."""
    return orjson.loads(encode(to_json(array, name)))


@pytest.mark.parametrize("datatype", list(DATATYPES))
@given(data=st.data())
def test_every_datatype_survives_json_and_binary(datatype: str, data: st.DataObject) -> None:
    array = data.draw(arrays_of(datatype))
    shape = tuple(array.shape)
    for decoded in (
        from_json("x", datatype, shape, json_data(array)),
        from_bytes("x", datatype, shape, to_bytes(array)),
    ):
        assert decoded.dtype == DATATYPES[datatype]
        assert decoded.shape == shape
        assert decoded.tolist() == array.tolist()
    assert datatype_of(array.dtype) == datatype


@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), elements=FINITE)
)
def test_nested_data_is_read_row_major(array: np.ndarray[Any, Any]) -> None:
    nested = orjson.loads(encode(array.tolist()))
    found = from_json("x", "FP32", array.shape, nested)
    np.testing.assert_array_equal(found, array)


def test_a_scalar_is_a_tensor_of_one_element() -> None:
    assert from_json("x", "INT32", (1,), 7).tolist() == [7]
    assert from_json("x", "BOOL", (), [True]).shape == ()


@pytest.mark.parametrize(
    ("datatype", "shape", "data", "message"),
    [
        (
            "FP32",
            (2, 2),
            [1, 2, 3],
            "input 'x' (FP32 [2, 2]): the shape holds 4 elements, the data has 3",
        ),
        ("INT8", (1,), [128], "input 'x' (INT8 [1]): 128 does not fit INT8 (-128..127)"),
        ("UINT8", (1,), [-1], "input 'x' (UINT8 [1]): -1 does not fit UINT8 (0..255)"),
        ("UINT64", (1,), [2**64], "does not fit UINT64"),
        ("INT64", (2,), [1, 2.5], "INT64 data must be integers, got float, int"),
        ("INT32", (1,), [True], "INT32 data must be integers, got bool"),
        ("BOOL", (1,), [1], "BOOL data must be booleans, got int"),
        ("FP16", (1,), [1e6], "input 'x' (FP16 [1]): a value is outside the range of FP16"),
        ("FP32", (1,), [1e39], "outside the range of FP32"),
        ("FP64", (1,), ["1"], "FP64 data must be numbers, got str"),
        ("FP64", (1,), [None], "FP64 data must be numbers, got null"),
        ("BYTES", (1,), [1], "input 'x' (BYTES [1]): BYTES data must be strings"),
        ("FP32", (2,), [[1], 2], "data mixes arrays and values at one level"),
    ],
)
def test_json_data_that_does_not_fit_is_400_naming_the_input(
    datatype: str, shape: tuple[int, ...], data: Any, message: str
) -> None:
    with pytest.raises(errors.BadRequest, match="input 'x'") as refused:
        from_json("x", datatype, shape, data)
    assert message in refused.value.message
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("datatype", "shape", "raw", "message"),
    [
        ("FP32", (2,), b"\0" * 7, "binary_data_size is 7 bytes, the shape and datatype need 8"),
        ("BOOL", (1,), b"\x02", "a BOOL element is a byte 0 or 1"),
        ("BYTES", (1,), b"\x01\0", "BYTES data ends inside an element's length"),
        ("BYTES", (1,), struct.pack("<I", 5) + b"abc", "BYTES element 0 says 5 bytes, 3 are left"),
        (
            "BYTES",
            (2,),
            struct.pack("<I", 1) + b"a",
            "the shape holds 2 elements, the BYTES data has 1",
        ),
    ],
)
def test_binary_data_that_does_not_fit_is_400_naming_the_input(
    datatype: str, shape: tuple[int, ...], raw: bytes, message: str
) -> None:
    with pytest.raises(errors.BadRequest, match=f"input 'x' \\({datatype}") as refused:
        from_bytes("x", datatype, shape, raw)
    assert message in refused.value.message


def test_bytes_elements_are_length_prefixed_little_endian() -> None:
    array = _objects([b"ab", b""]).reshape(2)
    assert to_bytes(array) == b"\x02\0\0\0ab\0\0\0\0"
    assert to_bytes(np.array([1], dtype=np.int16)) == b"\x01\0"
    assert to_bytes(np.array([1.0], dtype=">f4")) == np.array([1.0], "<f4").tobytes()


def test_bytes_that_are_not_utf8_go_in_binary() -> None:
    with pytest.raises(errors.ModelError, match="output 'y' holds bytes that are not UTF-8"):
        to_json(_objects([b"\xff"]), "y")


def binary_body(header: dict[str, Any], *parts: bytes) -> tuple[bytes, str]:
    head = orjson.dumps(header)
    return head + b"".join(parts), str(len(head))


def test_a_request_with_binary_and_json_inputs_and_requested_outputs() -> None:
    floats = np.array([[1.5, 2.5]], dtype=np.float32)
    body, length = binary_body(
        {
            "id": "r1",
            "parameters": {"binary_data_output": True},
            "inputs": [
                {"name": "a", "datatype": "FP32", "shape": [1, 2],
                 "parameters": {"binary_data_size": 8}},
                {"name": "b", "datatype": "BYTES", "shape": [1], "data": ["hi"]},
                {"name": "c", "datatype": "BYTES", "shape": [2],
                 "parameters": {"binary_data_size": 12}},
            ],
            "outputs": [{"name": "y"}, {"name": "z", "parameters": {"binary_data": False}}],
        },
        floats.tobytes(),
        to_bytes(_objects([b"ab", b"\xff\0"])),
    )  # fmt: skip
    request = decode(body, length)
    assert request.id == "r1"
    np.testing.assert_array_equal(request.inputs["a"], floats)
    assert request.inputs["b"].tolist() == [b"hi"]
    assert request.inputs["c"].tolist() == [b"ab", b"\xff\0"]
    assert request.datatypes == {"a": "FP32", "b": "BYTES", "c": "BYTES"}
    assert [(o.name, o.binary) for o in request.outputs or ()] == [("y", True), ("z", False)]


def tensor(**extra: Any) -> dict[str, Any]:
    return {"name": "x", "datatype": "INT32", "shape": [1], "data": [1], **extra}


NO_DATA = {"name": "x", "datatype": "INT32", "shape": [1]}
BAD_REQUESTS = [
    ({"inputs": []}, None, b"", '"inputs" must be a non-empty array of tensors'),
    ({"inputs": [tensor(datatype="FP8")]}, None, b"", "x': datatype 'FP8' is not one of BOOL"),
    ({"inputs": [tensor(shape=[-1])]}, None, b"", "x': shape must be an array of whole numbers"),
    ({"inputs": [tensor(), tensor()]}, None, b"", "input 'x' is given twice"),
    ({"inputs": [NO_DATA]}, None, b"", "input 'x' has no data"),
    ({"inputs": [tensor(parameters={"binary_data_size": 4})]}, "", b"", "without data"),
    ({"inputs": [tensor()], "id": 5}, None, b"", '"id" must be a string, got integer 5'),
    (
        {"inputs": [tensor(parameters={"shared_memory_region": "r"})]},
        None,
        b"",
        "input 'x': servekit does not support the shared_memory_region extension",
    ),
    (
        {"inputs": [tensor()], "outputs": [{"name": "y", "parameters": {"classification": 2}}]},
        None,
        b"",
        "output 'y': servekit does not support the classification extension",
    ),
    (
        {"inputs": [tensor()], "outputs": [{"name": "y", "parameters": {"binary_data": 1}}]},
        None,
        b"",
        "output 'y': binary_data must be true or false",
    ),
    ({"inputs": [tensor()]}, "x", b"", "Inference-Header-Content-Length is 'x'"),
    ({"inputs": [tensor()]}, "", b"\0", "1 bytes of binary data no input's binary_data_size"),
]


@pytest.mark.parametrize(("document", "length", "tail", "message"), BAD_REQUESTS)
def test_requests_that_are_not_v2_are_400(
    document: dict[str, Any], length: str | None, tail: bytes, message: str
) -> None:
    head = orjson.dumps(document)
    if length == "":
        length = str(len(head))
    with pytest.raises(errors.BadRequest) as refused:
        decode(head + tail, length)
    assert message in refused.value.message


def test_binary_sizes_past_the_body_are_400_naming_the_input() -> None:
    item = {"name": "a", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}
    body, length = binary_body({"inputs": [item]}, b"\0" * 4)
    with pytest.raises(errors.BadRequest, match="input 'a': binary_data_size 8 goes past"):
        decode(body, length)
