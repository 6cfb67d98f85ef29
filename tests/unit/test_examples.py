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
from servekit.core.schema import signature_schema
from servekit.core.signature import EMPTY, Param, ParamKind, Signature


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


# ---- the examples of real signatures bind ----


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
