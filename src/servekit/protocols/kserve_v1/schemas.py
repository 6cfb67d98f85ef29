"""KServe V1's messages as JSON Schema (for servekit's OpenAPI document,
:mod:`servekit.http.openapi.v1_parts`). I/O-free."""

from __future__ import annotations

from typing import Any

__all__ = ["V1_SCHEMAS"]

_STRING = {"type": "string"}
_INSTANCES = {
    "type": "array",
    "minItems": 1,
    "description": (
        "one item per instance. A tensor model (ONNX) takes them as one batch: a row of "
        "its input, or an object with a row of each input. Any other model is called "
        "once per instance: an object is its named arguments, an array its positional "
        "arguments, any other value the argument of a model of one argument"
    ),
}
V1_SCHEMAS: dict[str, Any] = {
    "V1Error": {"type": "object", "properties": {"error": _STRING}, "required": ["error"]},
    "V1PredictRequest": {
        "type": "object",
        "properties": {"instances": _INSTANCES, "inputs": _INSTANCES},
        "oneOf": [{"required": ["instances"]}, {"required": ["inputs"]}],
    },
    "V1PredictResponse": {
        "type": "object",
        "properties": {
            "predictions": {
                "type": "array",
                "description": "one per instance, in order (rows of a tensor model's output)",
            }
        },
        "required": ["predictions"],
    },
    "V1Models": {
        "type": "object",
        "properties": {"models": {"type": "array", "items": _STRING}},
        "required": ["models"],
    },
    "V1ModelReady": {
        "type": "object",
        "properties": {"name": _STRING, "ready": {"type": "boolean"}},
        "required": ["name", "ready"],
    },
}
