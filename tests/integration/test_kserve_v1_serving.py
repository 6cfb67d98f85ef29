"""KServe's V1 protocol on real ``servekit serve`` servers, through KServe's own
``InferenceRESTClient`` (``RESTConfig(protocol="v1")``, run in a process of its own:
:mod:`tests.clients.kserve_calls`) and raw requests as ``curl`` sends them: an ONNX
graph takes the instances as one batch and a typed Python model one call each, both
answering what /model answers; readiness, a bad instance's 400 naming it, another
model's 404, explain's 501 and a missing token's 401 arrive in KServe's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Server, http, post_json, write_project
from tests.integration.test_kserve_clients import kserve_call
from tests.onnx_models import adder

pytestmark = pytest.mark.integration

TOKEN = "v1-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
A = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]
B = [[1.0, 1.0, 1.0], [0.0, 0.0, 0.5]]
INSTANCES = [{"a": a, "b": b} for a, b in zip(A, B, strict=True)]

MODEL = """
    def predict(x: list[float], scale: float = 1.0, label: str = "none") -> dict:
        return {"total": sum(x) * scale, "label": label.upper()}
"""


@pytest.fixture
def onnx_server(serve: Any, tmp_path: Path) -> Server:
    model = adder(tmp_path / "adder.onnx")
    return serve(
        str(model),
        "--processes",
        "2",
        "--model-name",
        "adder",
        env={"SERVEKIT_ACCESS_TOKENS": TOKEN, "SERVEKIT_MODEL_ID": "adder-isvc"},
    )


def address(server: Server) -> str:
    return f"127.0.0.1:{server.port}"


def test_kserves_v1_client_gets_an_onnx_graphs_rows(onnx_server: Server) -> None:
    domino = post_json(f"{onnx_server.url}/model", {"data": {"a": A, "b": B}}, AUTH)
    assert domino.status == 200, domino.body
    rows = [
        {"total": total, "doubled": doubled}
        for total, doubled in zip(
            domino.body["result"]["total"], domino.body["result"]["doubled"], strict=True
        )
    ]
    for name in ("adder", "adder-isvc"):  # its name, and SERVEKIT_MODEL_ID (KServe's)
        for key in ("instances", "inputs"):
            answer = kserve_call("rest-v1", address(onnx_server), name, {key: INSTANCES}, TOKEN)
            assert answer == {"predictions": rows}
    assert kserve_call("rest-v1-ready", address(onnx_server), "adder-isvc", {}, TOKEN) is True
    unknown = kserve_call("rest-v1-ready", address(onnx_server), "other", {}, TOKEN)
    assert unknown["status"] == 404
    assert "model 'other' is not served here" in unknown["error"]


def test_kserves_v1_client_sees_refusals(onnx_server: Server) -> None:
    bad = {"instances": [INSTANCES[0], {"a": [1.0, 2.0], "b": [1.0, 1.0, 1.0]}]}
    refused = kserve_call("rest-v1", address(onnx_server), "adder", bad, TOKEN)
    assert refused["status"] == 400
    assert (
        "instances[1].a: expected tensor float32[3], got an array of shape [2]"
        in (refused["error"])
    )
    anonymous = kserve_call("rest-v1", address(onnx_server), "adder", {"instances": []}, "")
    assert anonymous["status"] == 401


def test_curl_users_get_kserves_answers_and_errors(onnx_server: Server) -> None:
    url = f"{onnx_server.url}/v1/models"
    assert http("GET", url).body == {"models": ["adder", "adder-isvc"]}
    assert http("GET", f"{url}/adder").body == {"name": "adder", "ready": True}
    form = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}  # curl -d
    body = orjson.dumps({"instances": INSTANCES})
    answered = http("POST", f"{url}/adder:predict", body, form)
    assert answered.status == 200, answered.body
    assert len(answered.body["predictions"]) == 2
    for path, headers, status, message in (
        ("adder:predict", {}, 401, "a valid access token is required"),
        ("other:predict", AUTH, 404, "model 'other' is not served here"),
        ("adder:explain", AUTH, 501, "model 'adder' has no explainer"),
    ):
        reply = http("POST", f"{url}/{path}", body, headers)
        assert reply.status == status, reply.body
        assert set(reply.body) == {"error"}
        assert reply.body["error"].startswith(message)
    missing = http("GET", f"{url}/other")
    assert (missing.status, set(missing.body)) == (404, {"error"})
    metrics = http("GET", f"{onnx_server.url}/metrics").body
    assert 'route="/v1/models/<name>:predict"' in metrics


def test_a_typed_python_model_answers_one_prediction_per_instance(
    serve: Any, tmp_path: Path
) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--model-name", "summer")
    instances: list[Any] = [
        {"x": [1.0, 2.5], "label": "a"},
        [[3.0], 2.0],
        {"x": [], "scale": 0.5},
    ]
    expected = []
    for instance in instances:
        form = {"data": instance} if isinstance(instance, dict) else {"parameters": instance}
        domino = post_json(f"{server.url}/model", form)
        assert domino.status == 200, domino.body
        expected.append(domino.body["result"])
    answer = kserve_call("rest-v1", address(server), "summer", {"instances": instances}, "")
    assert answer == {"predictions": expected}
    assert expected[0] == {"total": 3.5, "label": "A"}
    bad = {"instances": [{"x": [1.0]}, {"x": [1.0], "scale": "big"}, {"y": 1}]}
    reply = post_json(f"{server.url}/v1/models/summer:predict", bad)
    assert reply.status == 400
    assert reply.body == {
        "error": 'instances[1].scale: expected number, got string "big"; instances[2].y: '
        "expected an argument of the model (x, scale, label), got an unknown argument "
        "(integer 1); instances[2].x: expected array of number, got nothing (required)"
    }
