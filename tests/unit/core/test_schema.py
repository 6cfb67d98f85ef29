"""JSON Schema from signatures, Annotated constraints (checked by the binder too), and
parameter descriptions from docstrings."""

from __future__ import annotations

import datetime as dt
import enum
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

import jsonschema
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servekit import Length, OneOf, Pattern, Range
from servekit.core.binding import Binder, Call
from servekit.core.docstrings import parameter_docs, summary
from servekit.core.schema import SchemaBuilder, signature_schema
from servekit.core.signature import Signature
from servekit.core.tensors import TensorSpec
from servekit.errors import InvalidArguments


class Plan(enum.Enum):
    BASIC = "basic"
    PRO = "pro"


@dataclass
class Node:
    value: int
    children: list[Node] = ()  # type: ignore[assignment]


class Point(typing.TypedDict):
    x: float
    y: float


def typed(
    age: Annotated[int, Range(ge=0, le=130)],
    name: Annotated[str, Length(min=1, max=8), Pattern(r"^[a-z]+$")],
    plan: Plan = Plan.BASIC,
    tier: Annotated[str, OneOf("a", "b")] = "a",
    tree: Optional[Node] = None,
    where: Point | None = None,
    when: dt.date | None = None,
    mode: Literal["x", "y"] = "x",
    pair: tuple[int, str] = (1, "a"),
    scores: dict[str, float] | None = None,
    *,
    flags: Annotated[list[bool], Length(max=3)] = (),  # type: ignore[assignment]
) -> None:
    """Score a customer.

    Args:
        age: in years.
        name: lower-case letters.
    """


def test_the_schema_says_what_the_binder_accepts() -> None:
    schema = signature_schema(Signature.from_callable(typed), parameter_docs(typed))
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert props["age"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 130,
        "description": "in years.",
    }
    assert props["name"]["minLength"] == 1
    assert props["name"]["maxLength"] == 8
    assert props["name"]["pattern"] == "^[a-z]+$"
    assert props["plan"] == {"$ref": "#/$defs/Plan", "default": "basic"}
    assert props["tier"]["enum"] == ["a", "b"]
    assert props["flags"]["maxItems"] == 3
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert props["when"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert schema["required"] == ["age", "name"]
    assert schema["additionalProperties"] is False
    assert set(schema["$defs"]) == {"Plan", "Node", "Point"}
    node = schema["$defs"]["Node"]
    assert node["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


def test_constraints_are_enforced_by_the_binder() -> None:
    binder = Binder(Signature.from_callable(typed))
    binder.bind(Call("data", {"age": 30, "name": "ann"}))
    with pytest.raises(InvalidArguments) as caught:
        binder.bind(Call("data", {"age": -1, "name": "ANN", "tier": "c", "flags": [True] * 4}))
    paths = {d["path"]: d["expected"] for d in caught.value.details}
    assert paths == {
        "data.age": "integer >= 0",
        "data.name": "string matching '^[a-z]+$'",
        "data.tier": "string one of 'a', 'b'",
        "data.flags": "array of boolean length <= 3",
    }


@given(age=st.integers(-5, 140), name=st.text(max_size=10))
def test_valid_under_the_schema_is_valid_for_the_binder(age: int, name: str) -> None:
    schema = signature_schema(Signature.from_callable(typed))
    document = {"age": age, "name": name}
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(document)
    try:
        Binder(Signature.from_callable(typed)).bind(Call("data", document))
        binder_ok = True
    except InvalidArguments:
        binder_ok = False
    assert schema_ok == binder_ok, (document, schema_ok, binder_ok)


def test_tensors_numpy_and_unknown_types() -> None:
    builder = SchemaBuilder()
    tensor = builder.of(TensorSpec(np.dtype("uint8"), (None, 3)))
    assert tensor["minItems"] == 1
    assert tensor["items"] == {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 255},
        "minItems": 3,
        "maxItems": 3,
    }
    assert builder.of(np.int64) == {"type": "integer"}
    assert builder.of(Any) == {}
    assert builder.of(object()) == {}


def test_docstring_styles() -> None:
    def numpy_style(a: int, b: int) -> int:
        """Add.

        Parameters
        ----------
        a : int
            The first.
        b : int
            The second,
            on two lines.
        """
        return a + b

    def sphinx_style(a: int) -> int:
        """Double.

        :param a: the value
        """
        return a

    assert parameter_docs(numpy_style) == {"a": "The first.", "b": "The second, on two lines."}
    assert parameter_docs(sphinx_style) == {"a": "the value"}
    assert summary(typed) == "Score a customer."
