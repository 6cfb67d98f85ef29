"""The binary tensor data extension: tensors as raw bytes after the JSON header. I/O-free.

A request or response with binary data is its JSON header (``Inference-Header-Content-
Length`` bytes) followed by each binary tensor's bytes, in the order the header lists
them, each sized by its ``parameters.binary_data_size``. Numbers are little-endian, a
``BOOL`` is one byte (0 or 1), and a ``BYTES`` tensor is each element as a 4-byte
little-endian length followed by its bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from servekit import errors
from servekit.protocols.v2.datatypes import DATATYPES, count

__all__ = ["from_bytes", "split", "to_bytes"]

_LENGTH = struct.Struct("<I")


def split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary data after it (none without the header)."""
    if header_length is None:
        return body, b""
    try:
        size = int(header_length)
    except ValueError:
        size = -1
    if not 0 <= size <= len(body):
        raise errors.BadRequest(
            f"Inference-Header-Content-Length is {header_length!r}: it must be a number of "
            f"bytes from 0 to the body's {len(body)}"
        )
    return body[:size], body[size:]


def from_bytes(
    name: str, datatype: str, shape: tuple[int, ...], raw: bytes
) -> np.ndarray[Any, Any]:
    """The tensor ``name`` from its raw bytes; BadRequest naming it when their size
    disagrees with the shape and datatype."""
    where = f"input {name!r} ({datatype} {list(shape)})"
    elements = count(shape)
    dtype = DATATYPES[datatype]
    if dtype.kind == "O":
        return _strings(where, elements, raw).reshape(shape)
    if len(raw) != elements * dtype.itemsize:
        raise errors.BadRequest(
            f"{where}: binary_data_size is {len(raw)} bytes, the shape and datatype need "
            f"{elements * dtype.itemsize}"
        )
    if dtype.kind == "b":
        bytes_ = np.frombuffer(raw, dtype=np.uint8)
        if bytes_.size and bytes_.max() > 1:
            raise errors.BadRequest(f"{where}: a BOOL element is a byte 0 or 1")
        return bytes_.astype(np.bool_).reshape(shape)
    # A copy: a model may write into its input, and the body's bytes are read-only.
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _strings(where: str, elements: int, raw: bytes) -> np.ndarray[Any, Any]:
    items: list[bytes] = []
    at, end = 0, len(raw)
    while at < end:
        if end - at < 4:
            raise errors.BadRequest(f"{where}: BYTES data ends inside an element's length")
        (length,) = _LENGTH.unpack_from(raw, at)
        at += 4
        if length > end - at:
            raise errors.BadRequest(
                f"{where}: BYTES element {len(items)} says {length} bytes, {end - at} are left"
            )
        items.append(raw[at : at + length])
        at += length
    if len(items) != elements:
        raise errors.BadRequest(
            f"{where}: the shape holds {elements} elements, the BYTES data has {len(items)}"
        )
    array = np.empty(elements, dtype=object)
    array[:] = items
    return array


def to_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """``array``'s elements as the extension writes them (row-major, little-endian)."""
    if array.dtype.kind == "O":
        return b"".join(_LENGTH.pack(len(item)) + item for item in array.reshape(-1))
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
