"""Unit tests of TypeCompiler: one rule per test, each problem checked by path and words."""

import dataclasses
import datetime as dt
import enum
import typing
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict, Union

import numpy as np
import pytest
from numpy.typing import NDArray

from servekit.core.types import TypeCompiler
from servekit.errors import Problem


def convert(annotation: Any, value: Any) -> tuple[Any, list[Problem], TypeCompiler]:
    """Compile ``annotation`` and convert ``value`` found at ``data.x``."""
    compiler = TypeCompiler()
    problems: list[Problem] = []
    result = compiler.compile(annotation).convert(value, "data", "x", problems)
    return result, problems, compiler


def ok(annotation: Any, value: Any) -> Any:
    """Convert a value that must be accepted; return the converted value."""
    result, problems, _ = convert(annotation, value)
    assert problems == []
    return result


def rejected(annotation: Any, value: Any) -> list[tuple[str, str, str]]:
    """Convert a value that must be refused; return its problems as (path, expected, got)."""
    _, problems, _ = convert(annotation, value)
    assert problems, f"{value!r} was accepted as {annotation!r}"
    return [(p.path, p.expected, p.got) for p in problems]


# --- scalars ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, -7, 2**63 - 1, -(2**63)])
def test_int_accepts_json_integers(value: int) -> None:
    result = ok(int, value)
    assert result == value
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (1.0, "number 1.0"),
        (2.5, "number 2.5"),
        (True, "boolean true"),
        (False, "boolean false"),
        ("1", 'string "1"'),
        (None, "null"),
        ([1], "array of 1 item"),
        ({"a": 1}, "object with keys a"),
    ],
)
def test_int_rejects_floats_booleans_and_others(value: Any, got: str) -> None:
    assert rejected(int, value) == [("data.x", "integer", got)]


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), (-2, -2.0), (0, 0.0), (1.5, 1.5)])
def test_float_accepts_ints_and_converts_them(value: Any, expected: float) -> None:
    result = ok(float, value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("value", "got"), [(True, "boolean true"), ("1.5", 'string "1.5"'), (None, "null")]
)
def test_float_rejects_booleans_and_strings(value: Any, got: str) -> None:
    assert rejected(float, value) == [("data.x", "number", got)]


@pytest.mark.parametrize("value", [True, False])
def test_bool_accepts_true_and_false(value: bool) -> None:
    assert ok(bool, value) is value


@pytest.mark.parametrize(
    ("value", "got"),
    [(0, "integer 0"), (1, "integer 1"), ("true", 'string "true"'), (None, "null")],
)
def test_bool_rejects_zero_one_and_strings(value: Any, got: str) -> None:
    assert rejected(bool, value) == [("data.x", "boolean", got)]


def test_str_accepts_strings() -> None:
    assert ok(str, "héllo") == "héllo"


@pytest.mark.parametrize(
    ("value", "got"), [(1, "integer 1"), (None, "null"), (["a"], "array of 1 item")]
)
def test_str_rejects_non_strings(value: Any, got: str) -> None:
    assert rejected(str, value) == [("data.x", "string", got)]


def test_long_strings_are_shortened_in_problem_text() -> None:
    [(_, _, got)] = rejected(int, "a" * 100)
    assert got == 'string "' + "a" * 40 + '..."'


@pytest.mark.parametrize("annotation", [None, type(None)])
def test_none_accepts_only_null(annotation: Any) -> None:
    assert ok(annotation, None) is None
    assert rejected(annotation, 0) == [("data.x", "null", "integer 0")]


@pytest.mark.parametrize("annotation", [Optional[int], int | None, Union[None, int]])
def test_optional_accepts_null_and_the_inner_type(annotation: Any) -> None:
    assert ok(annotation, None) is None
    assert ok(annotation, 5) == 5


def test_optional_keeps_the_inner_problem_details() -> None:
    assert rejected(Optional[list[int]], [1, "a"]) == [("data.x[1]", "integer", 'string "a"')]
    assert rejected(Optional[int], "a") == [("data.x", "integer", 'string "a"')]


# --- unions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), ("a", "a"), (True, True), ([1, 2], [1, 2])]
)
def test_union_takes_the_first_member_that_fits(value: Any, expected: Any) -> None:
    result = ok(Union[int, str, bool, list[int]], value)
    assert result == expected
    assert type(result) is type(expected)


def test_union_member_order_decides_conversion() -> None:
    assert type(ok(float | int, 3)) is float
    assert type(ok(int | float, 3)) is int


def test_union_rejects_what_no_member_accepts() -> None:
    assert rejected(int | str, 1.5) == [("data.x", "integer or string", "number 1.5")]


def test_union_with_null_and_two_members() -> None:
    annotation = Union[int, str, None]
    assert ok(annotation, None) is None
    assert rejected(annotation, 1.5) == [("data.x", "integer or string or null", "number 1.5")]


# --- containers --------------------------------------------------------------------------


@pytest.mark.parametrize("annotation", [list[int], typing.List[int], typing.Sequence[int]])  # noqa: UP006
def test_list_converts_each_item(annotation: Any) -> None:
    assert ok(annotation, [1, 2, 3]) == [1, 2, 3]


def test_list_reports_every_bad_item_at_its_index() -> None:
    assert rejected(list[int], [1, "a", 2.5, True]) == [
        ("data.x[1]", "integer", 'string "a"'),
        ("data.x[2]", "integer", "number 2.5"),
        ("data.x[3]", "integer", "boolean true"),
    ]


def test_list_rejects_non_arrays() -> None:
    assert rejected(list[int], {"a": 1}) == [("data.x", "array of integer", "object with keys a")]


def test_list_of_floats_converts_ints() -> None:
    result = ok(list[float], [1, 2.5])
    assert result == [1.0, 2.5]
    assert [type(x) for x in result] == [float, float]


def test_nested_lists_report_the_inner_index() -> None:
    assert rejected(list[list[int]], [[1], [2, None]]) == [("data.x[1][1]", "integer", "null")]


def test_bare_list_passes_items_through() -> None:
    assert ok(list, [1, "a", None]) == [1, "a", None]
    assert rejected(list, "a") == [("data.x", "array", 'string "a"')]


def test_homogeneous_tuple() -> None:
    result = ok(tuple[int, ...], [1, 2, 3])
    assert result == (1, 2, 3)
    assert type(result) is tuple
    assert ok(tuple[int, ...], []) == ()
    assert rejected(tuple[int, ...], [1, "a"]) == [("data.x[1]", "integer", 'string "a"')]


def test_fixed_tuple_converts_each_position() -> None:
    result = ok(tuple[int, str, float], [1, "a", 2])
    assert result == (1, "a", 2.0)
    assert type(result[2]) is float


def test_fixed_tuple_reports_each_wrong_position() -> None:
    assert rejected(tuple[int, str], ["a", 1]) == [
        ("data.x[0]", "integer", 'string "a"'),
        ("data.x[1]", "string", "integer 1"),
    ]


@pytest.mark.parametrize(
    ("value", "got"),
    [([1], "array of 1 item"), ([1, "a", 3], "array of 3 items"), ([], "array of 0 items")],
)
def test_fixed_tuple_length_mismatch_is_a_problem(value: Any, got: str) -> None:
    assert rejected(tuple[int, str], value) == [
        ("data.x", "array of 2 items [integer, string]", got)
    ]


@pytest.mark.parametrize(("annotation", "kind"), [(set[int], set), (frozenset[int], frozenset)])
def test_set_and_frozenset(annotation: Any, kind: type) -> None:
    result = ok(annotation, [3, 1, 3])
    assert result == {1, 3}
    assert type(result) is kind


def test_set_reports_bad_items_and_unhashable_items() -> None:
    assert rejected(set[int], [1, "a"]) == [("data.x[1]", "integer", 'string "a"')]
    assert rejected(set, [[1]]) == [
        ("data.x", "array (distinct, hashable items)", "array with unhashable items")
    ]


def test_dict_of_str_to_type_converts_values() -> None:
    result = ok(dict[str, float], {"a": 1, "b": 2.5})
    assert result == {"a": 1.0, "b": 2.5}
    assert type(result["a"]) is float


def test_dict_reports_each_bad_value_at_its_key() -> None:
    assert rejected(dict[str, int], {"a": 1, "b": "x", "c": None}) == [
        ("data.x.b", "integer", 'string "x"'),
        ("data.x.c", "integer", "null"),
    ]
    assert rejected(dict[str, int], [1]) == [("data.x", "object of integer", "array of 1 item")]


def test_dict_with_non_string_keys_warns_at_compile_time() -> None:
    result, problems, compiler = convert(dict[int, int], {"1": 1})
    assert problems == []
    assert result == {"1": 1}
    assert len(compiler.warnings) == 1
    assert "keys typed" in compiler.warnings[0]


# --- Literal and Enum --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "b"])
def test_literal_accepts_its_choices(value: str) -> None:
    assert ok(Literal["a", "b"], value) == value


def test_literal_rejects_other_values() -> None:
    assert rejected(Literal["a", "b"], "c") == [("data.x", "one of 'a', 'b'", 'string "c"')]


@pytest.mark.parametrize(
    ("value", "got"), [(True, "boolean true"), (1.0, "number 1.0"), ("1", 'string "1"')]
)
def test_literal_is_type_strict(value: Any, got: str) -> None:
    assert rejected(Literal[1], value) == [("data.x", "one of 1", got)]


def test_literal_true_rejects_one() -> None:
    assert ok(Literal[True], True) is True
    assert rejected(Literal[True], 1) == [("data.x", "one of True", "integer 1")]


def test_literal_one_and_literal_true_compile_apart() -> None:
    compiler = TypeCompiler()
    one = compiler.compile(Literal[1])
    true = compiler.compile(Literal[True])
    problems: list[Problem] = []
    assert one.convert(1, "data", "a", problems) == 1
    assert true.convert(True, "data", "b", problems) is True
    assert problems == []
    true.convert(1, "data", "b", problems)
    assert [p.path for p in problems] == ["data.b"]


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    ONE = 1


@pytest.mark.parametrize(
    ("value", "member"), [("red", Color.RED), ("green", Color.GREEN), (1, Color.ONE)]
)
def test_enum_by_value(value: Any, member: Color) -> None:
    assert ok(Color, value) is member


@pytest.mark.parametrize(
    ("value", "got"), [("RED", 'string "RED"'), (True, "boolean true"), (1.0, "number 1.0")]
)
def test_enum_rejects_names_and_other_types(value: Any, got: str) -> None:
    assert rejected(Color, value) == [("data.x", "one of 'red', 'green', 1 (Color)", got)]


# --- dataclasses -------------------------------------------------------------------------


@dataclasses.dataclass
class Kid:
    age: int
    name: str = "anon"


@dataclasses.dataclass
class Parent:
    name: str
    kids: list[Kid] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Range:
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low must not exceed high")


@dataclasses.dataclass
class Tree:
    value: int
    children: list["Tree"] = dataclasses.field(default_factory=list)


def test_dataclass_builds_nested_instances() -> None:
    result = ok(Parent, {"name": "p", "kids": [{"age": 3, "name": "k"}, {"age": 5}]})
    assert result == Parent("p", [Kid(3, "k"), Kid(5)])
    assert type(result.kids[0]) is Kid


def test_dataclass_defaults_fill_missing_fields() -> None:
    result = ok(Parent, {"name": "p"})
    assert result == Parent("p", [])
    assert ok(Kid, {"age": 1}).name == "anon"


def test_dataclass_nested_problem_paths() -> None:
    assert rejected(list[Parent], [{"name": "p", "kids": [{"age": "3"}]}]) == [
        ("data.x[0].kids[0].age", "integer", 'string "3"')
    ]


def test_dataclass_unknown_field() -> None:
    assert rejected(Kid, {"age": 1, "height": 2}) == [
        ("data.x.height", "a field of Kid (age, name)", "an unknown field (integer 2)")
    ]


def test_dataclass_missing_required_field() -> None:
    assert rejected(Kid, {"name": "k"}) == [("data.x.age", "integer", "nothing (required)")]


def test_dataclass_rejects_non_objects() -> None:
    assert rejected(Kid, [1]) == [("data.x", "object Kid", "array of 1 item")]


def test_dataclass_reports_all_field_problems_together() -> None:
    assert rejected(Parent, {"kids": [{"age": 1.5}, {"x": 1}]}) == [
        ("data.x.kids[0].age", "integer", "number 1.5"),
        ("data.x.kids[1].x", "a field of Kid (age, name)", "an unknown field (integer 1)"),
        ("data.x.kids[1].age", "integer", "nothing (required)"),
        ("data.x.name", "string", "nothing (required)"),
    ]


def test_dataclass_post_init_value_error_becomes_a_problem() -> None:
    assert ok(Range, {"low": 1, "high": 2}) == Range(1.0, 2.0)
    assert rejected(Range, {"low": 3, "high": 2}) == [
        ("data.x", "valid Range", "ValueError: low must not exceed high")
    ]


def test_recursive_dataclass() -> None:
    document = {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}, {"value": 4}]}
    result = ok(Tree, document)
    assert result == Tree(1, [Tree(2, [Tree(3)]), Tree(4)])
    assert type(result.children[0].children[0]) is Tree


def test_recursive_dataclass_problem_deep_down() -> None:
    document = {"value": 1, "children": [{"value": 2, "children": [{"value": "x"}]}]}
    assert rejected(Tree, document) == [
        ("data.x.children[0].children[0].value", "integer", 'string "x"')
    ]


# --- TypedDict ---------------------------------------------------------------------------


class Point(TypedDict):
    x: float
    y: float
    label: NotRequired[str]


def test_typeddict_converts_to_a_plain_dict() -> None:
    result = ok(Point, {"x": 1, "y": 2.5})
    assert result == {"x": 1.0, "y": 2.5}
    assert type(result) is dict
    assert type(result["x"]) is float
    assert ok(Point, {"x": 0, "y": 0, "label": "o"}) == {"x": 0.0, "y": 0.0, "label": "o"}


def test_typeddict_required_keys() -> None:
    assert rejected(Point, {"x": 1}) == [("data.x.y", "number", "nothing (required)")]


def test_typeddict_not_required_key_is_still_typed() -> None:
    assert rejected(Point, {"x": 1, "y": 2, "label": 3}) == [
        ("data.x.label", "string", "integer 3")
    ]


def test_typeddict_unknown_key() -> None:
    assert rejected(Point, {"x": 1, "y": 2, "z": 3}) == [
        ("data.x.z", "a field of Point (x, y, label)", "an unknown field (integer 3)")
    ]


# --- dates, decimals, UUIDs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06T07:08:09Z", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)),
        (
            "2024-05-06T07:08:09+02:00",
            dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
        (
            "2024-05-06T07:08:09.250-05:30",
            dt.datetime(
                2024, 5, 6, 7, 8, 9, 250000, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))
            ),
        ),
        ("2024-05-06T07:08:09", dt.datetime(2024, 5, 6, 7, 8, 9)),
    ],
)
def test_datetime_iso_8601(text: str, expected: dt.datetime) -> None:
    result = ok(dt.datetime, text)
    assert result == expected
    assert result.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("value", "got"),
    [("yesterday", 'string "yesterday"'), (1700000000, "integer 1700000000"), (None, "null")],
)
def test_datetime_rejects_non_iso(value: Any, got: str) -> None:
    assert rejected(dt.datetime, value) == [("data.x", "ISO 8601 date-time string", got)]


def test_date() -> None:
    assert ok(dt.date, "2024-02-29") == dt.date(2024, 2, 29)
    assert rejected(dt.date, "2023-02-29") == [
        ("data.x", "ISO 8601 date string (YYYY-MM-DD)", 'string "2023-02-29"')
    ]


def test_time() -> None:
    assert ok(dt.time, "07:08:09") == dt.time(7, 8, 9)
    assert ok(dt.time, "07:08Z") == dt.time(7, 8, tzinfo=dt.timezone.utc)
    assert rejected(dt.time, "25:00") == [("data.x", "ISO 8601 time string", 'string "25:00"')]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.10", Decimal("1.10")), ("-3", Decimal(-3)), (7, Decimal(7)), (0.5, Decimal("0.5"))],
)
def test_decimal_accepts_numbers_and_numeric_strings(value: Any, expected: Decimal) -> None:
    result = ok(Decimal, value)
    assert type(result) is Decimal
    assert result == expected
    assert str(result) == str(expected)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("NaN", 'string "NaN"'),
        ("Infinity", 'string "Infinity"'),
        ("-inf", 'string "-inf"'),
        ("abc", 'string "abc"'),
        (True, "boolean true"),
        (False, "boolean false"),
        (None, "null"),
    ],
)
def test_decimal_rejects_non_finite_and_booleans(value: Any, got: str) -> None:
    assert rejected(Decimal, value) == [("data.x", "decimal number or numeric string", got)]


def test_uuid() -> None:
    text = "12345678-1234-5678-1234-567812345678"
    assert ok(uuid.UUID, text) == uuid.UUID(text)
    assert rejected(uuid.UUID, "not-a-uuid") == [("data.x", "UUID string", 'string "not-a-uuid"')]
    assert rejected(uuid.UUID, 5) == [("data.x", "UUID string", "integer 5")]


# --- numpy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "value", "dtype"),
    [
        (NDArray[np.float32], [[1, 2.5], [3, 4]], np.float32),
        (NDArray[np.float64], [1.5, 2], np.float64),
        (NDArray[np.int64], [[1, 2], [3, -4]], np.int64),
        (NDArray[np.int8], [-128, 127], np.int8),
        (NDArray[np.bool_], [True, False], np.bool_),
        (NDArray[np.str_], ["a", "bcd"], np.dtype("<U3")),
    ],
)
def test_ndarray_with_dtype(annotation: Any, value: list[Any], dtype: Any) -> None:
    result = ok(annotation, value)
    assert type(result) is np.ndarray
    assert result.dtype == np.dtype(dtype)
    assert result.tolist() == value


@pytest.mark.parametrize(
    ("value", "kind"), [([1, 2], "i"), ([1.5], "f"), ([True], "b"), (["a"], "U")]
)
def test_bare_ndarray_infers_the_dtype(value: list[Any], kind: str) -> None:
    result = ok(np.ndarray, value)
    assert type(result) is np.ndarray
    assert result.dtype.kind == kind
    assert result.tolist() == value


@pytest.mark.parametrize(
    "annotation", [np.ndarray, NDArray[np.float32], NDArray[np.int64], NDArray[np.str_]]
)
def test_ndarray_rejects_ragged_arrays(annotation: Any) -> None:
    [(path, _, got)] = rejected(annotation, [[1, 2], [3]])
    assert path == "data.x"
    assert got == "ragged nested arrays (rows of unequal length)"


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ([1.0, None], "array of fractional numbers and nulls"),
        ([None], "array of nulls"),
        ([[1.0], [None]], "array of fractional numbers and nulls"),
    ],
)
def test_ndarray_rejects_nulls(value: list[Any], got: str) -> None:
    assert rejected(NDArray[np.float64], value) == [("data.x", "array of float64", got)]


@pytest.mark.parametrize(
    ("annotation", "value", "expected", "got"),
    [
        (NDArray[np.int64], [1.5, 2], "array of int64", "array of fractional numbers and integers"),
        (NDArray[np.float32], ["a"], "array of float32", "array of strings"),
        (NDArray[np.float32], [True, False], "array of float32", "array of booleans"),
        (NDArray[np.bool_], [0, 1], "array of bool", "array of integers"),
        (NDArray[np.str_], [1, 2], "array of str", "array of integers"),
        (NDArray[np.float64], "1", "array of float64", 'string "1"'),
        (NDArray[np.float64], {"a": 1}, "array of float64", "object with keys a"),
    ],
)
def test_ndarray_rejects_the_wrong_kind(
    annotation: Any, value: Any, expected: str, got: str
) -> None:
    assert rejected(annotation, value) == [("data.x", expected, got)]


@pytest.mark.parametrize(
    ("annotation", "value", "got"),
    [
        (NDArray[np.int8], [1, 300], "values outside -128..127"),
        (NDArray[np.int8], [-129], "values outside -128..127"),
        (NDArray[np.uint8], [-1, 2], "values outside 0..255"),
        (NDArray[np.int16], [[0], [40000]], "values outside -32768..32767"),
    ],
)
def test_ndarray_enforces_the_int_range(annotation: Any, value: Any, got: str) -> None:
    [(path, _, text)] = rejected(annotation, value)
    assert (path, text) == ("data.x", got)


def test_ndarray_empty_array_takes_the_dtype() -> None:
    result = ok(NDArray[np.int64], [])
    assert result.dtype == np.int64
    assert result.shape == (0,)


def test_ndarray_problem_inside_a_container_has_the_full_path() -> None:
    assert rejected(list[NDArray[np.float64]], [[1.0], [None]]) == [
        ("data.x[1]", "array of float64", "array of nulls")
    ]


@pytest.mark.parametrize(
    ("annotation", "value"),
    [(np.float32, 1.5), (np.float32, 2), (np.int64, -3), (np.uint8, 255), (np.bool_, True)],
)
def test_numpy_scalar_annotations(annotation: Any, value: Any) -> None:
    result = ok(annotation, value)
    assert type(result) is annotation
    assert result == value


@pytest.mark.parametrize(
    ("annotation", "value", "expected", "got"),
    [
        (np.float32, True, "number (float32)", "boolean true"),
        (np.float32, "1", "number (float32)", 'string "1"'),
        (np.int64, 1.0, "integer (int64)", "number 1.0"),
        (np.int8, 300, "integer (int8)", "integer 300"),
        (np.uint8, -1, "integer (uint8)", "integer -1"),
        (np.bool_, 1, "boolean (bool)", "integer 1"),
    ],
)
def test_numpy_scalar_rejections(annotation: Any, value: Any, expected: str, got: str) -> None:
    assert rejected(annotation, value) == [("data.x", expected, got)]


# --- Annotated, Any, unknown classes -----------------------------------------------------


@pytest.mark.parametrize("metadata", ["a note", {"unhashable": []}])
def test_annotated_int_behaves_like_int(metadata: Any) -> None:
    annotation = Annotated[int, metadata]
    assert ok(annotation, 4) == 4
    assert rejected(annotation, 4.0) == [("data.x", "integer", "number 4.0")]
    assert rejected(annotation, True) == [("data.x", "integer", "boolean true")]


@pytest.mark.parametrize("annotation", [Any, object])
def test_any_passes_values_through_without_warning(annotation: Any) -> None:
    value = {"a": [1, None]}
    result, problems, compiler = convert(annotation, value)
    assert result is value
    assert problems == []
    assert compiler.warnings == []


class Opaque:
    pass


def test_unknown_class_passes_through_with_a_warning() -> None:
    value = {"a": 1}
    result, problems, compiler = convert(Opaque, value)
    assert result is value
    assert problems == []
    assert compiler.warnings == [
        "servekit does not convert to Opaque; the decoded JSON value is passed as is"
    ]


def test_compiler_memoises_annotations() -> None:
    compiler = TypeCompiler()
    assert compiler.compile(list[Kid]) is compiler.compile(list[Kid])
    assert compiler.compile(Kid) is compiler.compile(Kid)


# --- regressions: bugs the property tests found, now fixed -----------------------------


def test_union_order_is_kept_when_an_equal_union_was_compiled_first() -> None:
    compiler = TypeCompiler()
    compiler.compile(float | int)
    problems: list[Problem] = []
    result = compiler.compile(int | float).convert(3, "data", "x", problems)
    assert type(result) is int


def test_empty_tuple_annotation_rejects_items() -> None:
    assert rejected(tuple[()], [1, 2]) == [("data.x", "array of 0 items []", "array of 2 items")]


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (NDArray[np.str_], [1, "a"]),
        (np.ndarray, [1, "a"]),
        (NDArray[np.int64], [True, 2]),
        (NDArray[np.float32], [1.0, True]),
    ],
    ids=["str-from-int-and-str", "any-from-int-and-str", "int64-from-bool", "float32-from-bool"],
)
def test_ndarray_rejects_mixed_kinds(annotation: Any, value: list[Any]) -> None:
    [(path, _, got)] = rejected(annotation, value)
    assert path == "data.x"
    assert " and " in got  # names both kinds that came, e.g. "array of integers and strings"


@pytest.mark.parametrize(
    ("annotation", "value"), [(np.datetime64, "abc"), (np.bytes_, "é")], ids=["datetime64", "bytes"]
)
def test_numpy_scalar_parse_errors_are_problems(annotation: Any, value: str) -> None:
    [(path, _, _)] = rejected(annotation, value)
    assert path == "data.x"


@pytest.mark.parametrize("annotation", [np.float32, NDArray[np.float32]])
def test_float32_overflow_is_a_problem(annotation: Any) -> None:
    value = 1e300 if annotation is np.float32 else [1e300]
    [(path, _, _)] = rejected(annotation, value)
    assert path == "data.x"


@dataclasses.dataclass
class WithInitVar:
    a: int
    scale: dataclasses.InitVar[int]

    def __post_init__(self, scale: int) -> None:
        self.a *= scale


def test_dataclass_initvar_can_be_given() -> None:
    assert ok(WithInitVar, {"a": 2, "scale": 3}).a == 6
