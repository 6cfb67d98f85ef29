"""Example values from JSON Schemas: the rules, and (hypothesis) that the example made
for any signature's schema is a request the binder accepts."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import typing
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

import jsonschema  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servekit import Length, OneOf, Pattern, Range
from servekit.core.binding import Binder, Call
from servekit.core.examples import example_request, example_value
from servekit.core.schema import SchemaBuilder, signature_schema
from servekit.core.signature import EMPTY, Param, ParamKind, Signature
from servekit.loading import load_dataplane
from servekit.protocols.domino import DominoCodec
from servekit.settings import Settings
from tests.conftest import EXAMPLES


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "default": 7, "examples": [3]}, 7),
        ({"type": "integer", "examples": [3, 4]}, 3),
        ({"const": "fixed"}, "fixed"),
        ({"enum": ["b", "a"]}, "b"),
        ({"anyOf": [{"type": "null"}, {"type": "string", "format": "date"}]}, "2024-01-01"),
        ({"type": ["null", "integer"]}, 1),
        ({"type": "boolean"}, True),
        ({"type": "null"}, None),
        ({}, None),
        ({"type": "integer", "default": None}, 1),  # `x: int = None`: that default is not allowed
        ({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}, None),
    ],
)
def test_chosen_values(schema: dict[str, Any], expected: Any) -> None:
    assert example_value(schema) == expected


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer"}, 1),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "integer", "exclusiveMinimum": 1}, 2),
        ({"type": "integer", "minimum": 1.5}, 2),
        ({"type": "integer", "exclusiveMaximum": 1}, 0),
        ({"type": "number"}, 1.0),
        ({"type": "number", "minimum": 2.5}, 2.5),
        ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, 0.5),
        ({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1.5}, 1.25),
        ({"type": "number", "maximum": 0}, 0.0),
    ],
)
def test_numbers_keep_to_their_bounds(schema: dict[str, Any], expected: Any) -> None:
    value = example_value(schema)
    assert value == expected
    assert type(value) is (int if schema["type"] == "integer" else float)


def test_strings_keep_to_their_length_pattern_and_format() -> None:
    assert example_value({"type": "string"}) == "string"
    assert example_value({"type": "string", "minLength": 10}) == "stringstri"
    assert example_value({"type": "string", "maxLength": 3}) == "str"
    assert example_value({"type": "string", "pattern": "^[0-9]$"}) == "0"
    assert example_value({"type": "string", "pattern": "^[A-Z]+$", "maxLength": 2}) == "A"
    assert example_value({"type": "string", "pattern": "(unclosed"}) == "string"
    stamp = example_value({"type": "string", "format": "date-time"})
    assert dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None
    assert dt.date.fromisoformat(example_value({"type": "string", "format": "date"}))
    assert uuid.UUID(example_value({"type": "string", "format": "uuid"})).version == 4


def test_objects_get_required_properties_and_optional_ones_with_defaults() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "string", "default": "x"},
            "c": {"type": "number"},
            "d": {"type": "integer", "default": None},
        },
        "required": ["a"],
    }
    assert example_value(schema) == {"a": 1, "b": "x"}
    assert example_value({"type": "object", "additionalProperties": {"type": "number"}}) == {
        "key": 1.0
    }
    assert example_value({"type": "object", "additionalProperties": True}) == {}


def test_arrays() -> None:
    assert example_value({"type": "array", "items": {"type": "integer"}}) == [1]
    assert (
        example_value({"type": "array", "items": {"type": "string"}, "minItems": 3})
        == ["string"] * 3
    )
    assert example_value({"type": "array", "items": {"type": "integer"}, "maxItems": 0}) == []
    assert example_value({"type": "array"}) == []  # items unknown: nothing to guess
    pair = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]}
    assert example_value(pair) == [1, True]
    unique = {"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True}
    assert example_value(unique) == [1, 2, 3]


def test_refs_are_followed_and_recursive_types_end() -> None:
    schema = {
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/Node"}},
        "required": ["tree"],
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                },
                "required": ["value", "children", "parent"],
            }
        },
    }
    assert example_request(schema) == {
        "data": {"tree": {"value": 1, "children": [], "parent": None}}
    }


def test_example_request_wraps_the_data_form() -> None:
    assert example_request({"type": "object", "properties": {}}) == {"data": {}}
    assert example_request({}) == {"data": {}}


def test_given_values_outside_the_bounds_are_passed_over() -> None:
    assert example_value({"type": "integer", "minimum": 10, "examples": [3, 42]}) == 42
    assert example_value({"type": "integer", "minimum": 10, "default": 0}) == 10
    assert example_value({"type": "integer", "enum": [1, 2, 3], "minimum": 2}) == 2
    assert example_value({"type": "integer", "examples": [1.5, True, 4]}) == 4
    assert example_value({"type": "string", "format": "date", "examples": ["soon"]}) == (
        "2024-01-01"
    )
    short = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "default": []}
    assert example_value(short) == [1, 1]


def test_numbers_made_up_for_one_object_differ_and_rise() -> None:
    ints = {"type": "integer"}
    schema = {
        "type": "object",
        "properties": {
            "start": ints,
            "stop": ints,
            "step": {**ints, "default": 1},
            "low": {"type": "number"},
            "high": {"type": "number"},
            "row": {"$ref": "#/$defs/Row"},
            "pair": {"type": "array", "prefixItems": [ints, ints], "items": False},
        },
        "required": ["start", "stop", "low", "high", "row", "pair"],
        "$defs": {"Row": {"type": "object", "properties": {"a": ints}, "required": ["a"]}},
    }
    assert example_value(schema) == {
        "start": 1,
        "stop": 2,
        "step": 1,  # a default is used as it is
        "low": 3.0,
        "high": 4.0,
        "row": {"a": 1},  # each object counts afresh
        "pair": [1, 2],
    }
    narrow = {"type": "integer", "minimum": 0, "maximum": 1}
    unit = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    fixed = {"type": "integer", "minimum": 7, "maximum": 7}
    three = {"a": narrow, "b": narrow, "c": unit, "d": unit, "e": fixed, "f": fixed}
    assert example_value({"type": "object", "properties": three, "required": list(three)}) == {
        "a": 1,
        "b": 0,  # above 1 is out of bounds: below, then
        "c": 0.5,
        "d": 0.75,  # halfway to the upper bound
        "e": 7,
        "f": 7,  # the only value there is
    }


@pytest.mark.parametrize(
    "pattern",
    [
        r"^\d{5}$",
        r"^[A-Z]{2}-\d{4}$",
        r"^(?:ab|cd)+x?$",
        r"^[^a-z0-9]+$",
        r"^(\w)\1!$",
        r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
        r"^\S+\s\S+$",
        r"(?i)^HeLLo$",
        r"^v\d+\.\d+\.\d+(-rc\d+)?$",
    ],
)
def test_strings_are_built_from_a_pattern_no_word_fits(pattern: str) -> None:
    schema = {"type": "string", "pattern": pattern, "minLength": 3}
    jsonschema.Draft202012Validator(schema).validate(example_value(schema))


def test_annotated_examples_are_shown_and_used() -> None:
    schema = SchemaBuilder().of(Annotated[int, Range(ge=10), Shown((3, 42))])
    assert schema == {"type": "integer", "minimum": 10, "examples": [3, 42]}
    assert example_value(schema) == 42  # 3 is below the minimum


def test_the_range_example_is_a_request_with_an_answer() -> None:
    """examples/range: ``range(start, stop, step)`` of the example is not empty."""
    plane = load_dataplane(Settings(target=f"{EXAMPLES}/range/model.py:predict"))
    example = example_request(signature_schema(plane.binder.signature))
    assert example == {"data": {"start": 1, "stop": 2, "step": 1}}
    answer = orjson.loads(DominoCodec(plane).predict(orjson.dumps(example), "rid").body)
    assert answer["result"]["values"], answer


# ---- the examples of real signatures bind ----


@dataclass(frozen=True)
class Shown:
    """``Annotated`` metadata with examples, as pydantic's ``Field(examples=...)`` has."""

    examples: tuple[Any, ...]


class Plan(enum.Enum):
    BASIC = "basic"
    PRO = "pro"


@dataclass
class Customer:
    age: Annotated[int, Range(ge=18, le=130)]
    plan: Plan
    name: str = "anon"


@dataclass
class Node:
    value: int
    children: list[Node]
    parent: Optional[Node] = None


class Point(typing.TypedDict):
    x: float
    y: float


def readme(start: int, stop: int, step: int = 1) -> dict[str, Any]:
    return {}


def churn(customers: list[Customer], threshold: Annotated[float, Range(gt=0, lt=1)] = 0.5) -> Any:
    return None


def shapes(
    points: Annotated[list[Point], Length(min=2)],
    pair: tuple[int, str],
    tags: set[str],
    weights: dict[str, float],
    tree: Node,
    *,
    mode: Literal["fast", "exact"] = "fast",
) -> None:
    return None


def scalars(
    when: dt.datetime,
    day: dt.date,
    at: dt.time,
    key: uuid.UUID,
    amount: decimal.Decimal,
    code: Annotated[str, Length(min=3, max=3), Pattern(r"^[A-Z]+$")],
    level: Annotated[int, OneOf(1, 2, 3)],
    maybe: int | None,
    unset: int = None,  # type: ignore[assignment]  # noqa: RUF013 (what users write)
    **extra: Any,
) -> None:
    return None


def arrays(  # type: ignore[no-untyped-def]  # `anything` has no hint: anything goes
    matrix: npt.NDArray[np.float64], raw: np.ndarray, scale: np.float32, anything=None
) -> None:
    return None


FUNCTIONS = (readme, churn, shapes, scalars, arrays)


def binds(signature: Signature) -> dict[str, Any]:
    """The example of ``signature``'s schema (as JSON, as the tester page sends it); it
    must bind, and fit the schema."""
    schema = orjson.loads(orjson.dumps(signature_schema(signature)))
    example = orjson.loads(orjson.dumps(example_request(schema)))
    Binder(signature).bind(Call("data", example["data"]))  # raises InvalidArguments if not
    jsonschema.Draft202012Validator(schema).validate(example["data"])
    return dict(example)


@given(st.sampled_from(FUNCTIONS))
def test_the_example_of_each_function_binds(fn: Any) -> None:
    binds(Signature.from_callable(fn))


LEAVES = st.sampled_from(
    [
        *(int, float, str, bool, type(None), dt.datetime, dt.date, uuid.UUID, Any),
        *(Plan, Customer, Point, Node, Literal["a", 2], Annotated[str, OneOf("p", "q")]),
        *(Annotated[int, Range(ge=3)], Annotated[float, Range(gt=-1, lt=0)]),
        Annotated[str, Length(min=4)],
        *(Annotated[int, Range(ge=0, le=1)], Annotated[int, Range(gt=-3, lt=3)]),
        Annotated[float, Range(ge=0.25, le=0.25)],
        Annotated[int, OneOf(1, 2, 3), Range(ge=2)],
        Annotated[int, Range(ge=10), Shown((3, 42))],
        Annotated[str, Pattern(r"^\d{3}-[A-Z]{2}$")],
        Annotated[str, Length(min=2, max=5), Pattern(r"^[a-z]+$")],
        Annotated[str, Pattern(r"^(?:yes|no)$"), Shown(("maybe",))],
    ]
)


def _wrapped(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        inner.map(lambda t: list[t]),  # type: ignore[valid-type]
        inner.map(lambda t: Optional[t]),
        inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
        st.tuples(inner, inner).map(lambda ts: tuple[ts]),  # type: ignore[valid-type]
        inner.map(lambda t: Annotated[list[t], Length(min=2, max=3)]),  # type: ignore[valid-type]
    )


ANNOTATIONS = st.recursive(LEAVES, _wrapped, max_leaves=4)
KINDS = st.sampled_from([ParamKind.POSITIONAL_OR_KEYWORD, ParamKind.KEYWORD_ONLY])


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(ANNOTATIONS, KINDS, st.booleans()), max_size=5), st.data())
def test_the_example_of_any_signature_binds(
    shape: list[tuple[Any, ParamKind, bool]], data: st.DataObject
) -> None:
    ordered = sorted(shape, key=lambda p: p[1])  # keyword-only parameters come last
    params = tuple(Param(f"p{i}", kind, ann) for i, (ann, kind, _) in enumerate(ordered))
    example = binds(Signature(params))["data"]
    # Defaults the schema shows (JSON ones) are used as they are: they must bind too.
    bound = Binder(Signature(params)).bind(Call("data", example)).kwargs
    with_defaults = tuple(
        Param(p.name, p.kind, p.annotation, bound[p.name] if default else EMPTY)
        for p, (_, _, default) in zip(params, ordered, strict=True)
    )
    if data.draw(st.booleans()):  # and `x: T = None`, whatever T is
        with_defaults = tuple(
            Param(p.name, p.kind, p.annotation, None if p.default is EMPTY else p.default)
            for p in with_defaults
        )
    binds(Signature(with_defaults))


# ---- any schema's example fits it ----

PATTERNS = [
    None,
    r"^[a-z]+$",
    r"^\d{2,4}$",
    r"^[A-Z][a-z]*( [A-Z][a-z]*)?$",
    r"^(?:red|green|blue)$",
    r"^[^\s]+@[^\s]+$",
    r"x",
]


@st.composite
def integer_schemas(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """An integer schema whose bounds allow at least one integer, and how many they allow."""
    low, high = draw(st.one_of(st.none(), st.integers(-50, 50))), None
    if draw(st.booleans()):
        high = draw(st.integers(low if low is not None else -50, 60))
    schema: dict[str, Any] = {"type": "integer"}
    if low is not None:
        exclusive = draw(st.booleans())
        schema["exclusiveMinimum" if exclusive else "minimum"] = low - 1 if exclusive else low
    if high is not None:
        exclusive = draw(st.booleans())
        schema["exclusiveMaximum" if exclusive else "maximum"] = high + 1 if exclusive else high
    allowed = 10**6 if low is None or high is None else high - low + 1
    return schema, allowed


@st.composite
def number_schemas(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """A number schema with bounds (a single point when both are inclusive and equal)."""
    bound = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
    low, high = draw(st.one_of(st.none(), bound)), draw(st.one_of(st.none(), bound))
    if low is not None and high is not None and high - low < 1e-3:
        high = low
    schema: dict[str, Any] = {"type": "number"}
    point = low is not None and low == high
    if low is not None:
        schema["minimum" if point or draw(st.booleans()) else "exclusiveMinimum"] = low
    if high is not None:
        schema["maximum" if point or draw(st.booleans()) else "exclusiveMaximum"] = high
    return schema, 1 if point else 10**6


@st.composite
def string_schemas(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    schema: dict[str, Any] = {"type": "string"}
    pattern = draw(st.sampled_from(PATTERNS))
    if pattern is not None:
        schema["pattern"] = pattern
    else:  # lengths with a pattern can contradict it: only bare strings get them
        least = draw(st.integers(0, 6))
        schema["minLength"] = least
        schema["maxLength"] = draw(st.integers(least, 12))
    return schema, 0


SCALARS = st.one_of(integer_schemas(), number_schemas(), string_schemas())


@settings(deadline=None)
@given(st.lists(SCALARS, min_size=1, max_size=6), st.data())
def test_any_object_example_fits_its_schema_and_its_numbers_differ(
    parts: list[tuple[dict[str, Any], int]], data: st.DataObject
) -> None:
    properties = {f"p{i}": schema for i, (schema, _) in enumerate(parts)}
    with_examples = data.draw(st.booleans())
    if with_examples:  # given values, some out of bounds: only those that fit are used
        for schema in properties.values():
            schema["examples"] = data.draw(st.lists(st.integers(-100, 100), max_size=3))
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    example = example_value(schema)
    jsonschema.Draft202012Validator(schema).validate(example)
    made_up = [
        example[name]
        for name, (part, allowed) in zip(properties, parts, strict=True)
        if part["type"] != "string" and not with_examples
    ]
    wide = all(allowed >= len(parts) for part, allowed in parts if part["type"] != "string")
    if wide:
        assert len(set(made_up)) == len(made_up), example
