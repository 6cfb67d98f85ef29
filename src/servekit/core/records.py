"""Converters from JSON objects to dataclasses and TypedDicts. I/O-free.

Every field is converted by its own annotation; unknown keys and missing required keys
are problems at the field's path (``data.rows[3].age``). A dataclass whose constructor
(``__post_init__``) raises reports that as a problem too, so validation written there
(``ValueError``, ``assert``, ...) becomes a 422, not a 500.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import TYPE_CHECKING, Any

from servekit.core.compiled import Compiled, Converter
from servekit.core.paths import Where, describe, report
from servekit.core.signature import EMPTY
from servekit.errors import Problem

if TYPE_CHECKING:
    from servekit.core.types import TypeCompiler

__all__ = ["dataclass_converter", "typeddict_converter"]

_WRAPPERS = tuple(
    w
    for w in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None))
    if w is not None
)


def dataclass_converter(cls: type, compiler: TypeCompiler) -> Compiled:
    """A JSON object -> an instance of dataclass ``cls``."""
    expected = f"object {cls.__name__}"
    finish = compiler.forward(cls, expected)
    hints = _hints(cls, compiler)
    # The constructor's own signature: init fields and InitVars, not init=False fields.
    params = list(inspect.signature(cls).parameters.values())
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    converters = {p.name: compiler.compile(_unwrap(hints.get(p.name, EMPTY))) for p in params}
    fields_object = _object_converter(cls.__name__, converters, required)

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        before = len(problems)
        kwargs = fields_object(value, where, key, problems)
        if len(problems) > before:
            return value
        try:
            return cls(**kwargs)
        except Exception as exc:  # __post_init__ validation (ValueError, assert, ...)
            report(problems, where, key, f"valid {cls.__name__}", f"{type(exc).__name__}: {exc}")
            return value

    compiled = Compiled(convert, expected)
    finish(compiled)
    return compiled


def typeddict_converter(cls: type, compiler: TypeCompiler) -> Compiled:
    """A JSON object -> a dict checked against TypedDict ``cls``."""
    expected = f"object {cls.__name__}"
    finish = compiler.forward(cls, expected)
    hints = _hints(cls, compiler)
    required = sorted(getattr(cls, "__required_keys__", hints))
    converters = {name: compiler.compile(_unwrap(ann)) for name, ann in hints.items()}
    compiled = Compiled(_object_converter(cls.__name__, converters, required), expected)
    finish(compiled)
    return compiled


def _object_converter(name: str, converters: dict[str, Compiled], required: list[str]) -> Converter:
    expected = f"object {name}"
    known = ", ".join(converters) or "none"
    by_name = {k: c.convert for k, c in converters.items()}

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if type(value) is not dict:
            report(problems, where, key, expected, describe(value))
            return value
        here = (where, key)
        out: dict[str, Any] = {}
        for field, item in value.items():
            field_convert = by_name.get(field)
            if field_convert is None:
                report(
                    problems,
                    here,
                    field,
                    f"a field of {name} ({known})",
                    f"an unknown field ({describe(item)})",
                )
                continue
            out[field] = field_convert(item, here, field, problems)
        for field in required:
            if field not in value:
                report(problems, here, field, converters[field].expected, "nothing (required)")
        return out

    return convert


def _hints(cls: type, compiler: TypeCompiler) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # unresolvable forward reference: fields become untyped
        compiler.warnings.append(f"type hints of {cls.__name__} could not be resolved ({exc})")
        return dict.fromkeys(getattr(cls, "__annotations__", {}), EMPTY)


def _unwrap(annotation: Any) -> Any:
    if isinstance(annotation, dataclasses.InitVar):
        return annotation.type
    if _WRAPPERS and typing.get_origin(annotation) in _WRAPPERS:
        return typing.get_args(annotation)[0]
    return annotation
