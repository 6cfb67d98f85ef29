"""Request bodies as JSON: orjson's speed, exact integers, no repeated keys. I/O-free.

orjson alone has two gaps a strict endpoint cannot keep:

- it reads an integer beyond 64 bits (below -2**63 or above 2**64 - 1) as an
  approximate float, so ``123456789012345678901234567890`` would reach the model as
  ``1.2345678901234568e+29``;
- it keeps the last of a key written twice in one object, where a proxy or a log in
  front may have read the first.

:func:`loads` closes both without a second parse of ordinary bodies. It writes the
decoded document back with orjson (compact, colons only between keys and values and
inside strings) and compares colons: with no ``\\u003a`` escape in the body, the body
has exactly as many colons as the written document unless a key was dropped; only then
(or for such an escape, or a document too deep for orjson to write) does the slow
:func:`find_duplicate` scan run. orjson writes every float of magnitude 1e16 or more
with an exponent (``e+``); only when the written document has one (or, too deep to
write, the body has 19 digits in a row) is the body read again by the standard library,
which keeps integers exact.

The price is that one ``orjson.dumps``: about half a microsecond on a 100-byte body, and
about as long as the parse itself on a large body of numbers (1.5 ms a megabyte). So
bodies over :data:`CHECKED_BYTES` (256 KiB: tensors and batches, whose parse would cost
twice as much) are taken as orjson reads them: last key wins, and an integer beyond 64
bits is a float (an ``int`` parameter then refuses it with a 422). A client can pad a
body past that size to have a repeated key read as orjson reads it; what servekit does
with such a body is still exactly what its own parse says.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from servekit.core.paths import Where, render
from servekit.errors import BadJson, BadRequest, Problem

__all__ = ["CHECKED_BYTES", "find_duplicate", "loads"]

# A string (a key when a colon follows it) or a structural character. Numbers and
# true/false/null hold none of these, so a body orjson accepted splits into just these.
_TOKEN = re.compile(rb'("[^"\\]*(?:\\.[^"\\]*)*")(\s*:)?|[{}\[\],]', re.DOTALL)
_OPEN_OBJECT, _OPEN_ARRAY, _COMMA = b"{[,"
_BACKSLASH, _PLUS = b"\\+"  # ints: `int in bytes` is a memchr, `bytes in bytes` is not
_SMALL, _FEW = 4096, 32
CHECKED_BYTES = 256 * 1024
"""Bodies up to this size are checked for repeated keys and wide integers."""
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # an integer orjson may widen has 19 digits or more


def loads(body: bytes) -> Any:
    """The JSON document in ``body``; BadJson for invalid JSON or a key twice in an object."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadJson(f"the request body is not valid JSON: {exc}") from None
    if len(body) > CHECKED_BYTES:
        return document
    try:
        written = orjson.dumps(document)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels)
        _refuse_duplicates(body)
        return _exact(body) if _LONG_DIGITS.search(body) else document
    if _colons(body) != _colons(written) or (
        _BACKSLASH in body and (b"\\u003a" in body or b"\\u003A" in body)
    ):
        _refuse_duplicates(body)
    if _PLUS in written and b"e+" in written:  # a float of 1e16 or more: maybe an integer
        return _exact(body)
    return document


def _colons(text: bytes) -> int:
    # bytes.count reads every byte; find (memchr) skips fast to the next colon, so a large
    # body of numbers with few colons is counted in a fraction of the time.
    if len(text) < _SMALL:
        return text.count(b":")
    found, at = 0, text.find(b":")
    while at >= 0:
        found += 1
        if found == _FEW:
            return text.count(b":")
        at = text.find(b":", at + 1)
    return found


def _exact(body: bytes) -> Any:
    # orjson has accepted the body, so the standard library accepts it too and reads the
    # same values, but for integers, which it keeps exact.
    try:
        return json.loads(body.decode())
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None


def _refuse_duplicates(body: bytes) -> None:
    problem = find_duplicate(body)
    if problem is not None:
        raise BadJson(
            f"the request body has the key {problem.got} in one object "
            f"(at {problem.path}); send each key once",
            [problem.to_dict()],
        )


def find_duplicate(body: bytes) -> Problem | None:
    """The first key written twice in one object of ``body``, a JSON text orjson accepted.

    Keys are compared decoded (``"a"`` and ``"\\u0061"`` are the same key); the path is
    the repeated key's own, ``data.rows[2].age``. Iterative: any depth.
    """
    # Per open container: its location, its current child (the last key, or the index)
    # and, for an object, the keys seen so far (None for an array).
    places: list[Where] = []
    children: list[Any] = []
    keys: list[set[str] | None] = []
    for token in _TOKEN.finditer(body):
        text = token.group(1)
        if text is not None:
            if token.group(2) is None:
                continue  # a string value: only a key has a colon after it
            seen = keys[-1]
            if seen is None:
                continue  # never: keys stand in objects
            key: str = orjson.loads(text)
            if key in seen:
                shown = orjson.dumps(key).decode()
                return Problem(render(places[-1], key), "each key once", f"{shown} twice")
            seen.add(key)
            children[-1] = key
            continue
        char = token.group()[0]
        if char == _COMMA:
            if keys[-1] is None:
                children[-1] += 1
        elif char in (_OPEN_OBJECT, _OPEN_ARRAY):
            places.append((places[-1], children[-1]) if places else "")
            children.append(0)
            keys.append(set() if char == _OPEN_OBJECT else None)
        else:
            places.pop()
            children.pop()
            keys.pop()
    return None
