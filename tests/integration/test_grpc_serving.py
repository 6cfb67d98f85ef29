"""The Open Inference Protocol over gRPC, on real servers (``servekit serve
--grpc-port``), through Triton's client (``tritonclient.grpc``; KServe's are in
test_kserve_clients.py): the same tensors as /model and V2 REST for an ONNX graph and a
typed Python model, tokens, metrics and the access log, errors as gRPC statuses, the
drain on SIGTERM and the time limit."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.utils import InferenceServerException

from tests.conftest import Server, free_port, http, post_json, run_cli, write_project
from tests.onnx_models import adder

pytestmark = pytest.mark.integration

TOKEN = "t0ken"
AUTH = {"authorization": f"Bearer {TOKEN}"}
DATATYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}  # fmt: skip
ECHO = """
    import time
    import numpy as np

    def predict(x: np.ndarray, pause: float = 0.0) -> np.ndarray:
        time.sleep(pause)
        return x
"""


def grpc_serve(serve: Any, *args: str, env: dict[str, str] | None = None) -> tuple[Server, int]:
    """A server with gRPC on a port of its own, once that port answers."""
    port = free_port()
    server = serve(*args, "--grpc-port", str(port), env=env)
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.is_server_live():
                return server, port
        except InferenceServerException:
            if time.monotonic() > deadline:
                raise AssertionError(f"gRPC not up:\n{server.log()}") from None
        time.sleep(0.1)


def tensor(module: Any, name: str, array: np.ndarray[Any, Any], datatype: str) -> Any:
    found = module.InferInput(name, list(array.shape), datatype)
    found.set_data_from_numpy(array)
    return found


@pytest.fixture
def onnx_grpc(serve: Any, tmp_path: Path) -> tuple[Server, int]:
    model = adder(tmp_path / "adder.onnx")
    return grpc_serve(
        serve,
        str(model),
        "--processes",
        "1",
        "--grpc-processes",
        "2",
        "--model-name",
        "adder",
        "--model-version",
        "7",
        env={"SERVEKIT_ACCESS_TOKENS": TOKEN},
    )


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_an_onnx_graph_answers_grpc_as_model_and_v2_rest(
    onnx_grpc: tuple[Server, int], rows: int, seed: int
) -> None:
    server, port = onnx_grpc
    generator = np.random.default_rng(seed)
    a, b = (generator.normal(size=(rows, 3)).astype(np.float32) for _ in range(2))
    domino = post_json(
        f"{server.url}/model",
        {"data": {"a": a.tolist(), "b": b.tolist()}},
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert domino.status == 200, domino.body
    rest = thttp.InferenceServerClient(f"127.0.0.1:{server.port}").infer(
        "adder",
        [tensor(thttp, "a", a, "FP32"), tensor(thttp, "b", b, "FP32")],
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    answer = tgrpc.InferenceServerClient(f"127.0.0.1:{port}").infer(
        "adder",
        [tensor(tgrpc, "a", a, "FP32"), tensor(tgrpc, "b", b, "FP32")],
        headers=AUTH,
        request_id="r1",
    )
    for name in ("total", "doubled"):
        expected = np.array(domino.body["result"][name], dtype=np.float32).reshape(rows, 3)
        np.testing.assert_array_equal(rest.as_numpy(name), expected)
        np.testing.assert_array_equal(answer.as_numpy(name), expected)
    response = answer.get_response()
    assert (response.id, response.model_name, response.model_version) == ("r1", "adder", "7")


def test_every_datatype_through_a_typed_python_model(serve: Any, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": ECHO})
    server, port = grpc_serve(serve, f"{tmp_path}/model.py:predict", "--model-name", "echo")
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{port}")
    rest = thttp.InferenceServerClient(f"127.0.0.1:{server.port}")

    @settings(max_examples=40, deadline=None)
    @given(
        st.sampled_from(sorted(DATATYPES)).flatmap(
            lambda kind: st.tuples(
                st.just(kind),
                hnp.arrays(
                    DATATYPES[kind],
                    hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements={"allow_nan": False} if kind.startswith("FP") else None,
                ),
            )
        )
    )
    def same(case: tuple[str, np.ndarray[Any, Any]]) -> None:
        kind, array = case
        answer = client.infer("echo", [tensor(tgrpc, "x", array, kind)]).as_numpy("output0")
        assert answer.dtype == array.dtype
        np.testing.assert_array_equal(answer, array)
        by_rest = rest.infer("echo", [tensor(thttp, "x", array, kind)]).as_numpy("output0")
        np.testing.assert_array_equal(by_rest, array)

    same()
    words = np.array([b"caf\xc3\xa9", b"", b"a\x00b"], dtype=object)
    answer = client.infer("echo", [tensor(tgrpc, "x", words, "BYTES")]).as_numpy("output0")
    assert answer.tolist() == ["café".encode(), b"", b"a\x00b"]


def test_metadata_errors_tokens_and_metrics(onnx_grpc: tuple[Server, int]) -> None:
    server, port = onnx_grpc
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{port}")
    assert client.is_server_ready()
    assert client.get_server_metadata().name == "servekit"
    assert client.is_model_ready("adder", "7", headers=AUTH)
    metadata = client.get_model_metadata("adder", headers=AUTH)
    assert (list(metadata.versions), metadata.platform) == (["7"], "onnxruntime_onnx")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("a", "FP32", [-1, 3]),
        ("b", "FP32", [-1, 3]),
    ]
    good = [tensor(tgrpc, n, np.ones((1, 3), np.float32), "FP32") for n in "ab"]
    with pytest.raises(InferenceServerException, match="a valid access token") as refused:
        client.infer("adder", good)
    assert refused.value.status() == "StatusCode.UNAUTHENTICATED"
    narrow = [tensor(tgrpc, "a", np.ones((1, 2), np.float32), "FP32"), good[1]]
    with pytest.raises(InferenceServerException) as bad:
        client.infer("adder", narrow, headers=AUTH)
    assert bad.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert bad.value.message().endswith(
        "inputs.a: expected tensor float32[batch, 3], got an array of shape [1, 2]"
    )
    with pytest.raises(InferenceServerException, match="model 'other' is not served") as unknown:
        client.infer("other", good, headers=AUTH)
    assert unknown.value.status() == "StatusCode.NOT_FOUND"
    client.infer("adder", good, headers={**AUTH, "x-request-id": "grpc-call-1"})
    server.wait_for_log('"request_id":"grpc-call-1","method":"GRPC"')
    metrics = http("GET", f"{server.url}/metrics").raw.decode()
    route = 'route="/inference.GRPCInferenceService/ModelInfer"'
    for code in (200, 400, 401, 404):
        assert f'servekit_requests_total{{code="{code}",{route}}} 1.0' in metrics, metrics


def test_sigterm_drains_grpc_and_finishes_the_call_in_hand(serve: Any, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": ECHO})
    server, port = grpc_serve(
        serve,
        f"{tmp_path}/model.py:predict",
        "--model-name",
        "model",
        env={"SERVEKIT_DRAIN_SECONDS": "2"},
    )
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{port}")
    slow = [
        tensor(tgrpc, "x", np.arange(3, dtype=np.int32), "INT32"),
        tensor(tgrpc, "pause", np.array([1.5]), "FP64"),
    ]
    outcome: list[Any] = []
    call = threading.Thread(target=lambda: outcome.append(client.infer("model", slow)))
    call.start()
    time.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert not tgrpc.InferenceServerClient(f"127.0.0.1:{port}").is_server_ready()
    call.join(10)
    assert outcome, server.log()
    np.testing.assert_array_equal(outcome[0].as_numpy("output0"), [0, 1, 2])
    assert server.process.wait(20) == 0, server.log()


def test_a_call_past_the_timeout_is_deadline_exceeded_and_the_process_replaced(
    serve: Any, tmp_path: Path
) -> None:
    write_project(tmp_path, {"model.py": ECHO})
    server, port = grpc_serve(
        serve, f"{tmp_path}/model.py:predict", "--timeout", "1", "--model-name", "model"
    )
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{port}")
    x = tensor(tgrpc, "x", np.arange(3, dtype=np.int32), "INT32")
    slow = tensor(tgrpc, "pause", np.array([5.0]), "FP64")
    began = time.monotonic()
    with pytest.raises(InferenceServerException, match="past the timeout of 1 s") as late:
        client.infer("model", [x, slow])
    assert late.value.status() == "StatusCode.DEADLINE_EXCEEDED"
    assert time.monotonic() - began < 3
    server.wait_for_log("gRPC server ")  # the supervisor says it starts another
    deadline = time.monotonic() + 20
    while True:  # the new process loads the model, then answers
        try:
            answer = client.infer("model", [x])
            break
        except InferenceServerException:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
    np.testing.assert_array_equal(answer.as_numpy("output0"), [0, 1, 2])


def test_a_taken_grpc_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": ECHO})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(
            ["serve", f"{tmp_path}/model.py:predict", "--port", str(free_port()),
             "--grpc-port", str(port), "--log-format", "text"]
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [
        f"servekit: error: SERVEKIT_GRPC_PORT: cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    ]
