"""Encode results as JSON bytes with orjson. I/O-free.

orjson handles dicts, lists, str, int, float, bool, None, dataclasses, datetimes (ISO
8601), UUIDs, enums and contiguous numpy arrays and scalars natively. :func:`encode`
adds the rest a model is likely to return: any numpy array (non-contiguous, float16,
object), numpy scalars, ``Decimal`` (as a number), ``set``/``frozenset`` (as a sorted
array when the items sort), ``bytes`` (base64 text), paths, ``timedelta`` (seconds), and
any object with ``tolist()`` (tensors) or ``to_dict()`` (pandas). NaN and infinities
encode as ``null``. Anything else raises :class:`EncodeError`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import numpy as np
import orjson

__all__ = ["EncodeError", "encode"]

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class EncodeError(TypeError):
    """A result that servekit cannot write as JSON."""


def encode(value: Any) -> bytes:
    """JSON bytes for ``value``; raises :class:`EncodeError` naming the offending type."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise EncodeError(str(exc)) from None
    # orjson stops at 64-bit integers: write wider ones as JSON numbers through the
    # standard library, after orjson has turned everything else into plain JSON types.
    try:
        plain = _widen(value)
        return json.dumps(plain, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError, orjson.JSONEncodeError) as exc:
        raise EncodeError(str(exc)) from None


def _widen(value: Any) -> Any:
    """``value`` as plain JSON types, big integers kept (orjson for everything else)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {str(k): _widen(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_widen(v) for v in value]
    return orjson.loads(orjson.dumps(value, default=_default, option=_OPTIONS))


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        # One encoding whatever the memory layout: orjson writes C-contiguous arrays and
        # scalars of its dtypes itself (float32 with float32's shortest digits).
        if value.ndim == 0:
            return value[()]
        if value.dtype.kind in "fiub" and not value.flags.c_contiguous:
            return np.ascontiguousarray(value)
        return value.tolist()
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, np.generic):  # longdouble, clongdouble: no Python twin
            return complex(item) if np.iscomplexobj(item) else float(item)
        return item
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if callable(getattr(value, "tolist", None)):
        return value.tolist()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return to_dict(orient="records")
        except TypeError:
            return to_dict()
    raise TypeError(
        f"cannot encode a {type(value).__module__}.{type(value).__qualname__} as JSON; "
        "return dicts, lists, numbers, strings, numpy arrays, dataclasses or datetimes"
    )
