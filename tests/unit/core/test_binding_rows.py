"""Domino's list of rows, ``{"data": [{...}, ...]}``: bound row by row for a tabular
signature (one with ``rows``), refused with the usual 400 for any other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from servekit.core.binding import Binder, Call
from servekit.core.signature import Param, ParamKind, Signature
from servekit.errors import BadRequest, InvalidArguments
from servekit.protocols.domino import parse_request

KEYWORD = ParamKind.POSITIONAL_OR_KEYWORD


@dataclass(frozen=True)
class Tabular(Signature):
    rows: Signature | None = None


ROW = Signature(
    (
        Param("age", KEYWORD, int),
        Param("plan", KEYWORD, str),
        Param("score", KEYWORD, float | None, None),
    )
)
WHOLE = Tabular(
    (
        Param("age", KEYWORD, int | list[int]),
        Param("plan", KEYWORD, str | list[str]),
        Param("score", KEYWORD, float | list[float | None] | None, None),
        Param("scale", ParamKind.KEYWORD_ONLY, float, 1.0),
    ),
    rows=ROW,
)


def bind(body: dict[str, Any], signature: Signature = WHOLE) -> Any:
    return Binder(signature).bind(parse_request(orjson.dumps(body)))


def problems(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidArguments) as caught:
        bind(body)
    return [(p.path, p.expected, p.got) for p in caught.value.problems]


def test_rows_become_columns_in_first_seen_order() -> None:
    bound = bind({"data": [{"plan": "pro", "age": 3}, {"age": 40, "plan": "basic", "score": 2}]})
    assert bound.args == ()
    assert bound.kwargs == {"plan": ["pro", "basic"], "age": [3, 40], "score": [None, 2.0]}
    assert type(bound.kwargs["score"][1]) is float


def test_the_object_and_column_forms_are_unchanged() -> None:
    assert bind({"data": {"age": 3, "plan": "pro"}}).kwargs == {"age": 3, "plan": "pro"}
    columns = bind({"data": {"age": [3, 4], "plan": ["a", "b"], "scale": 2}}).kwargs
    assert columns == {"age": [3, 4], "plan": ["a", "b"], "scale": 2.0}


def test_each_row_is_checked_on_its_own_with_its_index() -> None:
    found = problems({"data": [{"age": 3, "plan": "pro"}, {"age": "x"}, 7]})
    assert found == [
        ("data[1].age", "integer", 'string "x"'),
        ("data[1].plan", "string", "nothing (required)"),
        ("data[2]", "an object (one row)", "integer 7"),
    ]


def test_a_row_takes_one_value_per_column_and_only_the_columns() -> None:
    found = problems({"data": [{"age": [1, 2], "plan": "p", "scale": 2}]})
    assert found[0] == ("data[0].age", "integer", "array of 2 items")
    assert found[1][0] == "data[0].scale"
    assert found[1][2] == "an unknown argument (integer 2)"


def test_no_rows_is_a_422() -> None:
    assert problems({"data": []}) == [("data", "at least one row (an object)", "an empty array")]


def test_other_signatures_refuse_rows_as_before() -> None:
    plain = Signature((Param("age", KEYWORD, int),))
    with pytest.raises(BadRequest) as caught:
        bind({"data": [{"age": 1}]}, plain)
    assert (
        caught.value.message
        == '"data" must be a JSON object of named arguments, got array of 1 item'
    )
    with pytest.raises(BadRequest, match='"data" must be a JSON object of named arguments, got'):
        parse_request(b'{"data": "text"}')


def test_positional_parameters_are_not_rows() -> None:
    bound = Binder(WHOLE).bind(Call("parameters", [3, "pro"]))
    assert bound.args == (3, "pro")
