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
from werkzeug.test import Client

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
    assert {r.path for r in routes_for(V2) if r.fast} == {
        "/v2/models/<name>/infer",
        "/v2/models/<name>/versions/<version>/infer",
    }, "inference is answered in front of Flask, as /model is; nothing else of V2 is"


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


BINARY_HEADER = orjson.dumps(
    {
        "inputs": [{**INPUT, "data": None, "parameters": {"binary_data_size": 8}}],
        "parameters": {"binary_data_output": True},
    }
).replace(b',"data":null', b"")
BINARY = {
    "data": BINARY_HEADER + np.array([1.5, 2], "<f4").tobytes(),
    "headers": {"Inference-Header-Content-Length": str(len(BINARY_HEADER))},
}


def flask_calls(client: FlaskClient) -> list[str]:
    """The paths the lifecycle passes on to Flask from now on."""
    lifecycle = client.application.wsgi_app
    flask, seen = lifecycle.app, []  # type: ignore[attr-defined]

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        return flask(environ, start_response)

    lifecycle.app = spy  # type: ignore[attr-defined]
    return seen


def test_inference_is_answered_in_front_of_flask_with_a_binary_answers_headers(
    client: FlaskClient, registry: CollectorRegistry
) -> None:
    seen = flask_calls(client)
    reply = infer(client, "/v2/models/churn/versions/4/infer", **BINARY)
    assert reply.status_code == 200, reply.data
    assert seen == [], "the fast path answered"
    size = int(reply.headers["Inference-Header-Content-Length"])
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Length"] == str(len(reply.data))
    assert reply.headers["X-Request-ID"]
    assert np.frombuffer(reply.data[size:], "<f8").tolist() == [3.0, 4.0]
    json_reply = infer(client)
    assert json_reply.headers["Content-Type"] == "application/json"
    assert "Inference-Header-Content-Length" not in json_reply.headers
    assert client.get("/v2/models/churn").status_code == 200
    assert seen == ["/v2/models/churn"], "metadata is still Flask's"
    routes = {
        (sample.labels["route"], sample.labels["code"])
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "servekit_requests_total"
    }
    assert ("/v2/models/<name>/versions/<version>/infer", "200") in routes
    assert ("/v2/models/<name>/infer", "200") in routes


@pytest.mark.parametrize(
    ("headers", "data", "status", "message"),
    [
        ({"Content-Length": "x"}, b"{}", 400, "the Content-Length header is not a number"),
        ({"Content-Length": "100"}, b"{}", 400, "the request body ended after 2 of the 100"),
        (
            {"Inference-Header-Content-Length": "9999"},
            BINARY["data"],
            400,
            "Inference-Header-Content-Length",
        ),
        ({}, orjson.dumps({"inputs": [{**INPUT, "name": "y"}]}), 400, "unknown input 'y'"),
    ],
)
def test_a_binary_or_broken_requests_errors_are_json_in_v2s_shape(
    client: FlaskClient, headers: dict[str, str], data: bytes, status: int, message: str
) -> None:
    seen = flask_calls(client)
    environ = (
        {"CONTENT_LENGTH": headers.pop("Content-Length")} if "Content-Length" in headers else {}
    )
    reply = infer(client, data=data, headers=headers, environ_overrides=environ)
    assert seen == []
    assert reply.status_code == status
    assert reply.headers["Content-Type"] == "application/json"
    assert "Inference-Header-Content-Length" not in reply.headers
    assert set(reply.get_json()) == {"error"}
    assert message in reply.get_json()["error"]


def test_flasks_own_inference_view_answers_like_the_fast_path(client: FlaskClient) -> None:
    # The lifecycle answers inference before Flask; Flask's view for the same routes (there
    # for 405s) must give the same answer if it is ever reached directly.
    flask = client.application.wsgi_app.app  # type: ignore[attr-defined]
    inner: Any = Client(flask, client.application.response_class)
    for kwargs in ({}, BINARY):
        fast, direct = infer(client, **kwargs), infer(inner, **kwargs)
        assert fast.status_code == direct.status_code == 200
        assert fast.headers["Content-Type"] == direct.headers["Content-Type"]
        assert fast.data.split(b'"id"')[0] == direct.data.split(b'"id"')[0]
    assert infer(inner, "/v2/models/other/infer").status_code == 404
