"""The unit the type compiler produces: a converter and what it expects. I/O-free."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from servekit.core.paths import Where
from servekit.errors import Problem

__all__ = ["PASSTHROUGH", "Compiled", "Converter"]

Converter = Callable[[Any, Where, "str | int | None", list[Problem]], Any]
"""``(value, where, key, problems) -> converted value``; appends to ``problems``."""


@dataclass(frozen=True)
class Compiled:
    """A converter and the words for what it expects (``"array of integer"``).

    ``passthrough`` marks the identity converter, so containers of untyped items can
    skip the per-item loop.
    """

    convert: Converter
    expected: str
    passthrough: bool = False


def _identity(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
    return value


PASSTHROUGH = Compiled(_identity, "any JSON value", passthrough=True)
"""Accepts any decoded JSON value unchanged (no annotation, ``Any``, ``object``)."""
