"""The V2 routes through Flask's test client: their place in the route table, the model
they serve (by name, version or latest), tokens, readiness, the body's forms and every
error in V2's shape, counted by the one lifecycle."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.http import ServerState, create_app
from servekit.http.routes import V2, routes_for
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings

TOKEN = {"Authorization": "Bearer t0ken"}
INPUT = {"name": "x", "datatype": "FP32", "shape": [2], "data": [1.5, 2]}


def doubled(x: list[float]) -> list[float]:
    return [v * 2 for v in x]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client(registry: CollectorRegistry) -> FlaskClient:
    plane = DataPlane(FunctionRuntime(doubled), Release("0", "churn", "4"))
    settings = Settings(access_tokens="t0ken", model_id="m-17", max_body_bytes=4096)
    return create_app(settings, ServerState(dataplane=plane), registry).test_client()


def infer(client: FlaskClient, path: str = "/v2/models/churn/infer", **kwargs: Any) -> Any:
    kwargs.setdefault("data", orjson.dumps({"inputs": [INPUT]}))
    return client.post(path, headers={**TOKEN, **kwargs.pop("headers", {})}, **kwargs)


def test_the_v2_rows_of_the_route_table() -> None:
    rows = {(r.path, r.methods, r.protected) for r in routes_for(V2)}
    assert ("/v2", ("GET",), False) in rows
    assert ("/v2/models/<name>/versions/<version>/infer", ("POST",), True) in rows
    assert ("/v2/models/<name>/ready", ("GET",), False) in rows
    assert not any(r.fast for r in routes_for(V2))


def test_server_and_model_metadata(client: FlaskClient) -> None:
    server = client.get("/v2").get_json()
    assert server["name"] == "servekit"
    assert server["extensions"] == ["binary_tensor_data"]
    model = client.get("/v2/models/churn/versions/4").get_json()
    assert model["inputs"] == [{"name": "x", "datatype": "FP64", "shape": [-1]}]
    assert model["versions"] == ["4"]
    assert client.get("/v2/models/m-17").status_code == 200, "SERVEKIT_MODEL_ID names it too"
    assert client.get("/v2/models/churn/versions/latest/ready").get_json()["ready"] is True


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/models/other", "model 'other' is not served here: this server serves 'churn'"),
        ("/v2/models/churn/versions/3/ready", "version '3' of model 'churn' is not served"),
        ("/v2/models/other/infer", "model 'other' is not served here"),
    ],
)
def test_a_model_or_version_not_served_is_404_in_v2s_shape(
    client: FlaskClient, path: str, message: str
) -> None:
    reply = infer(client, path) if path.endswith("infer") else client.get(path)
    assert reply.status_code == 404
    assert reply.get_json()["error"].startswith(message)
    assert set(reply.get_json()) == {"error"}


def test_inference_in_json_on_every_form_of_the_path(client: FlaskClient) -> None:
    for path, declared in (
        ("/v2/models/churn/infer", "application/json"),
        ("/v2/models/m-17/versions/latest/infer", "application/x-www-form-urlencoded"),
        ("/v2/models/churn/versions/4/infer", ""),
    ):  # Triton reads the body whatever it is declared as (curl -d declares a form)
        headers = {"X-Request-ID": "abc", **({"Content-Type": declared} if declared else {})}
        reply = infer(client, path, headers=headers)
        assert reply.status_code == 200, reply.data
        assert reply.mimetype == "application/json"
        assert reply.get_json() == {
            "model_name": "churn",
            "model_version": "4",
            "id": "abc",
            "outputs": [{"name": "output0", "datatype": "FP64", "shape": [2], "data": [3.0, 4.0]}],
        }


def test_inference_with_binary_data_both_ways(client: FlaskClient) -> None:
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP32",
                    "shape": [2],
                    "parameters": {"binary_data_size": 8},
                }
            ],
            "outputs": [{"name": "output0", "parameters": {"binary_data": True}}],
        }
    )
    body = header + np.array([1.5, 2], "<f4").tobytes()
    reply = infer(
        client,
        data=body,
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert reply.status_code == 200, reply.data
    assert reply.mimetype == "application/octet-stream"
    size = int(reply.headers["Inference-Header-Content-Length"])
    assert orjson.loads(reply.data[:size])["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert np.frombuffer(reply.data[size:], "<f8").tolist() == [3.0, 4.0]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"headers": {"Authorization": "Bearer nope"}}, 401, "a valid access token is required"),
        ({"data": b"{"}, 400, "the request body is not valid JSON"),
        ({"data": b"x" * 5000}, 413, "larger than the limit of 4096 bytes"),
        (
            {"data": orjson.dumps({"inputs": [{**INPUT, "shape": [3]}]})},
            400,
            "input 'x' (FP32 [3]): the shape holds 3 elements, the data has 2",
        ),
        (
            {"data": orjson.dumps({"inputs": [{**INPUT, "data": ["a", "b"]}]})},
            400,
            "input 'x' (FP32 [2]): FP32 data must be numbers, got str",
        ),
    ],
)
def test_errors_are_v2s_shape_and_counted(
    client: FlaskClient,
    registry: CollectorRegistry,
    kwargs: dict[str, Any],
    status: int,
    message: str,
) -> None:
    reply = infer(client, **kwargs)
    assert reply.status_code == status
    assert set(reply.get_json()) == {"error"}
    assert message in reply.get_json()["error"]
    assert reply.headers["X-Request-ID"]
    if status == 401:
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    counted = {
        sample.labels["code"]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "servekit_model_errors_total" and sample.value == 1
    }
    assert len(counted) == 1, "the error was counted once, by its code"


def test_a_model_not_loaded_is_503_in_v2s_shape() -> None:
    client = create_app(Settings(), ServerState(dataplane=None)).test_client()
    for reply in (client.get("/v2/models/m/ready"), client.post("/v2/models/m/infer", data=b"{}")):
        assert reply.status_code == 503
        assert reply.get_json() == {"error": "not ready: the model is not loaded yet"}
    assert client.get("/v2").status_code == 200
