"""KServe V1's routes through Flask's test client: their rows in the route table, the
model they serve (by name or SERVEKIT_MODEL_ID), tokens, readiness, limits, every error
in V1's shape ``{"error"}`` counted by the one lifecycle under the route's template, and
their place in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.http import ServerState, create_app
from servekit.http.routes import KSERVE_V1, routes_for
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings

TOKEN = {"Authorization": "Bearer t0ken"}
PREDICT = "/v1/models/churn:predict"


def doubled(x: float) -> float:
    if x < 0:
        raise ValueError("negative")
    return x * 2


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client(registry: CollectorRegistry) -> FlaskClient:
    plane = DataPlane(FunctionRuntime(doubled), Release("0", "churn", "4"))
    settings = Settings(access_tokens="t0ken", model_id="m-17", max_body_bytes=4096)
    return create_app(settings, ServerState(dataplane=plane), registry).test_client()


def post(client: FlaskClient, path: str = PREDICT, **kwargs: Any) -> Any:
    kwargs.setdefault("data", orjson.dumps({"instances": [1.5, 2]}))
    return client.post(path, headers={**TOKEN, **kwargs.pop("headers", {})}, **kwargs)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_the_v1_rows_of_the_route_table() -> None:
    rows = {(r.path, r.methods, r.protected) for r in routes_for(KSERVE_V1)}
    assert rows == {
        ("/v1/models", ("GET",), False),
        ("/v1/models/<name>", ("GET",), False),
        ("/v1/models/<name>:predict", ("POST",), True),
        ("/v1/models/<name>:explain", ("POST",), True),
    }
    assert not any(r.fast for r in routes_for(KSERVE_V1))


def test_models_and_readiness_under_either_name(client: FlaskClient) -> None:
    assert client.get("/v1/models").get_json() == {"models": ["churn", "m-17"]}
    assert client.get("/v1/models/churn").get_json() == {"name": "churn", "ready": True}
    assert client.get("/v1/models/m-17").get_json() == {"name": "m-17", "ready": True}
    other = client.get("/v1/models/other")
    assert other.status_code == 404
    assert other.get_json() == {
        "error": "model 'other' is not served here: this server serves 'churn'"
    }


def test_predictions_under_either_name_whatever_the_body_is_declared_as(
    client: FlaskClient, registry: CollectorRegistry
) -> None:
    for path, declared in (
        (PREDICT, "application/json"),
        ("/v1/models/m-17:predict", "application/x-www-form-urlencoded"),
        (PREDICT, ""),
    ):  # KServe users' curl -d declares a form
        headers = {"X-Request-ID": "abc", **({"Content-Type": declared} if declared else {})}
        reply = post(client, path, headers=headers)
        assert reply.status_code == 200, reply.data
        assert reply.mimetype == "application/json"
        assert reply.headers["X-Request-ID"] == "abc"
        assert reply.get_json() == {"predictions": [3.0, 4.0]}
    route = "/v1/models/<name>:predict"
    assert sample(registry, "servekit_requests_total", route=route, code="200") == 3
    assert sample(registry, "servekit_model_duration_seconds_count") == 3


@pytest.mark.parametrize(
    ("kwargs", "status", "message", "code"),
    [
        ({"headers": {"Authorization": "Bearer no"}}, 401, "a valid access token", "UNAUTHORIZED"),
        ({"data": b"{"}, 400, "the request body is not valid JSON", "BAD_JSON"),
        (
            {"data": b"x" * 5000},
            413,
            "the request body is larger than the limit of 4096 bytes",
            "PAYLOAD_TOO_LARGE",
        ),
        (
            {"data": orjson.dumps({"instances": [1, "a"]})},
            400,
            'instances[1].x: expected number, got string "a"',
            "INVALID_ARGUMENTS",
        ),
        (
            {"data": orjson.dumps({"instances": [-1]})},
            500,
            "instances[0]: ValueError",
            "MODEL_ERROR",
        ),
        ({"path": "/v1/models/other:predict"}, 404, "model 'other' is not served", "NOT_FOUND"),
        (
            {"path": "/v1/models/churn:explain"},
            501,
            "model 'churn' has no explainer",
            "NOT_IMPLEMENTED",
        ),
    ],
)
def test_errors_are_v1s_shape_and_counted(
    client: FlaskClient,
    registry: CollectorRegistry,
    kwargs: dict[str, Any],
    status: int,
    message: str,
    code: str,
) -> None:
    reply = post(client, kwargs.pop("path", PREDICT), **kwargs)
    assert reply.status_code == status
    assert set(reply.get_json()) == {"error"}
    assert reply.get_json()["error"].startswith(message)
    assert reply.headers["X-Request-ID"]
    if status == 401:
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert sample(registry, "servekit_model_errors_total", code=code) == 1


def test_a_wrong_method_is_405_in_v1s_shape_under_its_route(
    client: FlaskClient, registry: CollectorRegistry
) -> None:
    reply = client.post("/v1/models/churn", headers=TOKEN)
    assert reply.status_code == 405
    assert set(reply.get_json()) == {"error"}
    route = "/v1/models/<name>"
    assert sample(registry, "servekit_requests_total", route=route, code="405") == 1


def test_a_model_not_loaded_is_503_in_v1s_shape() -> None:
    client = create_app(Settings(), ServerState(dataplane=None)).test_client()
    for reply in (
        client.get("/v1/models"),
        client.get("/v1/models/m"),
        client.post("/v1/models/m:predict", data=b'{"instances": [1]}'),
    ):
        assert reply.status_code == 503
        assert reply.get_json() == {"error": "not ready: the model is not loaded yet"}


def test_the_openapi_document_describes_the_v1_routes(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    predict = document["paths"]["/v1/models/{name}:predict"]["post"]
    assert predict["parameters"][0]["name"] == "name"
    assert predict["operationId"] == "v1-predict_v1_models_name_predict"
    assert predict["security"]
    assert set(predict["responses"]) == {
        "200", "400", "401", "404", "413", "431", "500", "503", "504"
    }  # fmt: skip
    assert predict["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/V1PredictRequest"
    }
    explain = document["paths"]["/v1/models/{name}:explain"]["post"]
    assert "200" not in explain["responses"]
    assert "501" in explain["responses"]
    ready = document["paths"]["/v1/models/{name}"]["get"]
    assert "security" not in ready
    schemas = document["components"]["schemas"]
    assert {"V1PredictRequest", "V1PredictResponse", "V1Error"} <= set(schemas)


def test_predictions_run_under_the_runner_and_a_deadline_is_504() -> None:
    ran: list[str] = []

    def expired(fn: Any) -> Any:  # a Runner whose deadline has passed
        ran.append("called")
        raise errors.Timeout("the prediction took longer than 1 s")

    plane = DataPlane(FunctionRuntime(doubled), Release("0", "churn", "4"))
    app = create_app(Settings(), ServerState(dataplane=plane), run=expired)
    reply = app.test_client().post(PREDICT, data=b'{"instances": [1]}')
    assert ran == ["called"]
    assert reply.status_code == 504
    assert reply.get_json() == {"error": "the prediction took longer than 1 s"}
