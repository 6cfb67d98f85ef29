"""The Open Inference Protocol's messages as JSON Schema (for servekit's OpenAPI
document, :mod:`servekit.http.openapi.parts`). I/O-free."""

from __future__ import annotations

from typing import Any

from servekit.protocols.v2.datatypes import DATATYPES

__all__ = ["V2_SCHEMAS"]

_STRING = {"type": "string"}
_NAME = {"type": "string", "minLength": 1}
_V2_TENSOR = {
    "type": "object",
    "properties": {
        "name": _NAME,
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"enum": list(DATATYPES)},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
        },
        "data": {"description": "the elements, row-major, flat or nested"},
    },
    "required": ["name", "shape", "datatype"],
}
_V2_META = {
    "type": "object",
    "properties": {
        "name": _STRING,
        "datatype": _STRING,
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["name", "datatype", "shape"],
}
V2_SCHEMAS: dict[str, Any] = {
    "V2Error": {"type": "object", "properties": {"error": _STRING}, "required": ["error"]},
    "V2Tensor": _V2_TENSOR,
    "V2InferRequest": {
        "type": "object",
        "properties": {
            "id": _STRING,
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/V2Tensor"},
                "minItems": 1,
            },
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": _NAME,
                        "parameters": {
                            "type": "object",
                            "properties": {"binary_data": {"type": "boolean"}},
                        },
                    },
                    "required": ["name"],
                },
            },
        },
        "required": ["inputs"],
    },
    "V2InferResponse": {
        "type": "object",
        "properties": {
            "model_name": _STRING,
            "model_version": _STRING,
            "id": _STRING,
            "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
        },
        "required": ["model_name", "model_version", "id", "outputs"],
    },
    "V2ModelMetadata": {
        "type": "object",
        "properties": {
            "name": _STRING,
            "versions": {"type": "array", "items": _STRING},
            "platform": _STRING,
            "inputs": {"type": "array", "items": _V2_META},
            "outputs": {"type": "array", "items": _V2_META},
        },
        "required": ["name", "versions", "platform", "inputs", "outputs"],
    },
    "V2ServerMetadata": {
        "type": "object",
        "properties": {
            "name": _STRING,
            "version": _STRING,
            "extensions": {"type": "array", "items": _STRING},
        },
        "required": ["name", "version", "extensions"],
    },
}
