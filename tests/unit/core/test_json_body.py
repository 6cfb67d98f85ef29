"""Request bodies: a key twice in one object is refused; integers are exact at any size."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Union

import numpy as np
import orjson
import pytest
from flask.testing import FlaskClient
from numpy.typing import NDArray

from servekit.core import jsonbody
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.errors import BadJson, BadRequest, InvalidArguments
from servekit.http import ServerState, create_app
from servekit.loading import load_dataplane
from servekit.protocols.domino import DominoCodec, parse_request
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings
from tests.conftest import write_project

# --- duplicated keys ---------------------------------------------------------------------

DEEP = 300  # deeper than orjson writes (255): the slow path throughout

DUPLICATES = {
    "in data": (b'{"data": {"x": 1, "x": 2}}', "data.x", '"x"'),
    "at the top": (b'{"data": {"x": 1}, "data": {"x": 2}}', "data", '"data"'),
    "in a list": (
        b'{"data": {"rows": [{"a": 1}, {"a": 1, "b": [], "a": 3}]}}',
        "data.rows[1].a",
        '"a"',
    ),
    "escaped the second time": (b'{"data": {"x": 1, "\\u0078": 2}}', "data.x", '"x"'),
    "a colon escaped in one": (b'{"data": {"a\\u003ab": 1, "a:b": 2}}', "data.a:b", '"a:b"'),
    "strings full of syntax": (
        b'{"data": {"s": "}\\":{\\"x\\": [", "x": 1, "t": "\\\\", "x": 2}}',
        "data.x",
        '"x"',
    ),
    "spaces before colons": (b'{"data": {"x" : 1,\n "x"\t: 2}}', "data.x", '"x"'),
    "unicode": ('{"data": {"é": 1, "é": 2}}'.encode(), "data.é", '"é"'),
    "deep": (
        b'{"data": {"x": ' + b"[" * DEEP + b'{"k": 1, "k": 2}' + b"]" * DEEP + b"}}",
        "data.x" + "[0]" * DEEP + ".k",
        '"k"',
    ),
}


@pytest.mark.parametrize("name", list(DUPLICATES))
def test_a_key_twice_in_one_object_is_bad_json_naming_the_key_and_where(name: str) -> None:
    body, path, key = DUPLICATES[name]
    with pytest.raises(BadJson) as caught:
        parse_request(body)
    error = caught.value
    assert (error.status, error.code) == (400, "BAD_JSON")
    assert f"the key {key} twice in one object (at {path})" in error.message
    assert error.details == [
        {
            "path": path,
            "expected": "each key once",
            "got": f"{key} twice",
            "message": f"{path}: expected each key once, got {key} twice",
        }
    ]


ACCEPTED = {
    "same key in other objects": b'{"data": {"x": {"x": 1}, "y": [{"x": 1}, {"x": 2}]}}',
    "colons in strings": b'{"data": {"at": "2024-01-01T10:00:00+02:00", "url": "http://a:8"}}',
    "an escaped colon": b'{"data": {"a\\u003ab": ":", "a:c": "\\u003a"}}',
    "escaped quotes": b'{"data": {"s": "\\"x\\": 1, \\"x\\": 2"}}',
    "deep": b'{"data": {"x": ' + b"[" * DEEP + b'{"k": 1, "j": 2}' + b"]" * DEEP + b"}}",
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_bodies_without_a_repeated_key_read_as_orjson_reads_them(name: str) -> None:
    body = ACCEPTED[name]
    assert parse_request(body).values == orjson.loads(body)["data"]
    assert jsonbody.find_duplicate(body) is None


def test_http_answers_a_repeated_key_with_400(tmp_path: Path) -> None:
    write_project(tmp_path, {"m.py": "def predict(x: int):\n    return x + 1\n"})
    settings = Settings(target=f"{tmp_path}/m.py:predict")
    client: FlaskClient = create_app(
        settings, ServerState(dataplane=load_dataplane(settings))
    ).test_client()
    reply = client.post(
        "/model", data=b'{"data": {"x": 1, "x": 2}}', content_type="application/json"
    )
    assert reply.status_code == 400
    assert reply.get_json()["error"]["code"] == "BAD_JSON"
    assert reply.get_json()["error"]["details"][0]["path"] == "data.x"


# --- integers beyond 64 bits ------------------------------------------------------------

WIDE = [2**64, -(2**63) - 1, 10**29 + 1, -(10**40) - 7, 10**300 + 1]


def predict(fn: Any, value: bytes) -> Any:
    """The value ``fn`` received for ``x`` when the body's ``x`` is the JSON ``value``."""
    seen: list[Any] = []

    def record(x: Any) -> None:
        seen.append(x)

    record.__annotations__ = fn.__annotations__
    plane = DataPlane(FunctionRuntime(record), Release("0", "m", "1"))
    DominoCodec(plane).predict(b'{"data": {"x": ' + value + b"}}", "rid")
    return seen[0]


def untyped(x):  # type: ignore[no-untyped-def]
    return x


def integer(x: int) -> int:
    return x


def number(x: Union[int, float]) -> Union[int, float]:
    return x


def decimal(x: Decimal) -> Decimal:
    return x


def real(x: float) -> float:
    return x


def integers(x: list[int]) -> list[int]:
    return x


@pytest.mark.parametrize("value", WIDE)
@pytest.mark.parametrize("fn", [untyped, integer, number])
def test_a_wide_integer_arrives_exact(fn: Any, value: int) -> None:
    got = predict(fn, str(value).encode())
    assert type(got) is int
    assert got == value


@pytest.mark.parametrize("value", WIDE)
def test_wide_integers_are_exact_for_decimal_and_in_lists_and_floats_for_float(
    value: int,
) -> None:
    assert predict(decimal, str(value).encode()) == Decimal(value)
    text = str(value).encode()
    assert predict(integers, b"[1, " + text + b", " + text + b"]") == [1, value, value]
    got = predict(real, text)
    assert type(got) is float
    assert got == float(value)


@pytest.mark.parametrize("value", [2**64 - 1, -(2**63), 2**63, 10**18])
def test_the_64_bit_edges_stay_integers(value: int) -> None:
    assert predict(untyped, str(value).encode()) == value
    assert type(predict(untyped, str(value).encode())) is int


@pytest.mark.parametrize("text", [b"1e16", b"1.5e300", b"12345678901234567890.0", b"-2e19"])
def test_large_floats_stay_floats(text: bytes) -> None:
    got = predict(untyped, text)
    assert type(got) is float
    assert got == float(text)


def test_a_wide_integer_is_echoed_exactly() -> None:
    plane = DataPlane(FunctionRuntime(untyped), Release("0", "m", "1"))
    answer = DominoCodec(plane).predict(
        b'{"data": {"x": [123456789012345678901234567890, 1e20]}}', "rid"
    )
    assert b'"result":[123456789012345678901234567890,1e+20]' in answer.body


def test_a_wide_integer_deeper_than_orjson_writes_is_exact() -> None:
    body = b'{"data": {"x": ' + b"[" * DEEP + str(2**70).encode() + b"]" * DEEP + b"}}"
    value = parse_request(body).values["x"]
    for _ in range(DEEP):
        value = value[0]
    assert value == 2**70
    assert type(value) is int


def arrays_untyped(x: np.ndarray) -> np.ndarray:
    return x


def arrays_int64(x: NDArray[np.int64]) -> np.ndarray:
    return x


def arrays_float64(x: NDArray[np.float64]) -> np.ndarray:
    return x


def test_numpy_arrays_refuse_integers_no_dtype_holds_and_floats_take_them() -> None:
    for fn, got in [
        (arrays_untyped, "integers outside the 64-bit range"),
        (arrays_int64, "values outside -9223372036854775808..9223372036854775807"),
    ]:
        with pytest.raises(InvalidArguments) as caught:
            predict(fn, b"[1, 18446744073709551616]")
        assert [(p.path, p.got) for p in caught.value.problems] == [("data.x", got)]
    array = predict(arrays_float64, b"[1, 18446744073709551616]")
    assert array.dtype == np.float64
    assert array.tolist() == [1.0, 2.0**64]


def test_a_wide_integer_nested_past_what_python_reads_is_exact_or_a_400() -> None:
    depth = 1020  # orjson reads up to 1024 levels; the standard library stops sooner
    body = b'{"data": {"x": ' + b"[" * depth + b"18446744073709551616" + b"]" * depth + b"}}"
    if sys.getrecursionlimit() < 1100:
        with pytest.raises(BadRequest, match="nested too deeply"):
            parse_request(body)
        return
    value = parse_request(body).values["x"]
    for _ in range(depth):
        value = value[0]
    assert value == 2**64


def test_bodies_past_the_checked_size_are_read_as_orjson_reads_them() -> None:
    pad = "p" * jsonbody.CHECKED_BYTES
    small = b'{"data": {"x": 1, "x": 2}}'
    with pytest.raises(BadJson, match="twice"):
        jsonbody.loads(small)
    large = f'{{"data": {{"x": 1, "x": 2}}, "pad": "{pad}"}}'.encode()
    assert jsonbody.loads(large)["data"] == {"x": 2}  # documented: last key wins
    wide = f'{{"data": {{"x": 123456789012345678901234567890}}, "pad": "{pad}"}}'.encode()
    assert isinstance(jsonbody.loads(wide)["data"]["x"], float)
