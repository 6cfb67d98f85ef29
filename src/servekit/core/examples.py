"""Example values from a JSON Schema, for the tester page. I/O-free.

:func:`example_value` takes the first of the schema's ``default``, its ``examples``
entries, its ``enum`` choices and its ``const`` that the schema itself accepts (a
``default`` or ``examples`` entry outside the bounds is passed over); else it makes up a
plausible value of its type that keeps to its bounds (``minimum``/``maximum`` and their
exclusive forms, lengths, item counts, a ``pattern``: a common word where one fits, else
a string built from the regular expression) and formats (``date-time``, ``date``,
``time``, ``uuid``, ...). Numbers made up for the properties of one object (or the
items of one tuple) differ and rise in order: ``start`` and ``stop`` get 1 and 2, so
``range(start, stop)`` is not empty. Objects get their required properties and the
optional ones with a default; arrays one item (one per ``prefixItems`` entry, none for a
recursive type); ``anyOf`` its first branch that is not null. Local ``$ref`` s are
followed. :func:`example_request` makes a request body, ``{"data": {...}}``, of it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from servekit.core.patterns import from_pattern

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
_PARSERS: dict[str, Callable[[str], Any]] = {
    "date-time": lambda s: dt.datetime.fromisoformat(s[:-1] + "+00:00" if s[-1:] in "Zz" else s),
    "date": dt.date.fromisoformat,
    "time": lambda s: dt.time.fromisoformat(s[:-1] + "+00:00" if s[-1:] in "Zz" else s),
    "uuid": uuid.UUID,
}
_WORDS = ("string", "example", "a", "A", "abc", "x1", "0", "1", "-", "_", " ")
_MAX_DEPTH = 32
# The standard library's regular-expression parser (``sre_parse`` before Python 3.11).


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

    def value(self, schema: Any, depth: int, made: list[float] | None = None) -> Any:
        """An example of ``schema``; ``made`` holds the numbers made up for its siblings."""
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return self.chosen(schema, depth, made)
        if ref in self.expanding:
            return None
        self.expanding.append(ref)
        try:
            return self.chosen(self.resolve(schema), depth, made)
        finally:
            self.expanding.pop()

    def chosen(self, schema: dict[str, Any], depth: int, made: list[float] | None) -> Any:
        for given in _given(schema):
            if self.accepts(schema, given, depth):
                return given
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.value(self.branch(schema[key]), depth + 1, made)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged.update(self.resolve(part) if isinstance(part, dict) else {})
            return self.value(merged, depth + 1, made)
        kind = _kind(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer", [] if made is None else made)
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
            made: list[float] = []
            return {
                name: self.value(sub, depth + 1, made)
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
            made: list[float] = []
            return [self.value(item, depth + 1, made) for item in prefix]
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

    def accepts(self, schema: Any, value: Any, depth: int) -> bool:
        """Whether ``value`` keeps to ``schema`` (the keywords servekit's schemas use;
        formats by Python's parsers, as the binder reads them)."""
        if schema is False:
            return False
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return True
        schema = self.resolve(schema)
        kinds = schema.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if isinstance(kinds, list) and not any(_is(kind, value) for kind in kinds):
            return False
        if isinstance(schema.get("enum"), list) and not any(
            _same(value, choice) for choice in schema["enum"]
        ):
            return False
        if "const" in schema and not _same(value, schema["const"]):
            return False
        deeper = depth + 1
        if any(
            isinstance(schema.get(key), list)
            and not any(self.accepts(b, value, deeper) for b in schema[key])
            for key in ("anyOf", "oneOf")
        ) or not all(self.accepts(part, value, deeper) for part in schema.get("allOf") or ()):
            return False
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _within(schema, value)
        if isinstance(value, str):
            return _fits_text(schema, value)
        if isinstance(value, list):
            return self.accepts_items(schema, value, deeper)
        if isinstance(value, dict):
            return self.accepts_properties(schema, value, deeper)
        return True

    def accepts_items(self, schema: dict[str, Any], value: list[Any], depth: int) -> bool:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        rest = schema.get("items", True)
        counted = _count_within(schema, len(value), "Items")
        unique = not schema.get("uniqueItems") or len({repr(v) for v in value}) == len(value)
        return (
            counted
            and unique
            and all(
                self.accepts(prefix[i] if i < len(prefix) else rest, item, depth)
                for i, item in enumerate(value)
            )
        )

    def accepts_properties(self, schema: dict[str, Any], value: dict[str, Any], depth: int) -> bool:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        extra = schema.get("additionalProperties", True)
        required = schema.get("required") or ()
        return (
            _count_within(schema, len(value), "Properties")
            and all(name in value for name in required)
            and all(
                self.accepts(properties.get(key, extra), item, depth) for key, item in value.items()
            )
        )


def _given(schema: dict[str, Any]) -> Iterator[Any]:
    """The values the schema offers: its default, examples, choices and constant."""
    if _has_default(schema):
        yield schema["default"]
    for key in ("examples", "enum"):
        if isinstance(schema.get(key), list):
            yield from schema[key]
    for key in ("const", "example"):
        if key in schema:
            yield schema[key]


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


def _is(kind: str, value: Any) -> bool:
    """Whether ``value`` is of JSON type ``kind`` as the binder sees it (1.0 is no integer)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {
        "integer": number and isinstance(value, int),
        "number": number and math.isfinite(value),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(kind, True)


def _same(value: Any, other: Any) -> bool:
    """JSON equality: ``true`` is not ``1``."""
    return isinstance(value, bool) == isinstance(other, bool) and bool(value == other)


def _within(schema: dict[str, Any], value: float) -> bool:
    """Whether a number keeps to the schema's bounds."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_ex, high_ex = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    return (
        (low is None or value >= low)
        and (low_ex is None or value > low_ex)
        and (high is None or value <= high)
        and (high_ex is None or value < high_ex)
    )


def _count_within(schema: dict[str, Any], count: int, what: str) -> bool:
    least, most = schema.get("min" + what), schema.get("max" + what)
    return (least is None or count >= least) and (most is None or count <= most)


def _fits_text(schema: dict[str, Any], text: str) -> bool:
    """Whether a string keeps to the schema's length, pattern and (parsed) format."""
    pattern, parse = schema.get("pattern"), _PARSERS.get(schema.get("format", ""))
    try:
        if parse is not None:
            parse(text)
    except ValueError:
        return False
    try:
        matches = not isinstance(pattern, str) or re.search(pattern, text) is not None
    except re.error:  # a pattern Python cannot read: nothing to go by
        matches = True
    return matches and _count_within(schema, len(text), "Length")


def _number(schema: dict[str, Any], integer: bool, made: list[float]) -> int | float:
    """The number nearest 1 that the schema allows, and that is not in ``made`` already
    (then the next above it, or else below it); recorded in ``made``."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_ex, high_ex = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    floor = max((float(b) for b in (low, low_ex) if b is not None), default=None)
    ceiling = min((float(b) for b in (high, high_ex) if b is not None), default=None)
    if integer:
        starts: list[float] = [
            1,
            *([math.ceil(low)] if low is not None else []),
            *([math.floor(low_ex) + 1] if low_ex is not None else []),
            *([math.floor(high)] if high is not None else []),
            *([math.ceil(high_ex) - 1] if high_ex is not None else []),
        ]
    else:
        starts = [1.0]
        if floor is not None:
            starts += [floor, floor + 1.0]
        if ceiling is not None:
            starts += [ceiling, ceiling - 1.0]
        if floor is not None and ceiling is not None:
            starts.append((floor + ceiling) / 2)
    start = next((s for s in starts if _within(schema, s)), starts[-1])
    steps = len(made) + 1
    nearby = [start + i for i in range(steps)] + [start - i for i in range(1, steps)]
    if not integer:  # a narrow interval: halfway towards a bound, again and again
        for bound in (b for b in (ceiling, floor) if b is not None):
            nearby += [start + (bound - start) * (1 - 0.5**i) for i in range(1, steps + 1)]
    kind = int if integer else float
    chosen = next((n for n in nearby if _within(schema, n) and n not in made), start)
    made.append(chosen)
    return kind(chosen)


def _string(schema: dict[str, Any]) -> str:
    """A string of the schema's format, else a word (or, failing that, a string built from
    its pattern) that fits its length and pattern."""
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    least = int(schema.get("minLength") or 0)
    most = schema.get("maxLength")
    pattern = schema.get("pattern")
    candidates = [_fit(word, least, most) for word in _WORDS]
    if not isinstance(pattern, str):
        return candidates[0]
    try:
        found = next((word for word in candidates if re.search(pattern, word)), None)
    except re.error:
        return candidates[0]
    return found or from_pattern(pattern, least, most) or candidates[0]


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
