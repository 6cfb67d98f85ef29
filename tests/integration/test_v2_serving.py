"""The Open Inference Protocol (V2) on real uWSGI servers, through Triton's own client
(``tritonclient.http``): an ONNX graph and a typed Python model answer the same tensors
on /model and on V2, in JSON and in binary; metadata, readiness, a bad tensor's 400 and
a missing token's 401 arrive as tritonclient expects them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.conftest import Server, http, post_json, write_project
from tests.onnx_models import adder

pytestmark = pytest.mark.integration

TOKEN = "t0ken"


def auth() -> dict[str, str]:
    """The token's header, a new dict each call: tritonclient adds its own to the one given."""
    return {"Authorization": f"Bearer {TOKEN}"}


A = np.array([[1.5, 2, 3], [4, 5, 6]], dtype=np.float32)
B = np.ones((2, 3), dtype=np.float32)

MODEL = """
    import numpy as np
    import numpy.typing as npt

    def predict(x: npt.NDArray[np.float32], scale: float, label: str = "none") -> dict:
        return {"y": x * np.float32(scale), "label": label.upper()}
"""


def client(server: Server) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(f"127.0.0.1:{server.port}", network_timeout=10.0)


def tensor(name: str, array: np.ndarray[Any, Any], datatype: str, binary: bool) -> Any:
    found = triton.InferInput(name, list(array.shape), datatype)
    found.set_data_from_numpy(array, binary_data=binary)
    return found


@pytest.fixture
def onnx_server(serve, tmp_path: Path) -> Server:
    model = adder(tmp_path / "adder.onnx")
    return serve(
        str(model),
        "--processes",
        "2",
        "--model-name",
        "adder",
        "--model-version",
        "7",
        env={"SERVEKIT_ACCESS_TOKENS": TOKEN},
    )


def test_an_onnx_graph_answers_v2_as_it_answers_model(onnx_server: Server) -> None:
    domino = post_json(
        f"{onnx_server.url}/model", {"data": {"a": A.tolist(), "b": B.tolist()}}, auth()
    )
    assert domino.status == 200, domino.body
    expected = np.array(domino.body["result"]["doubled"], dtype=np.float32)
    triton_client = client(onnx_server)
    for binary in (False, True):
        inputs = [tensor("a", A, "FP32", binary), tensor("b", B, "FP32", binary)]
        outputs = [triton.InferRequestedOutput("doubled", binary_data=binary)]
        result = triton_client.infer(
            "adder", inputs, model_version="7", outputs=outputs, headers=auth(), request_id="r1"
        )
        np.testing.assert_array_equal(result.as_numpy("doubled"), expected)
        assert result.as_numpy("total") is None, "only the output asked for"
        response = result.get_response()
        assert response["id"] == "r1"
        assert response["model_version"] == "7"
        assert ("parameters" in response["outputs"][0]) is binary
    every = triton_client.infer(
        "adder", [tensor("a", A, "FP32", True), tensor("b", B, "FP32", True)], headers=auth()
    )
    np.testing.assert_array_equal(every.as_numpy("total"), (A + B))


def test_metadata_and_readiness_through_tritonclient(onnx_server: Server) -> None:
    triton_client = client(onnx_server)
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready("adder")
    assert triton_client.is_model_ready("adder", "7")
    assert not triton_client.is_model_ready("adder", "6")
    assert not triton_client.is_model_ready("other")
    server = triton_client.get_server_metadata()
    assert server["name"] == "servekit"
    assert server["extensions"] == ["binary_tensor_data"]
    model = triton_client.get_model_metadata("adder")
    assert model["versions"] == ["7"]
    assert model["platform"] == "onnxruntime_onnx"
    assert model["inputs"][0] == {"name": "a", "datatype": "FP32", "shape": [-1, 3]}
    assert [o["name"] for o in model["outputs"]] == ["total", "doubled"]
    with pytest.raises(InferenceServerException, match="version '6' of model 'adder'") as caught:
        triton_client.get_model_metadata("adder", "6")
    assert caught.value.status() == "404"


def test_a_bad_tensor_is_400_and_a_missing_token_401(onnx_server: Server) -> None:
    triton_client = client(onnx_server)
    narrow = np.ones((1, 2), dtype=np.float32)
    inputs = [tensor("a", narrow, "FP32", True), tensor("b", B, "FP32", True)]
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("adder", inputs, headers=auth())
    assert caught.value.status() == "400"
    assert caught.value.message() == (
        "inputs.a: expected tensor float32[batch, 3], got an array of shape [1, 2]"
    )
    wrong = [tensor("a", A.astype(np.float64), "FP64", False), tensor("b", B, "FP32", False)]
    with pytest.raises(
        InferenceServerException, match="input 'a': expected datatype FP32, got FP64"
    ):
        triton_client.infer("adder", wrong, headers=auth())
    with pytest.raises(InferenceServerException, match="a valid access token is required") as no:
        triton_client.infer("adder", [tensor("a", A, "FP32", False)])
    assert no.value.status() == "401"
    raw = http("POST", f"{onnx_server.url}/v2/models/adder/infer", b"{}")
    assert raw.status == 401
    assert set(raw.body) == {"error"}
    assert raw.headers["www-authenticate"].startswith("Bearer")


def test_a_typed_python_model_answers_v2_as_it_answers_model(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "2", "--model-name", "scaler")
    domino = post_json(
        f"{server.url}/model", {"data": {"x": A.tolist(), "scale": 2, "label": "ok"}}
    )
    assert domino.status == 200, domino.body
    triton_client = client(server)
    metadata = triton_client.get_model_metadata("scaler")
    assert metadata["inputs"] == [
        {"name": "x", "datatype": "FP32", "shape": [-1]},
        {"name": "scale", "datatype": "FP64", "shape": [1]},
        {"name": "label", "datatype": "BYTES", "shape": [1]},
    ]
    for binary in (False, True):
        inputs = [
            tensor("x", A, "FP32", binary),
            tensor("scale", np.array([2.0]), "FP64", binary),
            tensor("label", np.array([b"ok"], dtype=object), "BYTES", binary),
        ]
        result = triton_client.infer("scaler", inputs)
        y = result.as_numpy("y")
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, np.array(domino.body["result"]["y"], dtype=np.float32))
        assert result.as_numpy("label").tolist() == [domino.body["result"]["label"].encode()]
    bad = [tensor("x", A, "FP32", False), tensor("scale", np.array([1.0, 2.0]), "FP64", False)]
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("scaler", bad)
    assert caught.value.message() == (
        "input 'scale': a single value (FP64) is a tensor of one element, got shape [2]"
    )
