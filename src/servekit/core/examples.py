"""Example values from a JSON Schema, for the tester page. I/O-free.

:func:`example_value` picks, in this order: the schema's ``default``, its first
``examples`` entry, its ``const``, its first ``enum`` choice; else a plausible value of
its type that keeps to its bounds (``minimum``/``maximum`` and their exclusive forms,
lengths, item counts, a ``pattern`` where a simple word fits) and formats (``date-time``,
``date``, ``time``, ``uuid``, ...). Objects get their required properties and the
optional ones with a default; arrays one item (one per ``prefixItems`` entry, none for a
recursive type); ``anyOf`` its first branch that is not null. Local ``$ref`` s are
followed. :func:`example_request` makes a request body, ``{"data": {...}}``, of it.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["example_request", "example_value"]

_FORMATS = {
    "date-time": "2024-01-01T12:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "byte": "AAAA",
}
_WORDS = ("string", "example", "a", "A", "abc", "x1", "0", "1", "-", "_", " ")
_MAX_DEPTH = 32


def example_value(schema: dict[str, Any]) -> Any:
    """A value that ``schema`` accepts (``None`` for an empty schema: anything goes)."""
    return _Examples(schema).value(schema, 0)


def example_request(schema: dict[str, Any]) -> dict[str, Any]:
    """A request body for the ``data`` form whose arguments ``schema`` describes."""
    value = example_value(schema)
    return {"data": value if isinstance(value, dict) else {}}


class _Examples:
    """Example values within one root schema (which holds the ``$defs`` refs point at)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.expanding: list[str] = []  # the refs being expanded, to stop recursive types

    def value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return self.chosen(schema, depth)
        if ref in self.expanding:
            return None
        self.expanding.append(ref)
        try:
            return self.chosen(self.resolve(schema), depth)
        finally:
            self.expanding.pop()

    def chosen(self, schema: dict[str, Any], depth: int) -> Any:
        if _has_default(schema):
            return schema["default"]
        for key in ("examples", "enum"):
            if isinstance(schema.get(key), list) and schema[key]:
                return schema[key][0]
        for key in ("const", "example"):
            if key in schema:
                return schema[key]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.value(self.branch(schema[key]), depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged.update(self.resolve(part) if isinstance(part, dict) else {})
            return self.value(merged, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "string":
            return _string(schema)
        return {"boolean": True, "null": None}.get(kind)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema``, or what its local ``$ref`` points at (siblings of the ref win)."""
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return schema
        target: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**target, **rest} if isinstance(target, dict) else rest

    def recursive(self, schema: Any) -> bool:
        """True for a ref to a type being expanded (its example would never end)."""
        return isinstance(schema, dict) and schema.get("$ref") in self.expanding

    def branch(self, branches: list[Any]) -> Any:
        """The first branch that is neither null nor recursive; else null, if allowed."""
        for branch in branches:
            if isinstance(branch, dict) and not _allows_null(branch) and not self.recursive(branch):
                return branch
        nulls = [b for b in branches if isinstance(b, dict) and _allows_null(b)]
        return nulls[0] if nulls else branches[0]

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if isinstance(properties, dict):
            required = set(schema.get("required") or ())
            return {
                name: self.value(sub, depth + 1)
                for name, sub in properties.items()
                if name in required or (isinstance(sub, dict) and _has_default(self.resolve(sub)))
            }
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra and (schema.get("maxProperties") or 1) >= 1:
            return {"key": self.value(extra, depth + 1)}
        return {}

    def array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(item, depth + 1) for item in prefix]
        items = schema.get("items")
        least = int(schema.get("minItems") or 0)
        most = schema.get("maxItems")
        count = max(least, 1) if most is None else min(max(least, 1), int(most))
        unknown = not isinstance(items, dict) or not items or self.recursive(items)
        if items is False or count == 0 or (unknown and least == 0):
            return []
        item = self.value(items, depth + 1)
        if schema.get("uniqueItems"):
            return [_variant(item, i) for i in range(count)]
        return [item] * count


def _has_default(schema: dict[str, Any]) -> bool:
    """True when ``schema`` has a default it allows (``x: int = None`` has one it does not)."""
    return "default" in schema and (schema["default"] is not None or _allows_null(schema))


def _allows_null(schema: dict[str, Any]) -> bool:
    """True when ``schema`` says outright that null is allowed (or says nothing at all)."""
    kind = schema.get("type")
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    return (
        not {k for k in schema if k not in ("description", "default", "title")}
        or kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or ("const" in schema and schema["const"] is None)
        or (isinstance(schema.get("enum"), list) and None in schema["enum"])
        or any(isinstance(b, dict) and _allows_null(b) for b in branches)
    )


def _kind(schema: dict[str, Any]) -> str:
    """The schema's type (the first that is not ``null``), else one its keywords imply."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if isinstance(kind, str):
        return kind
    implied = (
        ("object", ("properties", "additionalProperties", "required")),
        ("array", ("items", "prefixItems", "minItems", "maxItems")),
        ("string", ("minLength", "maxLength", "pattern", "format")),
        ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")),
    )
    return next((k for k, words in implied if any(w in schema for w in words)), "")


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    """1 (or 1.0) if the schema's bounds allow it, else the value nearest it they allow."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_ex, high_ex = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")

    def allowed(v: float) -> bool:
        return (
            (low is None or v >= low)
            and (low_ex is None or v > low_ex)
            and (high is None or v <= high)
            and (high_ex is None or v < high_ex)
        )

    if integer:
        candidates: list[float] = [
            1,
            *([math.ceil(low)] if low is not None else []),
            *([math.floor(low_ex) + 1] if low_ex is not None else []),
            *([math.floor(high)] if high is not None else []),
            *([math.ceil(high_ex) - 1] if high_ex is not None else []),
        ]
        return int(next((c for c in candidates if allowed(c)), candidates[-1]))
    floor = max((float(b) for b in (low, low_ex) if b is not None), default=None)
    ceiling = min((float(b) for b in (high, high_ex) if b is not None), default=None)
    candidates = [1.0]
    if floor is not None:
        candidates += [floor, floor + 1.0]
    if ceiling is not None:
        candidates += [ceiling, ceiling - 1.0]
    if floor is not None and ceiling is not None:
        candidates.append((floor + ceiling) / 2)
    return float(next((c for c in candidates if allowed(c)), candidates[-1]))


def _string(schema: dict[str, Any]) -> str:
    """A string of the schema's format, else a word that fits its length and pattern."""
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    least = int(schema.get("minLength") or 0)
    most = schema.get("maxLength")
    pattern = schema.get("pattern")
    candidates = [_fit(word, least, most) for word in _WORDS]
    if isinstance(pattern, str):
        for word in candidates:
            try:
                if re.search(pattern, word):
                    return word
            except re.error:
                break
    return candidates[0]


def _fit(word: str, least: int, most: Any) -> str:
    """``word`` repeated to ``least`` characters (``A`` stays all capitals), cut to ``most``."""
    word = (word * (least // len(word) + 1))[: max(least, len(word))]
    return word[: int(most)] if most is not None else word


def _variant(value: Any, index: int) -> Any:
    """The ``index``-th of distinct values like ``value`` (for ``uniqueItems`` arrays)."""
    if isinstance(value, bool):
        return value if index == 0 else not value
    if isinstance(value, (int, float)):
        return value + index
    return f"{value}{index}" if isinstance(value, str) and index else value
