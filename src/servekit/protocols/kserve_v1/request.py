"""KServe V1's request document, decoded. I/O-free.

A predict body is a JSON object with ``instances`` (TensorFlow Serving's row format)
or ``inputs`` (KServe takes it as the same list): a non-empty array, one item per
instance. Other top-level keys (``signature_name``, ...) are ignored, as KServe ignores
them. Paths in error messages start with the key the client used (``inputs[2].x``).
"""

from __future__ import annotations

from typing import Any

from servekit.core import jsonbody
from servekit.core.paths import describe
from servekit.errors import BadJson, BadRequest

__all__ = ["Instances", "parse_request"]

_EXAMPLE = 'send {"instances": [instance, ...]}'
_KEYS = ("instances", "inputs")

Instances = tuple[str, list[Any]]
"""The key the client used (``instances`` or ``inputs``) and its instances."""


def parse_request(body: bytes) -> Instances:
    """The instances of a predict body.

    BadJson for bytes that are not JSON, BadRequest for JSON that is not an object with
    exactly one of ``instances`` and ``inputs`` holding a non-empty array.
    """
    if not body.strip():
        raise BadJson(f"the request body is empty; {_EXAMPLE}")
    document = jsonbody.loads(body)
    if type(document) is not dict:
        raise BadRequest(
            f"the request body must be a JSON object, got {describe(document)}; {_EXAMPLE}"
        )
    found = [key for key in _KEYS if key in document]
    if not found:
        keys = ", ".join(list(document)[:5]) or "none"
        raise BadRequest(
            f'the request has no "instances" or "inputs" key (keys: {keys}); {_EXAMPLE}'
        )
    if len(found) > 1:
        raise BadRequest('send either "instances" or "inputs", not both')
    key = found[0]
    instances = document[key]
    if type(instances) is not list:
        raise BadRequest(f'"{key}" must be an array of instances, got {describe(instances)}')
    if not instances:
        raise BadRequest(f'"{key}" is empty: send at least one instance')
    return key, instances
