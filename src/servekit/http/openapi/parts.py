"""Pieces of servekit's OpenAPI document: operations, error answers and shared schemas.
I/O-free; assembled by :func:`servekit.http.openapi.document.build_document`."""

from __future__ import annotations

import re
from typing import Any

from servekit.protocols.kserve_v1.schemas import V1_SCHEMAS
from servekit.protocols.v2.schemas import V2_SCHEMAS

__all__ = [
    "SCHEMAS",
    "async_status",
    "async_submit",
    "build_operation",
    "envelope",
    "error_answers",
    "json_answer",
    "plain",
    "prediction",
    "schema_ref",
    "seldon_get_predict",
    "seldon_operation",
    "v2_operation",
]

_JSON = "application/json"
_ERROR_CODES = {
    400: "BAD_JSON (not JSON) or BAD_REQUEST (not a data/parameters object)",
    401: "UNAUTHORIZED: no valid access token",
    404: "NOT_FOUND",
    409: "CONFLICT: the caller's Idempotency-Key was used for another body",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE: the body is not declared as JSON",
    422: "INVALID_ARGUMENTS: every problem with its path in details",
    429: "TOO_MANY_REQUESTS: the queue is full; retry after Retry-After seconds",
    431: "HEADERS_TOO_LARGE",
    500: "MODEL_ERROR (your code raised) or INTERNAL",
    503: "NOT_READY (loading or draining) or STORE_UNAVAILABLE",
    504: "TIMEOUT",
}
_BINARY = "application/octet-stream"
_REQUEST_ID = {"X-Request-ID": {"description": "the request's id", "schema": {"type": "string"}}}
_SEGMENT = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
_STRING = {"type": "string"}
_ANY_OBJECT = {"type": "object"}
_MODEL_TIME = (
    "milliseconds the model itself (the served function) took, as a whole number "
    "(Domino's integer): rounded to the nearest millisecond, so 0 for a model that takes "
    "under half a millisecond; timing has the sub-millisecond figure"
)
_TIMING = (
    "milliseconds, with a fraction, servekit spent on this prediction: decoding the body, "
    "binding the arguments and running the model (model_time_in_ms is the last part); "
    "not reading the body from the network, the access check or encoding this response"
)

SCHEMAS: dict[str, Any] = {
    "ErrorEnvelope": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "; ".join(_ERROR_CODES.values())},
                    "message": _STRING,
                    "details": {"type": "array", "items": _ANY_OBJECT},
                },
                "required": ["code", "message", "details"],
            },
            "request_id": _STRING,
        },
        "required": ["error", "request_id"],
    },
    "PredictionResponse": {
        "type": "object",
        "properties": {
            "result": {"description": "what the model returned"},
            "request_id": _STRING,
            "model_time_in_ms": {
                "type": "integer",
                "minimum": 0,
                "description": _MODEL_TIME,
            },
            "timing": {"type": "number", "minimum": 0, "description": _TIMING},
            "release": {"type": "object", "additionalProperties": _STRING},
        },
        "required": ["result", "request_id", "model_time_in_ms", "timing", "release"],
    },
    "AsyncSubmitted": {
        "type": "object",
        "properties": {"asyncPredictionId": _STRING, "request_id": _STRING},
        "required": ["asyncPredictionId"],
    },
    "AsyncStatus": {
        "type": "object",
        "properties": {
            "asyncPredictionId": _STRING,
            "status": {"enum": ["queued", "succeeded", "failed"]},
            "phase": {"enum": ["queued", "running", "succeeded", "failed"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "startedAt": {"type": "string", "format": "date-time"},
            "completedAt": {"type": "string", "format": "date-time"},
            "attempts": {"type": "integer"},
            "result": {},
            "errors": {"type": "array", "items": _STRING},
        },
        "required": ["asyncPredictionId", "status", "phase", "createdAt", "attempts"],
    },
    "SeldonMessage": {
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "properties": {
                    "names": {"type": "array", "items": _STRING},
                    "ndarray": {"type": "array"},
                    "tensor": {
                        "type": "object",
                        "properties": {
                            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                            "values": {"type": "array", "items": {"type": "number"}},
                        },
                        "required": ["shape", "values"],
                    },
                },
            },
            "jsonData": {},
            "strData": _STRING,
            "binData": {"type": "string", "contentEncoding": "base64"},
            "meta": {
                "type": ["object", "null"],
                "properties": {  # null is taken as absent
                    "puid": {"type": ["string", "null"]},
                    "tags": {"type": ["object", "null"]},
                    "metrics": {"type": ["array", "null"], "items": _ANY_OBJECT},
                },
            },
        },
        "anyOf": [{"required": [key]} for key in ("data", "jsonData", "strData", "binData")],
    },
    "SeldonError": {
        "type": "object",
        "properties": {
            "status": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "info": _STRING,
                    "code": {"type": "integer"},
                    "reason": {"enum": ["MICROSERVICE_BAD_DATA", "MICROSERVICE_INTERNAL_ERROR"]},
                },
                "required": ["status", "info", "code", "reason"],
            }
        },
        "required": ["status"],
    },
}
SCHEMAS.update(V2_SCHEMAS)
SCHEMAS.update(V1_SCHEMAS)


def schema_ref(name: str) -> dict[str, str]:
    """A reference to the schema ``name`` in the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response of ``schema``, with the X-Request-ID header."""
    return {
        "description": description,
        "headers": _REQUEST_ID,
        "content": {_JSON: {"schema": schema}},
    }


def error_answers(codes: tuple[int, ...], schema: str = "ErrorEnvelope") -> dict[str, Any]:
    """The error answers of ``codes``, each with ``schema``."""
    return {str(code): json_answer(schema_ref(schema), _ERROR_CODES[code]) for code in codes}


def envelope(key: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
    """A request body ``{key: schema}`` (other top-level keys are ignored)."""
    return {
        "type": "object",
        "title": f"{key}: {what}",
        "properties": {key: schema},
        "required": [key],
        "not": {"required": ["parameters" if key == "data" else "data"]},
    }


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = re.findall(r"\{(\w+)\}", path)  # /v1/models/{name}:predict too
    return [{"name": n, "in": "path", "required": True, "schema": _SEGMENT} for n in names]


def build_operation(
    path: str, summary: str, responses: dict[str, Any], security: list[Any], body: Any = None
) -> dict[str, Any]:
    """An operation: its id (from the summary's first word and the path), path
    parameters, responses, JSON request body and security."""
    operation: dict[str, Any] = {
        "operationId": re.sub(r"[/:]", "_", summary.split(":")[0] + path)
        .replace("{", "")
        .replace("}", ""),
        "summary": summary,
        "parameters": _path_parameters(path),
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
    if security:
        operation["security"] = security
    return operation


def prediction(path: str, request: dict[str, Any], security: list[Any]) -> dict[str, Any]:
    """``POST`` a prediction: the data and parameters forms; every answer it can give."""
    codes = (400, *((401,) if security else ()), 404, 413, 415, 422, 431, 500, 503, 504)
    responses = {
        "200": json_answer(schema_ref("PredictionResponse"), "the model's result"),
        **error_answers(codes),
    }
    return build_operation(path, "predict: synchronous prediction", responses, security, request)


def async_submit(path: str, request: dict[str, Any], security: list[Any]) -> dict[str, Any]:
    """``POST`` to Domino's asynchronous API (or its short alias): queue a prediction."""
    auth = (401,) if security else ()
    submitted = {
        "200": json_answer(schema_ref("AsyncSubmitted"), "queued"),
        **error_answers((400, *auth, 404, 409, 413, 415, 422, 429, 431, 503)),
    }
    return build_operation(path, "submit: queue a prediction", submitted, security, request)


def async_status(path: str, security: list[Any]) -> dict[str, Any]:
    """``GET`` an asynchronous prediction's status."""
    auth = (401,) if security else ()
    status = {
        "200": json_answer(schema_ref("AsyncStatus"), "the job"),
        **error_answers((*auth, 404, 431, 503)),
    }
    return build_operation(path, "poll: an asynchronous prediction", status, security)


def seldon_get_predict(security: list[Any]) -> dict[str, Any]:
    """``GET /predict?json=<SeldonMessage>``, as Seldon's wrapper takes it too."""
    operation = seldon_operation("predict", "/predict", security)
    del operation["requestBody"]
    operation["operationId"] += "_get"
    operation["parameters"] = [
        {
            "name": "json",
            "in": "query",
            "required": True,
            "description": "a SeldonMessage as JSON",
            "content": {_JSON: {"schema": schema_ref("SeldonMessage")}},
        }
    ]
    return operation


def _optional_message() -> dict[str, Any]:
    """A feedback part: a SeldonMessage that needs no payload (``{}`` and null are taken
    as absent; a ``response`` may carry only ``meta``)."""
    return {"type": ["object", "null"], "properties": SCHEMAS["SeldonMessage"]["properties"]}


def seldon_operation(kind: str, path: str, security: list[Any]) -> dict[str, Any]:
    """A Seldon v1 prediction or feedback route (SeldonMessage in and out)."""
    body = (
        schema_ref("SeldonMessage")
        if kind == "predict"
        else {
            "type": "object",
            "properties": {
                "request": _optional_message(),
                "response": _optional_message(),
                "reward": {"type": "number"},
                "truth": _optional_message(),
            },
            "additionalProperties": False,
        }
    )
    codes = (400, *((401,) if security else ()), 404, 413, 431, 500, 503, 504)
    responses = {
        "200": json_answer(schema_ref("SeldonMessage"), "a SeldonMessage"),
        **error_answers(codes, "SeldonError"),
    }
    return build_operation(path, f"seldon-{kind}: Seldon Core v1", responses, security, body)


def plain(endpoint: str, path: str, security: list[Any]) -> dict[str, Any]:
    """A ``GET`` route without a request body: the probes, metadata, pages and files."""
    text = {"description": "text", "content": {"text/plain": {"schema": _STRING}}}
    alive = json_answer({"type": "object", "properties": {"status": {"const": "alive"}}}, "alive")
    ready = {
        "200": json_answer(_ANY_OBJECT, "ready: the model and its runtime"),
        **error_answers((503,)),
    }
    auth = (401,) if security else ()
    seldon_status = {
        "200": json_answer(schema_ref("SeldonMessage"), "health"),
        **error_answers((*auth, 500, 503, 504), "SeldonError"),
    }
    metadata = {
        "200": json_answer(_ANY_OBJECT, "Seldon metadata"),
        **error_answers((500, 503), "SeldonError"),
    }
    html = {"description": "a page", "content": {"text/html": {"schema": _STRING}}}
    asset = {"description": "a file of the tester page", "content": {"*/*": {"schema": _STRING}}}
    summary, responses = {
        "live": ("live: the process answers", {"200": alive}),
        "ready": ("ready: the model is loaded", ready),
        "seldon_ping": ("seldon-ping: pong", {"200": text}),
        "seldon_status": ("seldon-status: health", seldon_status),
        "seldon_metadata": ("seldon-metadata: the model", metadata),
        "seldon_openapi": (
            "seldon-openapi: Seldon's description",
            {"200": json_answer(_ANY_OBJECT, "OpenAPI")},
        ),
        "openapi": ("openapi: this document", {"200": json_answer(_ANY_OBJECT, "OpenAPI 3.1")}),
        "tester": ("tester: the tester page", {"200": html, "503": html}),
        "static": ("static: the tester page's files", {"200": asset, **error_answers((404,))}),
        "metrics": ("metrics: Prometheus", {"200": text}),
    }[endpoint]
    return build_operation(path, summary, responses, security)


def v2_operation(kind: str, path: str, security: list[Any]) -> dict[str, Any]:
    """A route of the Open Inference Protocol (V2): its answers, errors ``{"error"}``."""
    auth = (401,) if security else ()
    if kind != "v2_infer":
        summary, schema, codes = {
            "v2_server": ("v2-server: server metadata", "V2ServerMetadata", ()),
            "v2_model": ("v2-model: model metadata", "V2ModelMetadata", (404, 503)),
            "v2_model_ready": ("v2-ready: the model is ready", "", (404, 503)),
        }[kind]
        found = (
            json_answer(schema_ref(schema), "metadata")
            if schema
            else json_answer(_ANY_OBJECT, "ready")
        )
        return build_operation(
            path, summary, {"200": found, **error_answers(codes, "V2Error")}, security
        )
    codes = (400, *auth, 404, 413, 431, 500, 503, 504)
    answer = json_answer(schema_ref("V2InferResponse"), "the output tensors")
    answer["content"][_BINARY] = {"schema": {"description": _BINARY_TEXT}}
    responses = {"200": answer, **error_answers(codes, "V2Error")}
    operation = build_operation(
        path, "v2-infer: inference", responses, security, schema_ref("V2InferRequest")
    )
    operation["requestBody"]["content"][_BINARY] = {"schema": {"description": _BINARY_TEXT}}
    operation["parameters"].append(
        {
            "name": "Inference-Header-Content-Length",
            "in": "header",
            "required": False,
            "description": "with binary tensor data: the length of the JSON header before it",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    )
    return operation


_BINARY_TEXT = (
    "the binary tensor data extension: the JSON header (Inference-Header-Content-Length "
    "bytes), then each binary tensor's bytes in order (parameters.binary_data_size)"
)
