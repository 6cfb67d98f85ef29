"""KServe's own Python clients, unchanged, against ``servekit serve model.onnx``: the
REST client over V2 (JSON and binary tensors, requested outputs) and the gRPC client,
each in a process of its own (:mod:`tests.clients.kserve_calls`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, free_port
from tests.integration.test_grpc_serving import grpc_serve
from tests.onnx_models import adder

pytestmark = pytest.mark.integration

TOKEN = "k-t0ken"
ROOT = Path(__file__).resolve().parents[2]
A = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]
B = [[1.0, 1.0, 1.0], [0.0, 0.0, 0.5]]


def kserve_call(protocol: str, address: str, model: str, spec: Any, token: str = TOKEN) -> Any:
    """What KServe's client for ``protocol`` got (or raised), as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.clients.kserve_calls", protocol, address, model, token,
         json.dumps(spec)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def onnx_server(serve: Any, tmp_path: Path) -> tuple[Server, int]:
    model = adder(tmp_path / "adder.onnx")
    return grpc_serve(
        serve, str(model), "--model-name", "adder", env={"SERVEKIT_ACCESS_TOKENS": TOKEN}
    )


def tensors(binary: bool, outputs: list[str] | None = None) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "a", "datatype": "FP32", "data": A},
            {"name": "b", "datatype": "FP32", "data": B},
        ],
        "binary": binary,
        "outputs": outputs,
    }


def test_kserve_rest_and_grpc_clients_get_the_same_predictions(
    onnx_server: tuple[Server, int],
) -> None:
    server, port = onnx_server
    rest = f"127.0.0.1:{server.port}"
    total = {"datatype": "FP32", "shape": [2, 3], "data": [2.0, 3.0, 4.0, 4.0, 5.0, 7.0]}
    doubled = {"datatype": "FP32", "shape": [2, 3], "data": [4.0, 6.0, 8.0, 8.0, 10.0, 14.0]}
    for binary in (False, True):
        answer = kserve_call("rest-v2", rest, "adder", tensors(binary))
        assert answer == {"outputs": {"total": total, "doubled": doubled}, "id": "kserve-1"}
        only = kserve_call("rest-v2", rest, "adder", tensors(binary, ["doubled"]))
        assert only["outputs"] == {"doubled": doubled}
    by_grpc = kserve_call("grpc", f"127.0.0.1:{port}", "adder", tensors(True))
    assert by_grpc == {"outputs": {"total": total, "doubled": doubled}, "id": "kserve-1"}


def test_kserve_clients_see_refusals(onnx_server: tuple[Server, int]) -> None:
    server, port = onnx_server
    narrow = {"inputs": [{"name": "a", "datatype": "FP32", "data": [[1.0, 2.0]]},
                         {"name": "b", "datatype": "FP32", "data": B}]}  # fmt: skip
    refused = kserve_call("rest-v2", f"127.0.0.1:{server.port}", "adder", narrow)
    assert refused["status"] == 400
    assert "inputs.a: expected tensor float32[batch, 3]" in refused["error"]
    anonymous = kserve_call("grpc", f"127.0.0.1:{port}", "adder", tensors(False), token="")
    assert anonymous["status"] == "StatusCode.UNAUTHENTICATED"
    unknown = kserve_call("grpc", f"127.0.0.1:{port}", "other", tensors(False))
    assert unknown["status"] == "StatusCode.NOT_FOUND"


def test_a_port_taken_by_nothing_is_refused_by_the_client_not_hung(tmp_path: Path) -> None:
    gone = kserve_call("grpc", f"127.0.0.1:{free_port()}", "adder", tensors(False))
    assert gone["status"] == "StatusCode.UNAVAILABLE"
