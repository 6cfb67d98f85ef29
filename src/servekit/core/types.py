"""Compile a type annotation into a converter, once, at load. I/O-free.

A converter takes ``(value, where, key, problems)``: the decoded JSON value, its
location (see :mod:`.paths`) and a list to which it appends every
:class:`~servekit.errors.Problem` it finds. It returns the converted value (or the
value unchanged when it found a problem). Requests only run converters; all the
``typing`` introspection happens here, once.

JSON -> Python rules: object -> dict, array -> list, string -> str, integer -> int,
real -> float, true/false -> bool, null -> None. With type hints: ``int`` takes JSON
integers only; ``float`` takes integers too (converted); ``bool`` takes only true/false;
``Optional``/unions, ``list[T]``, ``tuple[...]``, ``set[T]``, ``dict[str, T]``,
``Literal``, ``Enum`` (by value), dataclasses and ``TypedDict`` (nested objects),
``datetime``/``date``/``time`` (ISO 8601), ``Decimal``, ``UUID`` and numpy arrays and
scalars. An annotation servekit does not know is passed the decoded JSON as is, with a
warning at load.
"""

from __future__ import annotations

import contextlib
import enum
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import is_dataclass
from typing import Any

import numpy as np

from servekit.core import arrays, records
from servekit.core.compiled import PASSTHROUGH, Compiled, Converter
from servekit.core.constraints import constrain
from servekit.core.paths import Where, describe, report
from servekit.core.scalars import SIMPLE
from servekit.core.tensors import TensorSpec, tensor_converter
from servekit.errors import Problem

__all__ = ["Compiled", "Converter", "TypeCompiler"]

_NONE_TYPE = type(None)
_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


class TypeCompiler:
    """Compiles annotations to converters; remembers each, and survives recursive types."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._memo: dict[Any, Compiled] = {}

    def compile(self, annotation: Any) -> Compiled:
        """The converter for ``annotation`` (memoised; recursive dataclasses are fine)."""
        simple = _lookup(SIMPLE, annotation)
        if simple is not None:
            return simple
        known = _lookup(self._memo, _memo_key(annotation))
        if known is not None:
            return known
        compiled = self._compile(annotation)
        with contextlib.suppress(TypeError):  # unhashable metadata inside Annotated[...]
            self._memo[_memo_key(annotation)] = compiled
        return compiled

    def forward(self, annotation: Any, expected: str) -> Callable[[Compiled], None]:
        """Register a placeholder for a type being compiled (for self-reference)."""
        slot: list[Converter] = []

        def convert(
            value: Any, where: Where, key: str | int | None, problems: list[Problem]
        ) -> Any:
            return slot[0](value, where, key, problems)

        self._memo[_memo_key(annotation)] = Compiled(convert, expected)
        return lambda done: slot.append(done.convert)

    def _compile(self, ann: Any) -> Compiled:
        origin = typing.get_origin(ann)
        args = typing.get_args(ann)
        if origin is typing.Annotated:
            return constrain(self.compile(args[0]), ann.__metadata__)
        if origin in _UNION_TYPES:
            return self._union(args)
        if origin is typing.Literal:
            return _literal(args)
        if origin in (list, Sequence, typing.Sequence) or ann in (Sequence, typing.Sequence):
            return _list(self.compile(args[0]) if args else PASSTHROUGH)
        if ann is tuple:
            return self._tuple((Any, Ellipsis))
        if origin is tuple:
            return self._tuple(args)
        if origin in (set, frozenset) or ann in (set, frozenset):
            return _set(self.compile(args[0]) if args else PASSTHROUGH, origin or ann)
        if origin in (dict, Mapping, typing.Mapping):
            return self._dict(args)
        if origin is np.ndarray or ann is np.ndarray:
            return arrays.ndarray_converter(arrays.dtype_of(args))
        if isinstance(ann, TensorSpec):
            return tensor_converter(ann)
        if isinstance(ann, type):
            return self._class(ann)
        if hasattr(ann, "__supertype__"):  # typing.NewType
            return self.compile(ann.__supertype__)
        if isinstance(ann, typing.TypeVar):
            return PASSTHROUGH
        return self._unknown(ann)

    def _class(self, cls: type) -> Compiled:
        if issubclass(cls, enum.Enum):
            return _enum(cls)
        if is_dataclass(cls):
            return records.dataclass_converter(cls, self)
        if typing.is_typeddict(cls):
            return records.typeddict_converter(cls, self)
        if issubclass(cls, np.generic):
            return arrays.scalar_converter(cls)
        return self._unknown(cls)

    def _unknown(self, ann: Any) -> Compiled:
        self.warnings.append(
            f"servekit does not convert to {getattr(ann, '__name__', ann)!s}; "
            "the decoded JSON value is passed as is"
        )
        return PASSTHROUGH

    def _union(self, members: tuple[Any, ...]) -> Compiled:
        others = [m for m in members if m is not _NONE_TYPE]
        if len(others) == 1 and len(members) == 2:  # Optional[T]: keep T's detailed problems
            inner = self.compile(others[0])
            expected = f"{inner.expected} or null"

            def optional(
                value: Any, where: Where, key: str | int | None, problems: list[Problem]
            ) -> Any:
                return None if value is None else inner.convert(value, where, key, problems)

            return Compiled(optional, expected)
        compiled = [self.compile(m) for m in members]
        expected = " or ".join(c.expected for c in compiled)

        def union(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
            for option in compiled:
                trial: list[Problem] = []
                converted = option.convert(value, where, key, trial)
                if not trial:
                    return converted
            report(problems, where, key, expected, describe(value))
            return value

        return Compiled(union, expected)

    def _tuple(self, args: tuple[Any, ...]) -> Compiled:
        if len(args) == 2 and args[1] is Ellipsis:
            item = self.compile(args[0])
            inner = _list(item)

            def homogeneous(
                value: Any, where: Where, key: str | int | None, problems: list[Problem]
            ) -> Any:
                converted = inner.convert(value, where, key, problems)
                return tuple(converted) if type(converted) is list else converted

            return Compiled(homogeneous, inner.expected)
        # tuple[()] has args ((),) on Python 3.10 and () on 3.11+: both mean "empty".
        items = [self.compile(a) for a in (() if args == ((),) else args)]
        expected = f"array of {len(items)} items [{', '.join(i.expected for i in items)}]"

        def fixed(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
            if type(value) is not list or len(value) != len(items):
                report(problems, where, key, expected, describe(value))
                return value
            here = (where, key)
            return tuple(
                c.convert(x, here, i, problems)
                for i, (c, x) in enumerate(zip(items, value, strict=True))
            )

        return Compiled(fixed, expected)

    def _dict(self, args: tuple[Any, ...]) -> Compiled:
        if args and args[0] not in (str, Any):
            self.warnings.append(
                f"JSON object keys are strings; keys typed {args[0]} are passed as strings"
            )
        value_type = self.compile(args[1]) if len(args) == 2 else PASSTHROUGH
        expected = "object" if value_type.passthrough else f"object of {value_type.expected}"

        def convert(
            value: Any, where: Where, key: str | int | None, problems: list[Problem]
        ) -> Any:
            if type(value) is not dict:
                report(problems, where, key, expected, describe(value))
                return value
            if value_type.passthrough:
                return value
            here = (where, key)
            item = value_type.convert
            return {k: item(x, here, k, problems) for k, x in value.items()}

        return Compiled(convert, expected)


def _memo_key(annotation: Any) -> tuple[Any, str]:
    # Unions compare equal whatever their order (Union[float, int] == Union[int, float]),
    # but the order decides which member converts first: the repr keeps them apart.
    return annotation, repr(annotation)


def _lookup(table: dict[Any, Compiled], annotation: Any) -> Compiled | None:
    try:
        return table.get(annotation)
    except TypeError:
        return None


def _list(item: Compiled) -> Compiled:
    expected = "array" if item.passthrough else f"array of {item.expected}"
    convert_item = item.convert

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if type(value) is not list:
            report(problems, where, key, expected, describe(value))
            return value
        if item.passthrough:
            return value
        here = (where, key)
        return [convert_item(x, here, i, problems) for i, x in enumerate(value)]

    return Compiled(convert, expected)


def _set(item: Compiled, kind: Any) -> Compiled:
    inner = _list(item)
    expected = f"{inner.expected} (distinct, hashable items)"
    make = frozenset if kind is frozenset else set

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        converted = inner.convert(value, where, key, problems)
        if type(converted) is not list:
            return converted
        try:
            return make(converted)
        except TypeError:
            report(problems, where, key, expected, "array with unhashable items")
            return value

    return Compiled(convert, expected)


def _choices(expected: str, table: dict[tuple[type, Any], Any]) -> Compiled:
    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if not isinstance(value, (list, dict)):
            found = table.get((type(value), value), _MISSING)
            if found is not _MISSING:
                return found
        report(problems, where, key, expected, describe(value))
        return value

    return Compiled(convert, expected)


_MISSING = object()


def _literal(choices: tuple[Any, ...]) -> Compiled:
    shown = ", ".join(repr(c) for c in choices)
    return _choices(f"one of {shown}", {(type(c), c): c for c in choices})


def _enum(cls: type[enum.Enum]) -> Compiled:
    members = list(cls)
    shown = ", ".join(repr(m.value) for m in members)
    return _choices(
        f"one of {shown} ({cls.__name__})", {(type(m.value), m.value): m for m in members}
    )
