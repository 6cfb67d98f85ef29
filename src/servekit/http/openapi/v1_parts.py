"""The OpenAPI operations of KServe's V1 protocol (:mod:`servekit.http.v1_routes`):
their answers, and their errors ``{"error": "message"}`` with KServe's codes. I/O-free;
assembled by :func:`servekit.http.openapi.document.build_document`."""

from __future__ import annotations

from typing import Any

from servekit.http.openapi.parts import build_operation, json_answer, schema_ref

__all__ = ["v1_operation"]

_ERRORS = {
    400: "the body is not JSON, not an instances object, or an instance is bad (named)",
    401: "no valid access token",
    404: "the model is not served here",
    413: "the body is larger than SERVEKIT_MAX_BODY_BYTES",
    431: "the request headers are too large",
    500: "the model raised (the instance named)",
    501: "not offered: the model has no explainer",
    503: "not ready: the model is loading",
    504: "the prediction ran past SERVEKIT_TIMEOUT",
}
_SUMMARIES = {
    "v1_models": ("v1-models: the model served", "V1Models"),
    "v1_model_ready": ("v1-ready: the model is ready", "V1ModelReady"),
    "v1_predict": ("v1-predict: predictions, one per instance", "V1PredictResponse"),
    "v1_explain": ("v1-explain: not offered (501)", "V1PredictResponse"),
}


def v1_operation(kind: str, path: str, security: list[Any]) -> dict[str, Any]:
    """A route of KServe's V1 protocol, documented by its ``operation`` (``kind``)."""
    summary, answer = _SUMMARIES[kind]
    auth = (401,) if security else ()
    codes: tuple[int, ...] = {
        "v1_models": (503,),
        "v1_model_ready": (404, 503),
        "v1_predict": (400, *auth, 404, 413, 431, 500, 503, 504),
        "v1_explain": (*auth, 404, 501, 503),
    }[kind]
    responses = {
        "200": json_answer(schema_ref(answer), "the answer"),
        **{str(c): json_answer(schema_ref("V1Error"), _ERRORS[c]) for c in codes},
    }
    if kind == "v1_explain":
        del responses["200"]
    body = schema_ref("V1PredictRequest") if kind in ("v1_predict", "v1_explain") else None
    return build_operation(path, summary, responses, security, body)
