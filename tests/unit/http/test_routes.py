"""The one route table: the served URL map, the fast path, the protected set and the
OpenAPI document all come from it, and agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.http import ServerState, create_app
from servekit.http.openapi.document import build_document
from servekit.http.routes import ROUTES, fast_matcher, fast_routes, openapi_path
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings

METHODS = {"GET", "POST"}


def predict(x: int) -> int:
    return x


class MlflowKind(FunctionRuntime):
    """A function served as the MLflow runtime's models are: its routes are on."""

    kind = "mlflow"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every route on: async jobs, capture, tokens, /metrics on the main port."""
    return Settings(
        async_store=f"sqlite://{tmp_path}/jobs.db",
        access_tokens="t0ken",
        capture=f"file://{tmp_path}/capture",
    )


def served(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) & METHODS
    }


def test_the_served_url_map_is_the_table_and_the_document(settings: Settings) -> None:
    plane = DataPlane(MlflowKind(predict), Release("0", "m", "1"))
    app = create_app(settings, ServerState(dataplane=plane))
    table = {(route.path, method) for route in ROUTES for method in route.methods}
    assert served(app) == table
    document = build_document(settings, plane, secured=True)
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == {
        (openapi_path(route), method) for route in ROUTES for method in route.methods
    }
    for route in ROUTES:  # a token is documented exactly where one is asked for
        for method in route.methods:
            operation = document["paths"][openapi_path(route)][method.lower()]
            assert ("security" in operation) is route.protected, route


def test_features_that_are_off_are_not_documented() -> None:
    document = build_document(Settings(metrics_port=9100), None)
    assert "/async" not in document["paths"]
    assert "/ground-truth" not in document["paths"]
    assert "/metrics" not in document["paths"]
    assert "/model" in document["paths"]
    python = DataPlane(FunctionRuntime(predict), Release("0", "m", "1"))
    for plane in (None, python):  # MLflow's scoring routes: for an MLflow model only
        paths = build_document(Settings(), plane)["paths"]
        assert not {"/invocations", "/ping", "/health", "/version"} & set(paths)


def test_the_fast_path_matches_the_fast_routes_only() -> None:
    matcher = fast_matcher()
    fast = fast_routes()
    assert [route.path for route in fast] == [
        "/model",
        "/models/<model_id>/<version>/model",
        "/v2/models/<name>/infer",
        "/v2/models/<name>/versions/<version>/infer",
        "/invocations",
    ]
    for path, index in (
        ("/model", 0),
        ("/models/churn/3/model", 1),
        ("/v2/models/churn/infer", 2),
        ("/v2/models/churn/versions/3/infer", 3),
        ("/invocations", 4),
    ):
        found = matcher.fullmatch(path)
        assert found is not None
        assert found.lastindex is not None
        assert found.lastindex - 1 == index
    for path in (
        "/models/a/b/c/model",
        "/models//3/model",
        "/model/",
        "/modelx",
        "/async",
        "/v2/models/churn",
        "/v2/models/churn/ready",
        "/v2/models//infer",
        "/v2/models/a/b/infer",
        "/v2/models/churn/versions/3/4/infer",
        "/invocations/",
        "/invocationsx",
    ):
        assert matcher.fullmatch(path) is None


def test_every_route_is_declared_once() -> None:
    keys = [(route.path, method) for route in ROUTES for method in route.methods]
    assert len(keys) == len(set(keys))


def test_a_table_models_list_of_rows_is_documented() -> None:
    import dataclasses

    import jsonschema

    from servekit.core.signature import Signature

    def columns(age: list[float], plan: list[str]) -> list[int]:
        return [int(a > 30) for a in age]

    def row(age: float, plan: str) -> int:
        return int(age > 30)

    class Table(FunctionRuntime):
        def signature(self) -> Signature:
            return dataclasses.replace(super().signature(), rows=Signature.from_callable(row))

    plane = DataPlane(Table(columns), Release("0", "churn", "1"))
    document = build_document(Settings(), plane)
    body = document["paths"]["/model"]["post"]["requestBody"]["content"]["application/json"]
    schema = {**document, "$ref": "#/$defs/body", "$defs": {"body": body["schema"]}}
    valid = jsonschema.Draft202012Validator(schema)
    assert valid.is_valid({"data": [{"age": 41.0, "plan": "pro"}, {"age": 3, "plan": "a"}]})
    assert valid.is_valid({"data": {"age": [41.0], "plan": ["pro"]}})
    assert not valid.is_valid({"data": [{"age": "old", "plan": "pro"}]})
    assert not valid.is_valid({"data": []})
    python = DataPlane(FunctionRuntime(predict), Release("0", "m", "1"))
    plain = build_document(Settings(), python)["paths"]["/model"]["post"]["requestBody"]
    titles = [form["title"] for form in plain["content"]["application/json"]["schema"]["oneOf"]]
    assert not any("rows" in title for title in titles)
