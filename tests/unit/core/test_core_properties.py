"""Property tests of the I/O-free core: round-trips, robustness, encoding and paths."""

import dataclasses
import datetime as dt
import enum
import json
from typing import Any, Literal, NotRequired, Optional, TypedDict

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from servekit.core import jsonbody
from servekit.core.binding import Binder
from servekit.core.dataplane import Answer, DataPlane
from servekit.core.encoding import encode
from servekit.core.paths import Where, render, report
from servekit.core.release import Release
from servekit.core.signature import Param, Signature
from servekit.errors import BadJson, Problem, ServekitError
from servekit.protocols.domino import DominoCodec, parse_request
from servekit.runtimes.function import FunctionRuntime

EXAMPLES = 200
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)

# --- 1. round-trip: Python value -> JSON request -> bound argument == the value ----------


@dataclasses.dataclass
class Member:
    name: str
    score: float
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Team:
    name: str
    members: list[Member]
    lead: Optional[Member] = None


class Point(TypedDict):
    x: float
    y: int
    label: NotRequired[str]


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    ONE = 1


MEMBERS = st.builds(Member, name=st.text(), score=FLOATS, tags=st.lists(st.text(), max_size=3))
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)

ROUND_TRIP: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "int": (int, INT64),
    "float": (float, FLOATS),
    "str": (str, st.text()),
    "bool": (bool, st.booleans()),
    "None": (None, st.none()),
    "Optional[int]": (Optional[int], st.none() | INT64),
    "list[int]": (list[int], st.lists(INT64)),
    "list[float]": (list[float], st.lists(FLOATS)),
    "dict[str, int]": (dict[str, int], st.dictionaries(st.text(), INT64)),
    "tuple[int, str]": (tuple[int, str], st.tuples(INT64, st.text())),
    "list[list[float]]": (list[list[float]], st.lists(st.lists(FLOATS, max_size=5), max_size=5)),
    "dataclass": (
        Team,
        st.builds(
            Team,
            name=st.text(),
            members=st.lists(MEMBERS, max_size=4),
            lead=st.none() | MEMBERS,
        ),
    ),
    "TypedDict": (
        Point,
        st.fixed_dictionaries({"x": FLOATS, "y": INT64}, optional={"label": st.text()}),
    ),
    "Literal": (Literal["a", "b"], st.sampled_from(["a", "b"])),
    "Enum": (Color, st.sampled_from(Color)),
    "datetime": (dt.datetime, st.datetimes(timezones=st.none() | OFFSETS)),
    "date": (dt.date, st.dates()),
    "NDArray[float64]": (
        NDArray[np.float64],
        hnp.arrays(
            np.float64,
            hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
            elements=FLOATS,
        ),
    ),
    "NDArray[int64]": (
        NDArray[np.int64],
        hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)),
    ),
}

_BINDERS = {
    name: Binder(Signature((Param("x", annotation=annotation),)))
    for name, (annotation, _) in ROUND_TRIP.items()
}


def test_round_trip_annotations_compile_without_warnings() -> None:
    assert {name: binder.warnings for name, binder in _BINDERS.items() if binder.warnings} == {}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    _, strategy = ROUND_TRIP[name]
    value = data.draw(strategy, label="value")
    body = orjson.dumps({"data": {"x": value}}, option=orjson.OPT_SERIALIZE_NUMPY)
    bound = _BINDERS[name].bind(parse_request(body))
    assert bound.args == ()
    assert list(bound.kwargs) == ["x"]
    got = bound.kwargs["x"]
    if isinstance(value, np.ndarray):
        assert type(got) is np.ndarray
        assert got.dtype == value.dtype
        assert got.shape == value.shape
        assert np.array_equal(got, value)
    else:
        assert type(got) is type(value)
        assert got == value
        if isinstance(value, dt.datetime):
            assert got.utcoffset() == value.utcoffset()


# --- 2. no crash: any body gives an answer, a 400 or a 422 -------------------------------


def echo(a: int, b: list[float] = [], c: str | None = None) -> None:  # noqa: B006
    """The served signature; EchoRuntime returns how it was called instead."""


class EchoRuntime(FunctionRuntime):
    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return {"args": list(args), "kwargs": kwargs}


PLANE = DominoCodec(DataPlane(EchoRuntime(echo), Release("test", "echo", "1")))

JSON_SCALARS = st.none() | st.booleans() | INT64 | FLOATS | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
ARG_NAMES = st.sampled_from(["a", "b", "c", "d"]) | st.text(max_size=5)
ARG_VALUES = (
    JSON_VALUES
    | st.lists(FLOATS | INT64, max_size=5)
    | st.lists(st.one_of(FLOATS, INT64, st.booleans(), st.none(), st.text()), max_size=5)
)
DOCUMENTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"data": st.dictionaries(ARG_NAMES, ARG_VALUES, max_size=5)}),
    st.fixed_dictionaries({"parameters": st.lists(ARG_VALUES, max_size=5)}),
    st.fixed_dictionaries({"parameters": st.dictionaries(ARG_NAMES, ARG_VALUES, max_size=5)}),
    st.fixed_dictionaries({"data": JSON_VALUES}, optional={"parameters": JSON_VALUES}),
    st.dictionaries(st.sampled_from(["data", "parameters", "x"]), JSON_VALUES, max_size=3),
)


def _predict_or_client_error(body: bytes) -> Answer | None:
    error: ServekitError | None = None
    try:
        answer = PLANE.predict(body, "rid")
    except ServekitError as caught:
        error = caught
    if error is not None:
        assert error.status in (400, 422), (error.status, error.message)
        assert error.code in ("BAD_JSON", "BAD_REQUEST", "INVALID_ARGUMENTS")
        return None
    assert isinstance(answer, Answer)
    document = orjson.loads(answer.body)
    assert "result" in document
    assert document["request_id"] == "rid"
    assert set(document["result"]) == {"args", "kwargs"}
    return answer


@settings(max_examples=EXAMPLES, deadline=None)
@given(body=st.binary(max_size=200))
def test_predict_never_crashes_on_arbitrary_bytes(body: bytes) -> None:
    _predict_or_client_error(body)


@settings(max_examples=EXAMPLES, deadline=None)
@given(document=DOCUMENTS)
def test_predict_never_crashes_on_arbitrary_json(document: Any) -> None:
    _predict_or_client_error(orjson.dumps(document))


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    a=INT64,
    b=st.lists(FLOATS | INT64, max_size=5),
    c=st.none() | st.text(max_size=10),
    form=st.sampled_from(["data", "parameters-list", "parameters-dict"]),
)
def test_predict_answers_every_valid_request(
    a: int, b: list[float], c: str | None, form: str
) -> None:
    if form == "data":
        document: dict[str, Any] = {"data": {"a": a, "b": b, "c": c}}
    elif form == "parameters-list":
        document = {"parameters": [a, b, c]}
    else:
        document = {"parameters": {"c": c, "b": b, "a": a}}
    answer = _predict_or_client_error(orjson.dumps(document))
    assert answer is not None
    result = orjson.loads(answer.body)["result"]
    expected = {"a": a, "b": [float(x) for x in b], "c": c}
    if form == "parameters-list":
        assert result == {"args": [a, expected["b"], c], "kwargs": {}}
    else:
        assert result == {"args": [], "kwargs": expected}


def test_predict_rejects_a_bad_request_with_422_details() -> None:
    with pytest.raises(ServekitError) as caught:
        PLANE.predict(b'{"data": {"a": true, "b": [1, "x"], "z": 0}}', "rid")
    error = caught.value
    assert (error.status, error.code) == (422, "INVALID_ARGUMENTS")
    assert [d["path"] for d in error.details] == ["data.a", "data.b[1]", "data.z"]


# --- 3. encoding: encode(value) is the value's .tolist() form -----------------------------

DTYPES = st.sampled_from([np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_)])


@st.composite
def arrays_and_views(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(DTYPES)
    elements = (
        st.floats(width=32, allow_nan=False, allow_infinity=False) if dtype.kind == "f" else None
    )
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    view = draw(st.sampled_from(["as is", "T", "step", "reverse", "column"]))
    if view == "T":
        return array.T
    if view == "step" and array.ndim:
        return array[::2]
    if view == "reverse" and array.ndim:
        return array[..., ::-1]
    if view == "column" and array.ndim >= 2 and array.shape[1]:
        return array[:, 0]
    return array


def _as_float32(value: Any) -> Any:
    if isinstance(value, list):
        return [_as_float32(item) for item in value]
    return float(np.float32(value))


def _same_as_tolist(decoded: Any, array: np.ndarray) -> None:
    expected = array.tolist()
    if array.dtype.kind != "f":
        assert decoded == expected
        return
    # float32 values are written with float32's shortest digits ("0.1") whatever the
    # layout, and tolist() widens to float64 (0.10000000149011612): compare at float32.
    assert _as_float32(decoded) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(value=JSON_VALUES)
def test_encode_json_values(value: Any) -> None:
    assert orjson.loads(encode(value)) == value


@settings(max_examples=EXAMPLES, deadline=None)
@given(array=arrays_and_views())
def test_encode_numpy_arrays_and_views(array: np.ndarray) -> None:
    _same_as_tolist(orjson.loads(encode(array)), array)


@settings(max_examples=EXAMPLES, deadline=None)
@given(array=arrays_and_views(), value=JSON_VALUES)
def test_encode_arrays_inside_json_values(array: np.ndarray, value: Any) -> None:
    decoded = orjson.loads(encode({"value": value, "arrays": [array, array]}))
    assert decoded["value"] == value
    _same_as_tolist(decoded["arrays"][0], array)
    _same_as_tolist(decoded["arrays"][1], array)


def test_encode_is_exact_for_int_and_bool_views() -> None:
    array = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert orjson.loads(encode(array.T)) == array.T.tolist()
    assert orjson.loads(encode(array[::2])) == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert orjson.loads(encode((array % 2 == 0)[:, ::3])) == [[True, False]] * 3


def test_encode_does_not_depend_on_memory_layout() -> None:
    array = np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    assert encode(array.T) == encode(np.ascontiguousarray(array.T)) == b"[[0.1,0.3],[0.2,0.4]]"
    assert encode(np.array(0.1, np.float32)) == encode(np.float32(0.1)) == b"0.1"


# --- 4. paths ----------------------------------------------------------------------------

KEYS = st.integers(min_value=0, max_value=10**6) | st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8
)


def _expected_text(root: str, keys: list[int | str]) -> str:
    return root + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys)


@settings(max_examples=EXAMPLES, deadline=None)
@given(root=st.sampled_from(["data", "parameters"]), keys=st.lists(KEYS, min_size=1, max_size=8))
def test_render_nested_locations(root: str, keys: list[int | str]) -> None:
    where: Where = root
    for key in keys[:-1]:
        where = (where, key)
    assert render(where, keys[-1]) == _expected_text(root, keys)
    assert render((where, keys[-1])) == _expected_text(root, keys)
    assert render((where, keys[-1]), None) == _expected_text(root, keys)
    problems: list[Problem] = []
    report(problems, where, keys[-1], "integer", "null")
    assert problems == [Problem(_expected_text(root, keys), "integer", "null")]


def test_render_examples() -> None:
    assert render((("data", "rows"), 3), "age") == "data.rows[3].age"
    assert render("parameters", 2) == "parameters[2]"
    assert render("data") == "data"
    assert render(("data", "x"), 0) == "data.x[0]"


def test_wide_integers_and_longdouble_encode() -> None:
    encoded = encode({"total": 2**70 + 1, "small": [1, 2.5, None]})
    assert encoded == b'{"total":1180591620717411303425,"small":[1,2.5,null]}'
    assert orjson.loads(encode(np.longdouble(1.5))) == 1.5
    assert orjson.loads(encode(np.array([1.5, 2.5], dtype=np.longdouble))) == [1.5, 2.5]


# --- 5. request JSON: a repeated key is refused, anything else reads exactly -------------


class Members(list):  # type: ignore[type-arg]
    """A JSON object written as its members in order, so a key can appear twice."""


WIDE_INTS = st.integers(min_value=-(2**80), max_value=2**80) | st.integers(
    min_value=-(10**100), max_value=10**100
).map(lambda n: n * 10**40)
TEXT = st.text(alphabet=st.sampled_from('ab:"\\{}[],é\n\u2028'), max_size=5) | st.text(max_size=5)
OBJECT_KEYS = st.sampled_from(["a", "b", "a:b", ":", 'q"', "é", "\\"]) | TEXT
BODY_SCALARS = st.none() | st.booleans() | INT64 | WIDE_INTS | FLOATS | TEXT
BODY_TREES = st.recursive(
    BODY_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(st.tuples(OBJECT_KEYS, children), max_size=4).map(Members)
    ),
    max_leaves=16,
)


def _string(text: str, draw: st.DrawFn) -> str:
    style = draw(st.sampled_from(["plain", "ascii", "escaped"]))
    if style == "escaped":  # every character as \uXXXX: colons too
        units = text.encode("utf-16-be")
        return (
            '"'
            + "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
            + '"'
        )
    return json.dumps(text, ensure_ascii=style == "ascii")


@st.composite
def json_texts(draw: st.DrawFn, tree: Any) -> str:
    space = st.sampled_from(["", " ", "\n", " \t "])
    if isinstance(tree, Members):
        members = [
            f"{_string(k, draw)}{draw(space)}:{draw(space)}{draw(json_texts(v))}" for k, v in tree
        ]
        return "{" + f",{draw(space)}".join(members) + "}"
    if isinstance(tree, list):
        return "[" + f",{draw(space)}".join(draw(json_texts(v)) for v in tree) + "]"
    if isinstance(tree, str):
        return _string(tree, draw)
    return json.dumps(tree)


def _first_repeat(tree: Any, path: str = "") -> str | None:
    """The path of the first key written twice in one object, in the text's order."""
    if isinstance(tree, Members):
        seen: set[str] = set()
        for key, value in tree:
            here = f"{path}.{key}" if path else key
            if key in seen:
                return here
            seen.add(key)
            found = _first_repeat(value, here)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found = _first_repeat(value, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _typed(value: Any) -> Any:
    """``value`` with every leaf's type beside it (so 1 and 1.0 differ)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value), value)


def _fits_64_bits(value: Any) -> bool:
    if isinstance(value, Members):
        return all(_fits_64_bits(v) for _, v in value)
    if isinstance(value, list):
        return all(_fits_64_bits(v) for v in value)
    return type(value) is not int or -(2**63) <= value < 2**64


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(data=st.data(), tree=BODY_TREES)
def test_request_json_refuses_a_repeated_key_and_reads_everything_else_exactly(
    data: st.DataObject, tree: Any
) -> None:
    text = data.draw(json_texts(tree), label="text")
    repeated = _first_repeat(tree)
    if repeated is not None:
        with pytest.raises(BadJson) as caught:
            jsonbody.loads(text.encode())
        assert caught.value.details[0]["path"] == repeated
        return
    document = jsonbody.loads(text.encode())
    assert _typed(document) == _typed(json.loads(text))
    if _fits_64_bits(tree):
        assert _typed(document) == _typed(orjson.loads(text))


@settings(max_examples=EXAMPLES, deadline=None)
@given(tree=BODY_TREES, key=OBJECT_KEYS, data=st.data())
def test_a_key_repeated_in_any_object_at_any_depth_is_refused(
    tree: Any, key: str, data: st.DataObject
) -> None:
    # Wrap the tree so it holds at least one object, pick one of its objects and repeat a
    # key in it; wherever it is, the body is refused naming that place.
    wrapped = Members([("data", tree)])
    objects = [wrapped, *_objects(tree)]
    target = data.draw(st.sampled_from(objects), label="object")
    position = data.draw(st.integers(min_value=0, max_value=len(target)), label="position")
    target.insert(position, (key, None))
    target.append((key, 1))
    text = data.draw(json_texts(wrapped), label="text")
    with pytest.raises(BadJson) as caught:
        jsonbody.loads(text.encode())
    assert caught.value.details[0]["path"] == _first_repeat(wrapped)


def _objects(tree: Any) -> list[Members]:
    found: list[Members] = []
    if isinstance(tree, Members):
        found.append(tree)
        for _, value in tree:
            found.extend(_objects(value))
    elif isinstance(tree, list):
        for value in tree:
            found.extend(_objects(value))
    return found


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    value=st.floats(min_value=2.0**63, allow_infinity=False)
    | st.floats(max_value=-(2.0**63), allow_infinity=False)
)
def test_orjson_writes_every_float_an_integer_could_widen_to_with_an_exponent(
    value: float,
) -> None:
    # jsonbody reads a body again for exact integers only when orjson wrote an "e+".
    assert b"e+" in orjson.dumps(value)
