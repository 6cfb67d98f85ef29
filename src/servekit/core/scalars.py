"""Converters for JSON scalars and the string-encoded types. I/O-free.

``int`` takes JSON integers only; ``float`` takes integers too (converted); ``bool``
takes only true/false; ``datetime``/``date``/``time`` take ISO 8601 strings (a trailing
``Z`` is UTC, on Python 3.10 too); ``Decimal`` takes numbers or numeric strings (finite);
``UUID`` takes strings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from servekit.core.compiled import PASSTHROUGH, Compiled
from servekit.core.paths import Where, describe, report
from servekit.core.signature import EMPTY
from servekit.errors import Problem

__all__ = ["SIMPLE", "exact"]

_NONE_TYPE = type(None)


def exact(kind: type, expected: str) -> Compiled:
    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if type(value) is not kind:
            report(problems, where, key, expected, describe(value))
        return value

    return Compiled(convert, expected)


def _float(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(value)
    report(problems, where, key, "number", describe(value))
    return value


def _parsed(parse: Callable[[str], Any], expected: str, accepts_numbers: bool = False) -> Compiled:
    """A converter from a JSON string (or number) through ``parse``."""

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        kind = type(value)
        if kind is str or (accepts_numbers and (kind is int or kind is float)):
            try:
                return parse(value)
            except (ValueError, TypeError, ArithmeticError):
                pass
        report(problems, where, key, expected, describe(value))
        return value

    return Compiled(convert, expected)


def _iso(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    # Python 3.10's fromisoformat does not read a trailing "Z" (UTC).
    def parse_z(text: str) -> Any:
        return parse(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)

    return parse_z


def _decimal(value: Any) -> Decimal:
    number = Decimal(value if isinstance(value, str) else repr(value))
    if not number.is_finite():
        raise ValueError("not finite")
    return number


_NULL = exact(_NONE_TYPE, "null")
SIMPLE: dict[Any, Compiled] = {
    int: exact(int, "integer"),
    str: exact(str, "string"),
    bool: exact(bool, "boolean"),
    float: Compiled(_float, "number"),
    None: _NULL,
    _NONE_TYPE: _NULL,
    list: exact(list, "array"),
    dict: exact(dict, "object"),
    dt.datetime: _parsed(_iso(dt.datetime.fromisoformat), "ISO 8601 date-time string"),
    dt.date: _parsed(dt.date.fromisoformat, "ISO 8601 date string (YYYY-MM-DD)"),
    dt.time: _parsed(_iso(dt.time.fromisoformat), "ISO 8601 time string"),
    Decimal: _parsed(_decimal, "decimal number or numeric string", accepts_numbers=True),
    uuid.UUID: _parsed(uuid.UUID, "UUID string"),
    Any: PASSTHROUGH,
    object: PASSTHROUGH,
    EMPTY: PASSTHROUGH,
}
