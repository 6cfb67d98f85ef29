"""The OpenAPI 3.1 document of a server, built once at load from the runtime's signature.

It describes exactly what the server accepts and answers: the prediction routes with
the ``data`` and both ``parameters`` forms (from the signature: Python type hints with
their ``Annotated`` constraints and docstring descriptions, ONNX inputs, R formals), the
asynchronous routes when they are on, Seldon's routes, the Open Inference Protocol's
and KServe V1's, MLflow's scoring server's for an MLflow model, the probes, the security
schemes when access tokens are set, and every error each route can answer, in its
envelope.
I/O-free.
"""

from __future__ import annotations

from typing import Any

from servekit._version import __version__
from servekit.core.dataplane import DataPlane
from servekit.core.docstrings import parameter_docs, summary
from servekit.core.schema import SchemaBuilder, signature_schema
from servekit.core.signature import ParamKind, Signature
from servekit.http.openapi import parts
from servekit.http.openapi.ground_truth import ground_truth_operation
from servekit.http.openapi.mlflow_parts import mlflow_operation
from servekit.http.openapi.v1_parts import v1_operation
from servekit.http.routes import ROUTES, Route, openapi_path
from servekit.settings import Settings

__all__ = ["build_document"]


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
    if signature.rows is not None:  # a table model: Domino's list of rows
        row = signature_schema(signature.rows, docs, builder)
        rows = {"type": "array", "minItems": 1, "items": row}
        forms.append(parts.envelope("data", rows, "a list of rows, one value per column"))
    return data, {"oneOf": forms}


def build_document(
    settings: Settings, plane: DataPlane | None, secured: bool = False
) -> dict[str, Any]:
    """The whole document (a plain JSON-ready dict); ``secured``: access tokens are set.
    Its paths are the route table's (:data:`~servekit.http.routes.ROUTES`)."""
    builder = SchemaBuilder("#/components/schemas/")
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
    features = {
        "",
        "async" if settings.async_enabled else "",
        "capture" if settings.capture else "",
        "" if settings.metrics_port else "metrics",
        "mlflow" if plane is not None and plane.runtime.kind == "mlflow" else "",
    }
    paths: dict[str, Any] = {}
    for route in ROUTES:
        if route.only not in features:
            continue
        path = openapi_path(route)
        chosen = security if route.protected else []
        paths.setdefault(path, {}).update(_operations(route, path, request, chosen))
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


def _operations(
    route: Route, path: str, request: Any, security: list[Any]
) -> dict[str, dict[str, Any]]:
    """The operations documenting ``route``, by method."""
    kind = route.operation
    if kind == "prediction":
        return {"post": parts.prediction(path, request, security)}
    if kind == "async_submit":
        return {"post": parts.async_submit(path, request, security)}
    if kind == "async_status":
        return {"get": parts.async_status(path, security)}
    if kind == "ground_truth":
        return {"post": ground_truth_operation(path, security)}
    if kind.startswith("mlflow_"):
        return {route.methods[0].lower(): mlflow_operation(kind, path, security)}
    if kind.startswith("v1_"):
        method = "post" if "POST" in route.methods else "get"
        return {method: v1_operation(kind, path, security)}
    if kind.startswith("v2_"):
        method = "post" if kind == "v2_infer" else "get"
        return {method: parts.v2_operation(kind, path, security)}
    if kind in ("seldon_predict", "seldon_feedback"):
        found = {"post": parts.seldon_operation(kind.split("_")[1], path, security)}
        if "GET" in route.methods:
            found["get"] = parts.seldon_get_predict(security)
        return found
    return {"get": parts.plain(kind, path, security)}
