"""MLflow's scoring server's routes through Flask's test client: their rows in the route
table, ``/invocations`` answered on the fast path for an MLflow model (and 404 for any
other), ``/ping``, ``/health`` and ``/version``, tokens, limits and the deadline, every
error in MLflow's shape counted by the one lifecycle under the route's template, and
their place in the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.http import ServerState, create_app
from servekit.http.routes import MLFLOW, routes_for
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings
from tests.unit.protocols import mlflow_memory as memory

TOKEN = {"Authorization": "Bearer t0ken"}
JSON = {"Content-Type": "application/json"}
BODY = json.dumps({"dataframe_records": [{"a": 1, "b": 2.5}], "params": {"scale": 2.0}})


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client(registry: CollectorRegistry) -> FlaskClient:
    settings = Settings(access_tokens="t0ken", max_body_bytes=4096)
    state = ServerState(dataplane=memory.plane_of(memory.scaled()))
    return create_app(settings, state, registry).test_client()


def score(client: FlaskClient, body: str | bytes = BODY, **headers: str) -> Any:
    return client.post("/invocations", data=body, headers={**TOKEN, **JSON, **headers})


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_the_mlflow_rows_of_the_route_table() -> None:
    rows = {(r.path, r.methods, r.protected, r.fast, r.only) for r in routes_for(MLFLOW)}
    assert rows == {
        ("/invocations", ("POST",), True, True, "mlflow"),
        ("/ping", ("GET",), False, False, "mlflow"),
        ("/health", ("GET",), False, False, "mlflow"),
        ("/version", ("GET",), False, False, "mlflow"),
    }


def test_scoring_answers_as_mlflow_and_is_counted(
    client: FlaskClient, registry: CollectorRegistry
) -> None:
    reply = score(client, **{"X-Request-ID": "abc"})
    assert reply.status_code == 200, reply.data
    assert reply.data == b'{"predictions": [{"total": 7.0, "label": "7.0"}]}'
    assert reply.mimetype == "application/json"
    assert reply.headers["X-Request-ID"] == "abc"
    csv = score(client, b"a,b\n1,2\n", **{"Content-Type": "text/csv"})
    assert csv.data == b'{"predictions": [{"total": 3.0, "label": "3.0"}]}'
    labels = {"route": "/invocations", "code": "200"}
    assert sample(registry, "servekit_requests_total", **labels) == 2
    assert sample(registry, "servekit_model_duration_seconds_count") == 2


@pytest.mark.parametrize(
    ("headers", "body", "status", "code", "message"),
    [
        ({"Authorization": "Bearer no"}, BODY, 401, "UNAUTHENTICATED", "a valid access token"),
        ({}, "x" * 5000, 413, "BAD_REQUEST", "the request body is larger than the limit"),
        ({}, "{", 400, "BAD_REQUEST", "Invalid input. Ensure that input is a valid JSON"),
        ({}, '{"data": []}', 400, "BAD_REQUEST", "The input must be a JSON dictionary"),
        ({}, '{"inputs": {"a": [1]}}', 400, "INVALID_PARAMETER_VALUE", "Failed to predict"),
        ({}, '{"inputs": {"a": [13], "b": [1]}}', 400, "BAD_REQUEST", "Encountered an unex"),
    ],
)
def test_errors_are_mlflows_shape_and_counted(
    client: FlaskClient,
    registry: CollectorRegistry,
    headers: dict[str, str],
    body: str,
    status: int,
    code: str,
    message: str,
) -> None:
    reply = score(client, body, **headers)
    assert reply.status_code == status
    document = reply.get_json()
    assert document["error_code"] == code
    assert document["message"].startswith(message), document
    assert "stack_trace" not in document
    assert reply.headers["X-Request-ID"]
    if status == 401:
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    labels = {"route": "/invocations", "code": str(status)}
    assert sample(registry, "servekit_requests_total", **labels) == 1


def test_a_content_type_mlflow_does_not_take_is_415_in_plain_text(client: FlaskClient) -> None:
    reply = score(client, **{"Content-Type": "text/plain"})
    assert reply.status_code == 415
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reply.data.startswith(b"This predictor only supports the following content types")
    assert reply.data.endswith(b"Got 'text/plain'.")


def test_ping_health_and_version(client: FlaskClient) -> None:
    from mlflow.version import VERSION

    for path in ("/ping", "/health"):
        reply = client.get(path)
        assert (reply.status_code, reply.data, reply.mimetype) == (200, b"\n", "application/json")
    assert client.get("/version").data == VERSION.encode()
    wrong = client.get("/invocations", headers=TOKEN)
    assert wrong.status_code == 405
    assert wrong.get_json()["error_code"] == "BAD_REQUEST"


def test_another_kind_of_model_has_no_mlflow_routes() -> None:
    plane = DataPlane(FunctionRuntime(lambda x: x), Release("0", "m", "1"))
    client = create_app(Settings(), ServerState(dataplane=plane)).test_client()
    for reply in (client.post("/invocations", data=BODY, headers=JSON), client.get("/ping")):
        assert reply.status_code == 404
        document = reply.get_json()
        assert document["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "served for MLflow models only" in document["message"], document
        assert "a python model" in document["message"]
    assert "/invocations" not in client.get("/openapi.json").get_json()["paths"]


def test_not_loaded_is_503_and_a_deadline_is_504() -> None:
    client = create_app(Settings(), ServerState(dataplane=None)).test_client()
    for reply in (client.post("/invocations", data=BODY, headers=JSON), client.get("/ping")):
        assert reply.status_code == 503
        assert reply.get_json()["error_code"] == "TEMPORARILY_UNAVAILABLE"

    def expired(fn: Any) -> Any:  # a Runner whose deadline has passed
        raise errors.Timeout("the prediction took longer than 1 s")

    state = ServerState(dataplane=memory.plane_of(memory.scaled()))
    late = create_app(Settings(), state, run=expired).test_client()
    reply = late.post("/invocations", data=BODY, headers=JSON)
    assert reply.status_code == 504
    assert reply.get_json() == {
        "error_code": "DEADLINE_EXCEEDED",
        "message": "the prediction took longer than 1 s",
    }


def test_the_openapi_document_describes_the_mlflow_routes(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    scoring = paths["/invocations"]["post"]
    assert scoring["security"]
    assert set(scoring["responses"]) == {
        "200", "400", "401", "404", "413", "415", "431", "500", "503", "504"
    }  # fmt: skip
    assert set(scoring["requestBody"]["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
    }
    forms = scoring["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [form["title"] for form in forms] == [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    ]
    for path in ("/ping", "/health", "/version"):
        assert "security" not in paths[path]["get"]
