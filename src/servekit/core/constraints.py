"""Constraints in ``Annotated[...]`` metadata: checked by the binder, shown in the schema.

    from typing import Annotated
    from servekit import Range, Length, OneOf, Pattern

    def predict(age: Annotated[int, Range(ge=0, le=130)],
                name: Annotated[str, Length(max=40), Pattern(r"^[a-z]+$")],
                plan: Annotated[str, OneOf("basic", "pro")] = "basic"): ...

Objects from the ``annotated-types`` package (``Ge``, ``Le``, ``Gt``, ``Lt``,
``MinLen``, ``MaxLen``, ``Interval``, ``Len``) are read by their attributes too, and a
plain string in the metadata is the parameter's description. I/O-free.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any

from servekit.core.compiled import Compiled
from servekit.core.paths import Where, describe, report
from servekit.errors import Problem

__all__ = ["Length", "OneOf", "Pattern", "Range", "constrain", "schema_of"]


@dataclass(frozen=True)
class Range:
    """Bounds for a number: ``ge`` (>=), ``gt`` (>), ``le`` (<=), ``lt`` (<)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class Length:
    """Bounds for the length of a string, array or object."""

    min: int | None = None
    max: int | None = None


@dataclass(frozen=True, init=False)
class OneOf:
    """The value must be one of ``choices``."""

    choices: tuple[Any, ...]

    def __init__(self, *choices: Any) -> None:
        object.__setattr__(self, "choices", choices)


@dataclass(frozen=True)
class Pattern:
    """A string must match ``regex`` (``re.search``)."""

    regex: str


def _bounds(meta: Any) -> dict[str, Any]:
    """Every bound ``meta`` states, by this module's names."""
    found: dict[str, Any] = {}
    if isinstance(meta, Range):
        found = {k: v for k, v in vars(meta).items() if v is not None}
    elif isinstance(meta, Length):
        found = {f"{k}_length": v for k, v in vars(meta).items() if v is not None}
    elif isinstance(meta, OneOf):
        found = {"choices": meta.choices}
    elif isinstance(meta, Pattern):
        found = {"pattern": meta.regex}
    else:  # annotated-types, by duck typing
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(meta, name, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found[name] = value
    return found


def _check(bounds: dict[str, Any], value: Any) -> str | None:
    """What ``value`` breaks (as expected-words), or None."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    tests: dict[str, tuple[bool, Callable[[Any], Any], str]] = {
        "ge": (number, lambda b: value >= b, ">= {}"),
        "gt": (number, lambda b: value > b, "> {}"),
        "le": (number, lambda b: value <= b, "<= {}"),
        "lt": (number, lambda b: value < b, "< {}"),
        "min_length": (isinstance(value, Sized), lambda b: len(value) >= b, "length >= {}"),
        "max_length": (isinstance(value, Sized), lambda b: len(value) <= b, "length <= {}"),
        "pattern": (isinstance(value, str), lambda b: re.search(b, value), "matching {!r}"),
        "choices": (True, lambda b: value in b, "one of {}"),
    }
    for name, bound in bounds.items():
        applies, ok, words = tests[name]
        if applies and not ok(bound):
            shown = ", ".join(map(repr, bound)) if name == "choices" else bound
            return words.format(shown)
    return None


def constrain(inner: Compiled, metadata: tuple[Any, ...]) -> Compiled:
    """``inner`` followed by the checks its ``Annotated`` metadata states (if any)."""
    bounds: dict[str, Any] = {}
    for meta in metadata:
        bounds.update(_bounds(meta))
    if not bounds:
        return inner

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        before = len(problems)
        converted = inner.convert(value, where, key, problems)
        if len(problems) == before:
            broken = _check(bounds, converted)
            if broken is not None:
                report(problems, where, key, f"{inner.expected} {broken}", describe(value))
        return converted

    return Compiled(convert, inner.expected)


def schema_of(metadata: tuple[Any, ...]) -> dict[str, Any]:
    """The JSON Schema keywords for ``Annotated`` metadata (bounds and description)."""
    keywords = {
        "ge": "minimum",
        "gt": "exclusiveMinimum",
        "le": "maximum",
        "lt": "exclusiveMaximum",
        "pattern": "pattern",
    }
    schema: dict[str, Any] = {}
    for meta in metadata:
        if isinstance(meta, str):
            schema["description"] = meta
        for name, bound in _bounds(meta).items():
            if name == "choices":
                schema["enum"] = list(bound)
            elif name in ("min_length", "max_length"):
                schema[name] = bound  # resolved by type in servekit.core.schema
            else:
                schema[keywords[name]] = bound
    return schema
