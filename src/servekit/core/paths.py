"""Where a value sits in a request, and how to describe what came. I/O-free.

Converters receive ``(value, where, key, problems)``: ``where`` is the parent's location,
``key`` the value's own key or index. A location is only rendered to text when a
problem is reported, so converting a large, valid array allocates no path strings.

A location is either the root name (``"data"``, ``"parameters"``) or a pair
``(parent_location, key)``.
"""

from __future__ import annotations

from typing import Any, Union

import orjson

from servekit.errors import Problem

__all__ = ["Where", "describe", "render", "report"]

Where = Union[str, tuple[Any, Union[str, int, None]]]
"""A location in the request: a root name, or ``(parent location, key)``."""

_MAX_TEXT = 40


def render(where: Where, key: str | int | None = None) -> str:
    """Render a location (and optionally a child key) as ``data.rows[3].age``."""
    if isinstance(where, str):
        text: str = where
    else:
        text = render(where[0], where[1])
    if key is None:
        return text
    if isinstance(key, int):
        return f"{text}[{key}]"
    return f"{text}.{key}" if text else key


def describe(value: Any) -> str:
    """Describe a decoded JSON value for an error message: ``string "abc"``, ``null``."""
    if value is None:
        return "null"
    if value is True or value is False:
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."
        return f"string {orjson.dumps(shown).decode()}"
    if isinstance(value, list):
        return f"array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        if not value:
            return "empty object"
        keys = ", ".join(list(value)[:5]) + (", ..." if len(value) > 5 else "")
        return f"object with keys {keys}"
    return type(value).__name__


def report(
    problems: list[Problem], where: Where, key: str | int | None, expected: str, got: str
) -> None:
    """Append one problem at ``where``/``key``."""
    problems.append(Problem(render(where, key), expected, got))
