"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the types the binder accepts. I/O-free.

The schema says what :class:`~servekit.core.types.TypeCompiler` converts, with the same
rules: ``int`` is an integer, ``float`` any number, ``Optional[T]`` adds null,
dataclasses, ``TypedDict`` and enums become named definitions (``$ref``), numpy arrays
nested arrays of numbers, ONNX inputs arrays of their dtype and rank, ``Annotated``
constraints their bounds (and ``examples``, from an object in the metadata that has an
``examples`` list, such as pydantic's ``Field(examples=[...])``: shown, not checked);
anything the binder passes as is, ``{}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from servekit.core.constraints import schema_of
from servekit.core.signature import EMPTY, ParamKind, Signature
from servekit.core.tensors import TensorSpec

__all__ = ["SchemaBuilder", "signature_schema"]

_SIMPLE: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.time: {"type": "string", "format": "time"},
    decimal.Decimal: {"type": ["number", "string"]},
    uuid.UUID: {"type": "string", "format": "uuid"},
}
_UNIONS = (typing.Union, type(int | str))


class SchemaBuilder:
    """Builds schemas; named types go to :attr:`definitions`, referenced under ``prefix``."""

    def __init__(self, prefix: str = "#/$defs/") -> None:
        self.prefix = prefix
        self.definitions: dict[str, dict[str, Any]] = {}

    def of(self, ann: Any) -> dict[str, Any]:
        """The schema of annotation ``ann``."""
        if ann is EMPTY or ann is Any or ann is object:
            return {}
        if ann in _SIMPLE:
            return dict(_SIMPLE[ann])
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if origin is typing.Annotated:
            return self._annotated(self.of(args[0]), ann.__metadata__)
        if origin in _UNIONS:
            return {"anyOf": [self.of(a) for a in args]}
        if origin is typing.Literal:
            return {"enum": [a for a in args if _jsonable(a)]}
        if origin in (list, Sequence, set, frozenset) or ann in (list, set, frozenset):
            return {"type": "array", "items": self.of(args[0]) if args else {}}
        if origin is tuple or ann is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return {"type": "array", "items": self.of(args[0]) if args else {}}
            items = [self.of(a) for a in args]
            return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}
        if origin in (dict, Mapping) or ann is dict:
            values = self.of(args[1]) if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": values}
        if origin is np.ndarray or ann is np.ndarray:
            return {"type": "array", "items": {}, "description": "a numeric (nested) array"}
        if isinstance(ann, TensorSpec):
            return _tensor(ann)
        if isinstance(ann, type):
            return self._class(ann)
        if hasattr(ann, "__supertype__"):
            return self.of(ann.__supertype__)
        return {}

    def _annotated(self, schema: dict[str, Any], metadata: tuple[Any, ...]) -> dict[str, Any]:
        extra = schema_of(metadata)
        for meta in metadata:  # pydantic's Field(examples=[...]), or any object like it
            shown = getattr(meta, "examples", None)
            if isinstance(shown, (list, tuple)) and not isinstance(meta, type):
                kept = [_plain(value) for value in shown if _jsonable(value)]
                if kept:
                    extra["examples"] = kept
        kind = schema.get("type")
        sizes = {"string": "Length", "array": "Items", "object": "Properties"}
        suffix = sizes.get(kind) if isinstance(kind, str) else None
        for name, word in (("min_length", "min"), ("max_length", "max")):
            bound = extra.pop(name, None)
            if bound is not None and suffix is not None:
                schema = {**schema, word + suffix: bound}
        return {**schema, **extra}

    def _class(self, cls: type) -> dict[str, Any]:
        if issubclass(cls, np.generic):
            kind = "integer" if issubclass(cls, np.integer) else "number"
            return {"type": "boolean"} if issubclass(cls, np.bool_) else {"type": kind}
        name = cls.__name__
        if name in self.definitions:
            return {"$ref": self.prefix + name}
        if issubclass(cls, enum.Enum):
            self.definitions[name] = {"enum": [m.value for m in cls if _jsonable(m.value)]}
        elif dataclasses.is_dataclass(cls) or typing.is_typeddict(cls):
            self.definitions[name] = {}  # a placeholder first: recursive types refer to it
            self.definitions[name] = self._record(cls)
        else:
            return {}
        return {"$ref": self.prefix + name}

    def _record(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls, include_extras=True)
        if dataclasses.is_dataclass(cls):
            fields = [f for f in dataclasses.fields(cls) if f.init]
            names = [f.name for f in fields]
            required = [
                f.name
                for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ]
        else:
            names = list(hints)
            required = sorted(getattr(cls, "__required_keys__", names))
        properties = {n: self.of(hints.get(n, Any)) for n in names}
        if dataclasses.is_dataclass(cls):
            for f in dataclasses.fields(cls):
                known = f.name in properties and f.default is not dataclasses.MISSING
                if known and _jsonable(f.default):
                    properties[f.name] = {**properties[f.name], "default": _plain(f.default)}
        return {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,  # the binder refuses unknown fields
        }


def _leaf(dtype: np.dtype[Any]) -> dict[str, Any]:
    """One tensor element: its JSON type, and the range the dtype holds."""
    kind = dtype.kind
    if kind == "b":
        return {"type": "boolean"}
    if kind in "iu":
        info = np.iinfo(dtype)
        return {"type": "integer", "minimum": int(info.min), "maximum": int(info.max)}
    if kind == "f":
        largest = float(np.finfo(dtype).max)
        return {"type": "number", "minimum": -largest, "maximum": largest}
    return {"type": "string"} if kind in "USO" else {"type": "number"}


def _tensor(spec: TensorSpec) -> dict[str, Any]:
    schema = _leaf(spec.dtype)
    if spec.shape is None:  # even the rank is unknown
        return {"type": "array", "description": f"tensor {spec.describe()}"}
    for size in reversed(spec.shape):
        schema = {"type": "array", "items": schema}
        if isinstance(size, int) and size >= 0:
            schema.update(minItems=size, maxItems=size)
        else:  # a dynamic dimension: at least one (an empty one has no shape to check)
            schema["minItems"] = 1
    return {**schema, "description": f"tensor {spec.describe()}"}


def signature_schema(
    signature: Signature,
    descriptions: dict[str, str] | None = None,
    builder: SchemaBuilder | None = None,
) -> dict[str, Any]:
    """The schema of the ``data`` object for ``signature``: one property per parameter
    that can be named, with its description and JSON default; ``$defs`` for named types
    (unless ``builder`` collects them elsewhere)."""
    own = builder is None
    chosen = builder or SchemaBuilder()
    properties: dict[str, Any] = {}
    required: list[str] = []
    open_ended: bool | dict[str, Any] = False
    for param in signature.params:
        if param.kind is ParamKind.VAR_KEYWORD:  # other names, of its type
            open_ended = chosen.of(param.annotation) or True
            continue
        if param.kind is ParamKind.VAR_POSITIONAL:  # positional-only names bind in data too
            continue
        schema = chosen.of(param.annotation)
        if descriptions and param.name in descriptions:
            schema = {**schema, "description": descriptions[param.name]}
        if param.default is not EMPTY and _jsonable(param.default):
            schema = {**schema, "default": _plain(param.default)}
        properties[param.name] = schema
        if param.required:
            required.append(param.name)
    document: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": open_ended,
    }
    if own and chosen.definitions:
        document["$defs"] = chosen.definitions
    return document


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (enums by value, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> bool:
    value = _plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, float) or (value == value and abs(value) != float("inf"))
    if isinstance(value, (list, tuple)):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False
