"""The benchmark's V2 requests: the bytes tritonclient sends, decoded by servekit as the
tensors meant; its V2 tables and goals."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from benchmarks.tables import tensor_table, v2_table
from benchmarks.v2 import missed, request_body, workloads

from servekit.protocols.v2.request import decode

ECHO = {"payload": {"id": 12345, "name": "benchmark", "values": [1.5, 2.5, 3.5], "flag": True}}


def test_binary_bodies_are_the_bytes_tritonclient_sends() -> None:
    values = np.array([[1.5, 0.1, -3.0]], np.float32)
    texts = np.array([b'{"a": 1}', b"\xc3\xa9"], object)
    ours, headers = request_body([("x", "FP32", [1, 3], values), ("s", "BYTES", [2], texts)], True)
    inputs = []
    for name, datatype, array in (("x", "FP32", values), ("s", "BYTES", texts)):
        given = triton.InferInput(name, list(array.shape), datatype)
        given.set_data_from_numpy(array, binary_data=True)
        inputs.append(given)
    theirs, header_length = triton.InferenceServerClient.generate_request_body(inputs)
    assert ours == theirs
    assert headers["Inference-Header-Content-Length"] == str(header_length)


def test_json_bodies_hold_tritonclients_inputs_and_ask_for_json_outputs() -> None:
    values = np.array([0.1, 2.0], np.float32)
    ours, headers = request_body([("x", "FP32", [2], values)], False)
    given = triton.InferInput("x", [2], "FP32")
    given.set_data_from_numpy(values, binary_data=False)
    theirs, _ = triton.InferenceServerClient.generate_request_body([given])
    assert orjson.loads(ours)["inputs"] == orjson.loads(theirs)["inputs"]
    assert orjson.loads(ours)["parameters"] == {"binary_data_output": False}
    assert "Inference-Header-Content-Length" not in headers


@pytest.mark.parametrize("model", ["echo", "onnx"])
def test_each_form_decodes_to_the_same_tensors(model: str) -> None:
    data = ECHO if model == "echo" else {"features": [[0.05 * i for i in range(20)]]}
    decoded = [
        decode(w.body, w.headers.get("Inference-Header-Content-Length"))
        for w in workloads(model, data)
    ]
    assert [d.binary_output for d in decoded] == [False, True]
    (name,) = data
    json_form, binary_form = (d.inputs[name] for d in decoded)
    assert np.array_equal(json_form, binary_form)
    if model == "echo":
        assert orjson.loads(json_form[0]) == ECHO["payload"]
    else:
        assert binary_form.dtype == np.float32
        assert binary_form.shape == (1, 20)


def row(model: str, p50: float, rps: float, **more: Any) -> dict[str, Any]:
    return {
        "server": "servekit",
        "model": model,
        "open_loop": {"p50_ms": p50, "p90_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0, "errors": 0},
        "closed_loop": {"requests_per_second": rps, "errors": 0},
        **more,
    }


def test_v2_rows_are_set_against_model_on_their_server_and_goals_checked() -> None:
    report = {
        "runs": [
            row("echo", 2.0, 10_000.0, closed_loop_cpu_us={"worker": 50.0, "nginx": 30.0}),
            row(
                "echo V2 JSON",
                2.1,
                9_500.0,
                beside="echo",
                closed_loop_cpu_us={"worker": 60.0, "nginx": 30.0},
            ),
            row("echo V2 binary", 2.4, 8_000.0, beside="echo"),
        ],
        "tensor_1mb": {
            "elements": 262144,
            "datatype": "FP32",
            "JSON": {"p50_ms": 40.0, "errors": 0},
            "binary": {"p50_ms": 10.0, "errors": 0},
        },
    }
    printed = v2_table(report)
    assert "| echo V2 JSON | saturation req/s | 9500.00 | 10000.00 | 0.95 |" in printed
    assert "| echo V2 binary | p50 ms @100 rps | 2.40 | 2.00 | 1.20 |" in printed
    assert (
        "| echo V2 JSON | CPU us/request in uWSGI workers (saturation) | 60.00 | 50.00 | 1.20 |"
        in (printed)
    )
    assert missed(report, 1.1, 0.9, 5.0) == [
        "echo V2 binary: p50 1.20x /model's (goal 1.1x)",
        "echo V2 binary: saturation 0.80x /model's (goal 0.9x)",
        "1 MB tensor: binary 4.0x faster than JSON (goal 5.0x)",
    ]


def test_the_tensor_table_sets_binary_against_json() -> None:
    sent = {
        "p50_ms": 2.0,
        "p90_ms": 3.0,
        "max_ms": 9.0,
        "requests_per_second": 400.0,
        "errors": 0,
        "request_bytes": 1_048_719,
        "answer_bytes": 1_048_760,
    }
    report = {
        "runs": [],
        "tensor_1mb": {
            "elements": 262144,
            "datatype": "FP32",
            "binary": sent,
            "JSON": {**sent, "p50_ms": 40.0, "request_bytes": 5_051_047},
        },
    }
    printed = tensor_table(report)
    assert "| FP32[262144] | p50 ms, one request at a time | 2.00 | 40.00 | 0.05 |" in printed
    assert "| FP32[262144] | request MB | 1.05 | 5.05 | 0.21 |" in printed


def test_grpc_is_judged_against_v2_rest_and_capture_against_capture_off() -> None:
    from benchmarks.capture import capture_table
    from benchmarks.capture import missed as capture_missed

    def row(model: str, p50: float, rate: float, **more: Any) -> dict[str, Any]:
        loops = {"open_loop": {"p50_ms": p50}, "closed_loop": {"requests_per_second": rate}}
        return {"model": model, "server": "servekit", **loops, **more}

    report = {
        "runs": [
            row("echo", 2.0, 1000),
            row("echo V2 JSON", 2.1, 950, beside="echo", form="JSON"),
            row("echo V2 gRPC", 2.2, 100, beside="echo", form="gRPC"),
        ]
    }
    assert missed(report, 1.1, 0.9, 5.0) == [
        "echo V2 gRPC: p50 2.20 ms, above V2 REST's 2.10 ms"
    ]  # its saturation (the Python client's) is not judged
    report["runs"][2]["open_loop"]["p50_ms"] = 2.0
    assert missed(report, 1.1, 0.9, 5.0) == []
    rows = [
        {"capture": c, "open_loop": {"p50_ms": p, "p99_ms": 5.0, "sent": 10},
         "closed_loop": {"requests_per_second": r, "requests": 90}, **extra}
        for c, p, r, extra in (("off", 2.0, 1000, {}), ("file", 2.0, 850, {"records": 100}),
                               ("dead-http", 2.5, 990, {"counted_lost": 100}))
    ]  # fmt: skip
    assert capture_missed(rows) == ["capture to a file: saturation 0.85x capture off (goal 0.9x)"]
    text = capture_table(rows)
    assert "| file | 2.00 | 5.00 | 850 | 0.85x | 100 records of 100 predictions |" in text
