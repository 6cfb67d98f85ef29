"""Binder over real Python signatures: the three request forms, defaults, variadics, errors."""

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from servekit.core.binding import Binder, BoundCall, Call
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.core.signature import Signature
from servekit.errors import BadRequest, InvalidArguments, ModelError
from servekit.protocols.domino import DominoCodec
from servekit.runtimes.function import FunctionRuntime


def bind(fn: Callable[..., Any], root: str, values: dict[str, Any] | list[Any]) -> BoundCall:
    return Binder(Signature.from_callable(fn)).bind(Call(root, values))


def run(fn: Callable[..., Any], root: str, values: dict[str, Any] | list[Any]) -> Any:
    """Bind, then call ``fn`` with the bound arguments, as the runtime does."""
    bound = bind(fn, root, values)
    return fn(*bound.args, **bound.kwargs)


def failure(
    fn: Callable[..., Any], root: str, values: dict[str, Any] | list[Any]
) -> InvalidArguments:
    with pytest.raises(InvalidArguments) as caught:
        bind(fn, root, values)
    return caught.value


def problems(
    fn: Callable[..., Any], root: str, values: dict[str, Any] | list[Any]
) -> list[tuple[str, str, str]]:
    return [(p.path, p.expected, p.got) for p in failure(fn, root, values).problems]


def simple(a: int, b: float = 1.5, c: str = "c") -> dict[str, Any]:
    return {"a": a, "b": b, "c": c}


# --- the three forms ---------------------------------------------------------------------


def test_data_form_binds_keywords() -> None:
    bound = bind(simple, "data", {"a": 1, "b": 2, "c": "z"})
    assert bound.args == ()
    assert bound.kwargs == {"a": 1, "b": 2.0, "c": "z"}
    assert type(bound.kwargs["b"]) is float


def test_data_form_problem_paths() -> None:
    assert problems(simple, "data", {"a": "1"}) == [("data.a", "integer", 'string "1"')]


def test_positional_parameters_form() -> None:
    bound = bind(simple, "parameters", [1, 2, "z"])
    assert bound.args == (1, 2.0, "z")
    assert bound.kwargs == {}
    assert type(bound.args[1]) is float


def test_positional_parameters_form_problem_paths() -> None:
    assert problems(simple, "parameters", [1, 2, 3]) == [("parameters[2]", "string", "integer 3")]


def test_keyword_parameters_form() -> None:
    bound = bind(simple, "parameters", {"c": "z", "a": 4})
    assert bound.args == ()
    assert bound.kwargs == {"c": "z", "a": 4}


def test_keyword_parameters_form_problem_paths() -> None:
    assert problems(simple, "parameters", {"a": 1, "b": True}) == [
        ("parameters.b", "number", "boolean true")
    ]


def test_nested_problem_paths_start_at_the_argument() -> None:
    def fn(rows: list[dict[str, int]]) -> None: ...

    assert problems(fn, "data", {"rows": [{"age": 1}, {"age": "x"}]}) == [
        ("data.rows[1].age", "integer", 'string "x"')
    ]
    assert problems(fn, "parameters", [[{"age": None}]]) == [
        ("parameters[0][0].age", "integer", "null")
    ]


# --- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "values"),
    [("data", {"a": 7}), ("parameters", [7]), ("parameters", {"a": 7})],
)
def test_defaults_fill_missing_arguments(root: str, values: Any) -> None:
    assert run(simple, root, values) == {"a": 7, "b": 1.5, "c": "c"}


def test_missing_defaulted_arguments_are_left_to_python() -> None:
    bound = bind(simple, "data", {"a": 7})
    assert bound.kwargs == {"a": 7}


def test_untyped_parameters_take_any_json_value() -> None:
    def fn(a, b=None):  # type: ignore[no-untyped-def]
        return a, b

    assert run(fn, "data", {"a": {"k": [1, None]}, "b": "x"}) == ({"k": [1, None]}, "x")


# --- variadics ---------------------------------------------------------------------------


def test_kwargs_take_extra_keys() -> None:
    def fn(a: int, **extra: Any) -> Any:
        return a, extra

    assert run(fn, "data", {"a": 1, "x": [1], "y": None}) == (1, {"x": [1], "y": None})


def test_typed_kwargs_convert_extra_keys() -> None:
    def fn(**extra: float) -> Any:
        return extra

    result = run(fn, "data", {"x": 1, "y": 2.5})
    assert result == {"x": 1.0, "y": 2.5}
    assert type(result["x"]) is float


def test_typed_kwargs_validate_extra_keys() -> None:
    def fn(a: int, **extra: int) -> None: ...

    assert problems(fn, "data", {"a": 1, "x": "1", "y": 2.0, "z": 3}) == [
        ("data.x", "integer", 'string "1"'),
        ("data.y", "integer", "number 2.0"),
    ]


def test_args_take_extra_positions() -> None:
    def fn(a: int, *rest: Any) -> Any:
        return a, rest

    assert run(fn, "parameters", [1, "x", None, [2]]) == (1, ("x", None, [2]))


def test_typed_args_validate_extra_positions() -> None:
    def fn(a: str, *rest: int) -> Any:
        return a, rest

    assert run(fn, "parameters", ["a", 1, 2]) == ("a", (1, 2))
    assert problems(fn, "parameters", ["a", 1, 2.5, "3"]) == [
        ("parameters[2]", "integer", "number 2.5"),
        ("parameters[3]", "integer", 'string "3"'),
    ]


def test_args_do_not_take_names_in_the_data_form() -> None:
    def fn(a: int, *rest: int) -> None: ...

    assert problems(fn, "data", {"a": 1, "rest": [1]}) == [
        ("data.rest", "an argument of the model (a)", "an unknown argument (array of 1 item)")
    ]


# --- positional-only and keyword-only ----------------------------------------------------


def test_positional_only_params_can_be_named_in_the_data_form() -> None:
    def fn(a: int, b: int = 10, /, c: int = 20) -> Any:
        return a, b, c

    bound = bind(fn, "data", {"a": 1, "c": 3})
    assert bound.args == (1, 10)
    assert bound.kwargs == {"c": 3}
    assert run(fn, "data", {"b": 2, "a": 1}) == (1, 2, 20)


def test_positional_only_params_are_validated_in_the_data_form() -> None:
    def fn(a: int, /, b: int) -> None: ...

    assert problems(fn, "data", {"a": "x", "b": 1}) == [("data.a", "integer", 'string "x"')]
    assert problems(fn, "data", {"b": 1}) == [("data.a", "integer", "nothing (required)")]


def test_positional_only_params_by_position() -> None:
    def fn(a: int, b: float, /) -> Any:
        return a, b

    assert run(fn, "parameters", [1, 2]) == (1, 2.0)


def test_keyword_only_params() -> None:
    def fn(a: int, *, k: float, flag: bool = False) -> Any:
        return a, k, flag

    assert run(fn, "data", {"a": 1, "k": 2}) == (1, 2.0, False)
    assert run(fn, "parameters", {"a": 1, "k": 2, "flag": True}) == (1, 2.0, True)
    assert problems(fn, "data", {"a": 1, "k": 2, "flag": 1}) == [
        ("data.flag", "boolean", "integer 1")
    ]


def test_required_keyword_only_cannot_come_from_a_positional_request() -> None:
    def fn(a: int, *, k: int) -> None: ...

    assert problems(fn, "parameters", [1]) == [
        (
            "parameters",
            """keyword-only argument 'k': send {"parameters": {...}} or {"data": {...}} with it""",
            "positional arguments",
        )
    ]


def test_optional_keyword_only_is_fine_in_a_positional_request() -> None:
    def fn(a: int, *, k: int = 5) -> Any:
        return a, k

    assert run(fn, "parameters", [1]) == (1, 5)


# --- missing, unknown, too many ----------------------------------------------------------


def test_missing_required_in_the_data_form() -> None:
    assert problems(simple, "data", {"b": 1}) == [("data.a", "integer", "nothing (required)")]


def test_missing_required_in_the_positional_form() -> None:
    def fn(a: int, b: list[int]) -> None: ...

    assert problems(fn, "parameters", [1]) == [
        ("parameters[1]", "b: array of integer", "nothing (required)")
    ]


def test_unknown_argument() -> None:
    assert problems(simple, "data", {"a": 1, "d": "x"}) == [
        ("data.d", "an argument of the model (a, b, c)", 'an unknown argument (string "x")')
    ]


def test_unknown_argument_names_the_model_arguments_without_variadics() -> None:
    def fn(a: int, *args: int, k: int = 1) -> None: ...

    assert problems(fn, "parameters", {"a": 1, "z": 2}) == [
        ("parameters.z", "an argument of the model (a, k)", "an unknown argument (integer 2)")
    ]


def test_too_many_positional_arguments() -> None:
    assert problems(simple, "parameters", [1, 2, "c", 4, None]) == [
        (
            "parameters[3]",
            "at most 3 positional arguments (a, b, c)",
            "an extra argument (integer 4)",
        ),
        ("parameters[4]", "at most 3 positional arguments (a, b, c)", "an extra argument (null)"),
    ]


def test_too_many_for_a_single_parameter_uses_the_singular() -> None:
    def fn(a: int) -> None: ...

    assert problems(fn, "parameters", [1, 2]) == [
        ("parameters[1]", "at most 1 positional argument (a)", "an extra argument (integer 2)")
    ]


def test_no_parameters_at_all() -> None:
    def fn() -> str:
        return "ok"

    assert run(fn, "data", {}) == "ok"
    assert run(fn, "parameters", []) == "ok"
    assert problems(fn, "data", {"x": 1}) == [
        ("data.x", "an argument of the model (none)", "an unknown argument (integer 1)")
    ]


# --- every problem at once ---------------------------------------------------------------


def test_invalid_arguments_lists_every_problem_in_the_data_form() -> None:
    error = failure(simple, "data", {"b": "x", "zz": 3})
    assert error.status == 422
    assert error.code == "INVALID_ARGUMENTS"
    assert [d["path"] for d in error.details] == ["data.b", "data.zz", "data.a"]
    assert len(error.details) == 3
    assert error.message == 'data.b: expected number, got string "x" (and 2 more)'
    assert error.details[0] == {
        "path": "data.b",
        "expected": "number",
        "got": 'string "x"',
        "message": 'data.b: expected number, got string "x"',
    }


def test_invalid_arguments_lists_every_problem_in_the_positional_form() -> None:
    def fn(a: int, b: list[int]) -> None: ...

    error = failure(fn, "parameters", [1.5, [1, "2", None], "extra"])
    assert error.status == 422
    assert error.code == "INVALID_ARGUMENTS"
    assert [p.path for p in error.problems] == [
        "parameters[0]",
        "parameters[1][1]",
        "parameters[1][2]",
        "parameters[2]",
    ]
    assert error.message.endswith(" (and 3 more)")


@dataclasses.dataclass
class Row:
    age: int
    name: str


def test_invalid_arguments_collects_problems_across_nested_arguments() -> None:
    def fn(rows: list[Row], limit: int, *, tag: str) -> None: ...

    error = failure(fn, "data", {"rows": [{"age": "1", "name": "a"}, {"age": 2}], "limit": 1.0})
    assert [(p.path, p.got) for p in error.problems] == [
        ("data.rows[0].age", 'string "1"'),
        ("data.rows[1].name", "nothing (required)"),
        ("data.limit", "number 1.0"),
        ("data.tag", "nothing (required)"),
    ]
    assert error.to_envelope("rid")["error"]["code"] == "INVALID_ARGUMENTS"
    assert error.to_envelope("rid")["request_id"] == "rid"
    assert len(error.to_envelope("rid")["error"]["details"]) == 4


def test_dataclass_arguments_are_built() -> None:
    def fn(row: Row) -> Row:
        return row

    assert run(fn, "data", {"row": {"age": 3, "name": "n"}}) == Row(3, "n")


# --- binder set-up -----------------------------------------------------------------------


def test_binder_collects_compile_warnings() -> None:
    class Unknown:
        pass

    def fn(a: Unknown) -> None: ...

    binder = Binder(Signature.from_callable(fn))
    assert binder.warnings == (
        "servekit does not convert to Unknown; the decoded JSON value is passed as is",
    )
    assert binder.bind(Call("data", {"a": [1]})).kwargs == {"a": [1]}


def test_unresolvable_hints_leave_arguments_untyped() -> None:
    def fn(a: "NoSuchType", b: int) -> Any:  # type: ignore[name-defined]  # noqa: F821
        return a, b

    binder = Binder(Signature.from_callable(fn))
    assert len(binder.warnings) == 1
    assert "could not be resolved" in binder.warnings[0]
    bound = binder.bind(Call("data", {"a": "x", "b": "not checked"}))
    assert bound.kwargs == {"a": "x", "b": "not checked"}


def test_a_binder_is_reusable_across_requests() -> None:
    binder = Binder(Signature.from_callable(simple))
    assert binder.bind(Call("data", {"a": 1})).kwargs == {"a": 1}
    with pytest.raises(InvalidArguments):
        binder.bind(Call("data", {"a": "x"}))
    assert binder.bind(Call("parameters", [2])).args == (2,)


@dataclasses.dataclass
class Tree:
    kids: list["Tree"] = dataclasses.field(default_factory=list)


def grow(depth: int) -> dict[str, Any]:
    return {"kids": [grow(depth - 1)]} if depth else {}


def test_deeply_nested_recursive_types_are_a_400_not_a_crash() -> None:
    def predict(t: Tree) -> int:
        return 1

    plane = DataPlane(FunctionRuntime(predict), Release("0", "m", "1"))
    shallow = b'{"data": {"t": ' + orjson.dumps(grow(20)) + b"}}"
    assert orjson.loads(DominoCodec(plane).predict(shallow, "r").body)["result"] == 1
    deep = b'{"data": {"t": ' + b'{"kids": [' * 450 + b"{}" + b"]}" * 450 + b"}}"
    with pytest.raises(BadRequest, match="nested too deeply"):
        DominoCodec(plane).predict(deep, "r")


@dataclasses.dataclass
class Checked:
    age: int

    def __post_init__(self) -> None:
        assert self.age >= 0, "age must not be negative"


def test_any_exception_in_post_init_is_a_problem_not_a_500() -> None:
    def predict(row: Checked) -> int:
        return row.age

    with pytest.raises(InvalidArguments) as caught:
        Binder(Signature.from_callable(predict)).bind(Call("data", {"row": {"age": -1}}))
    [problem] = caught.value.problems
    assert problem.path == "data.row"
    assert "age must not be negative" in problem.got


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()])
def test_sys_exit_in_user_code_is_a_model_error(raised: BaseException) -> None:
    def predict() -> int:
        raise raised

    plane = DataPlane(FunctionRuntime(predict), Release("0", "m", "1"))
    with pytest.raises(ModelError, match=type(raised).__name__):
        DominoCodec(plane).predict(b'{"data": {}}', "r")
