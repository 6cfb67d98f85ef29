"""The OpenAPI operations of MLflow's scoring server (:mod:`servekit.http.mlflow_routes`,
documented when the model is an MLflow model): ``/invocations``' JSON forms, CSV and
Parquet bodies, its answer and its errors in MLflow's shape. I/O-free; assembled by
:func:`servekit.http.openapi.document.build_document`."""

from __future__ import annotations

from typing import Any

from servekit.http.openapi.parts import build_operation, json_answer

__all__ = ["mlflow_operation"]

_ROWS = {"type": "array", "items": {"type": "object"}, "description": "one object per row"}
_FORMATS: dict[str, dict[str, Any]] = {
    "dataframe_split": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "index": {"type": "array"},
            "data": {"type": "array", "items": {"type": "array"}},
        },
        "additionalProperties": False,
        "description": "a DataFrame as pandas' split orient writes it",
    },
    "dataframe_records": _ROWS,
    "instances": {"description": "rows (objects), or tensors: TensorFlow Serving's row form"},
    "inputs": {"description": "columns or tensors: TensorFlow Serving's columnar form"},
}
_REQUEST = {
    "oneOf": [
        {
            "type": "object",
            "title": key,
            "required": [key],
            "properties": {
                key: schema,
                "params": {"type": "object", "description": "the model's params"},
            },
        }
        for key, schema in _FORMATS.items()
    ]
}
_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {
        "error_code": {"type": "string", "examples": ["BAD_REQUEST"]},
        "message": {"type": "string"},
        "sqlstate": {"type": "string"},
        "error_class": {"type": "string"},
    },
}
_ERRORS = {
    400: "the body cannot be read as the model's input, or the model refused it",
    401: "no valid access token",
    404: "not an MLflow model",
    413: "the body is larger than SERVEKIT_MAX_BODY_BYTES",
    415: "not CSV, JSON or Parquet, or a charset other than UTF-8 (plain text)",
    431: "the request headers are too large",
    500: "the result cannot be written as JSON",
    503: "not ready: the model is loading",
    504: "the prediction ran past SERVEKIT_TIMEOUT",
}
_SUMMARIES = {
    "mlflow_invocations": "mlflow-invocations: MLflow's scoring protocol",
    "mlflow_ping": "mlflow-ping: the model is loaded",
    "mlflow_version": "mlflow-version: the MLflow version serving the model",
}


def _error(code: int) -> dict[str, Any]:
    if code == 415:
        return {"description": _ERRORS[code], "content": {"text/plain": {"schema": {}}}}
    return json_answer(_ERROR, _ERRORS[code])


def mlflow_operation(kind: str, path: str, security: list[Any]) -> dict[str, Any]:
    """A route of MLflow's scoring server, documented by its ``operation`` (``kind``)."""
    if kind != "mlflow_invocations":
        answer = {"type": "string", "description": "a newline, or MLflow's version"}
        responses = {"200": json_answer(answer, "the answer"), "404": _error(404)}
        responses["503"] = _error(503)
        return build_operation(path, _SUMMARIES[kind], responses, security)
    codes = (400, *((401,) if security else ()), 404, 413, 415, 431, 500, 503, 504)
    predictions = {"type": "object", "required": ["predictions"]}
    responses = {
        "200": json_answer(predictions, "the model's predictions"),
        **{str(code): _error(code) for code in codes},
    }
    operation = build_operation(path, _SUMMARIES[kind], responses, security, _REQUEST)
    operation["requestBody"]["content"].update(
        {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        }
    )
    return operation
