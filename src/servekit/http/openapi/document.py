"""The OpenAPI 3.1 document of a server, built once at load from the runtime's signature.

It describes exactly what the server accepts and answers: the prediction routes with
the ``data`` and both ``parameters`` forms (from the signature: Python type hints with
their ``Annotated`` constraints and docstring descriptions, ONNX inputs, R formals), the
asynchronous routes when they are on, Seldon's routes, the probes, the security schemes
when access tokens are set, and every error each route can answer, in its envelope.
I/O-free.
"""

from __future__ import annotations

from typing import Any

from servekit._version import __version__
from servekit.core.dataplane import DataPlane
from servekit.core.docstrings import parameter_docs, summary
from servekit.core.schema import SchemaBuilder, signature_schema
from servekit.core.signature import ParamKind, Signature
from servekit.http.auth import build_authenticator
from servekit.http.openapi import parts
from servekit.settings import Settings

__all__ = ["build_document"]

_JSON = "application/json"
_PREDICT = ("/model", "/models/{model_id}/{version}/model")
_SELDON_PREDICT = ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict")
_SELDON_FEEDBACK = ("/api/v1.0/feedback", "/api/v0.1/feedback", "/send-feedback")


def _served(plane: DataPlane) -> Any:
    runtime = plane.runtime
    return getattr(runtime, "served", None)


def _request_schemas(signature: Signature, builder: SchemaBuilder, docs: dict[str, str]) -> Any:
    data = signature_schema(signature, docs, builder)
    positional = [
        p
        for p in signature.params
        if p.kind in (ParamKind.POSITIONAL_ONLY, ParamKind.POSITIONAL_OR_KEYWORD)
    ]
    varargs = next((p for p in signature.params if p.kind is ParamKind.VAR_POSITIONAL), None)
    items = [builder.of(p.annotation) for p in positional]
    array: dict[str, Any] = {
        "type": "array",
        "prefixItems": items,
        "items": builder.of(varargs.annotation) if varargs is not None else False,
    }
    array["minItems"] = sum(1 for p in positional if p.required)
    if varargs is None:
        array["maxItems"] = len(items)
    keyword_only_required = [
        p.name for p in signature.params if p.kind is ParamKind.KEYWORD_ONLY and p.required
    ]
    forms: list[dict[str, Any]] = [
        parts.envelope("data", {"$ref": "#/components/schemas/Data"}, "named arguments"),
        parts.envelope("parameters", {"$ref": "#/components/schemas/Data"}, "named arguments"),
    ]
    if not keyword_only_required:
        forms.append(parts.envelope("parameters", array, "positional arguments"))
    return data, {"oneOf": forms}


def build_document(settings: Settings, plane: DataPlane | None) -> dict[str, Any]:
    """The whole document (a plain JSON-ready dict)."""
    builder = SchemaBuilder("#/components/schemas/")
    secured = build_authenticator(settings.access_tokens, settings.access_tokens_file).enabled
    description = f"Served by servekit {__version__}."
    if plane is not None:
        served = _served(plane)
        docs = parameter_docs(served) if served is not None else {}
        text = summary(served) if served is not None else ""
        description = f"{text}\n\n{description}".strip()
        data, request = _request_schemas(plane.binder.signature, builder, docs)
        name, version = plane.release.model_name, plane.release.model_version
    else:
        data, request = {"type": "object"}, {"type": "object"}
        name, version = settings.model_name or "model", settings.model_version
    security: list[dict[str, list[str]]] = [{"bearer": []}, {"basic": []}] if secured else []
    paths: dict[str, Any] = {}
    for path in _PREDICT:
        paths[path] = {"post": parts.prediction(path, request, security)}
    if settings.async_enabled:
        paths.update(parts.async_paths(request, security))
    for path in _SELDON_PREDICT:
        paths[path] = {"post": parts.seldon_operation("predict", path, security)}
    paths["/predict"]["get"] = parts.seldon_get_predict(security)
    for path in _SELDON_FEEDBACK:
        paths[path] = {"post": parts.seldon_operation("feedback", path, security)}
    paths.update(parts.plain_paths(metrics=not settings.metrics_port))
    components: dict[str, Any] = {
        "schemas": {"Data": data, **parts.SCHEMAS, **builder.definitions},
    }
    if secured:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an access token"},
            "basic": {
                "type": "http",
                "scheme": "basic",
                "description": "the access token as user name and/or password",
            },
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": name, "version": version, "description": description},
        "paths": paths,
        "components": components,
    }
