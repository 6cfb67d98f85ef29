"""V2 REST (the Open Inference Protocol) in ``python -m benchmarks``.

The models measured on ``/model`` (echo and the ONNX graph) are also measured over
``POST /v2/models/bench/infer`` on the same server, right after it, with the same loops:
once with JSON tensors and once with binary ones (the binary tensor data extension:
``Inference-Header-Content-Length``, ``binary_data_size``, binary outputs). Each is a row
of its own (model ``echo V2 JSON``, ``echo V2 binary``, ...), so ``--against`` pairs them
too. The 1 MB tensor's JSON against binary is :mod:`benchmarks.tensor`.

Request bodies are written as tritonclient.http writes them (a unit test compares the
bytes); answers are checked for the expected output.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from benchmarks.load import closed_loop, open_loop
from benchmarks.servers import Server

__all__ = [
    "FORMS",
    "INFER",
    "MODEL_NAME",
    "Workload",
    "exchange",
    "measure",
    "missed",
    "offered",
    "raw_of",
    "request_body",
    "tensors",
    "workloads",
]

MODEL_NAME = "bench"
"""The name servekit serves each benchmark model under (``--model-name``)."""
INFER = f"/v2/models/{MODEL_NAME}/infer"
FORMS = ("JSON", "binary")

Tensor = tuple[str, str, list[int], "np.ndarray[Any, Any]"]
"""An input: name, datatype, shape and values."""


def raw_of(datatype: str, values: np.ndarray[Any, Any]) -> bytes:
    """A tensor's elements as the binary extension (and gRPC's raw contents) hold them."""
    flat = values.reshape(-1)
    if datatype == "BYTES":
        return b"".join(len(v).to_bytes(4, "little") + v for v in flat)
    return bytes(flat.tobytes())


def request_body(inputs: list[Tensor], binary: bool) -> tuple[bytes, dict[str, str]]:
    """A V2 infer request and its headers: every input and output in JSON, or every
    input's data after the JSON header and every output asked for in binary."""
    described: list[dict[str, Any]] = []
    raw: list[bytes] = []
    for name, datatype, shape, values in inputs:
        entry: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
        flat = values.reshape(-1)
        if not binary:
            entry["data"] = [v.decode() if isinstance(v, bytes) else v for v in flat.tolist()]
        else:
            raw.append(raw_of(datatype, values))
        if binary:
            entry["parameters"] = {"binary_data_size": len(raw[-1])}
        described.append(entry)
    header = orjson.dumps({"inputs": described, "parameters": {"binary_data_output": binary}})
    if not binary:
        return header, {"Content-Type": "application/json"}
    return header + b"".join(raw), {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }


@dataclass(frozen=True)
class Workload:
    """One form of a model's V2 request, and a byte string its answer holds."""

    form: str
    body: bytes
    headers: dict[str, str]
    expect: bytes


def tensors(model: str, data: dict[str, Any]) -> list[Tensor]:
    """``/model``'s ``data`` as V2 tensors: the ONNX graph's numbers as FP32, echo's
    untyped argument as one BYTES element holding its JSON."""
    if model == "onnx":
        return [(k, "FP32", list(np.shape(v)), np.asarray(v, np.float32)) for k, v in data.items()]
    return [(k, "BYTES", [1], np.array([orjson.dumps(v)], object)) for k, v in data.items()]


def workloads(model: str, data: dict[str, Any]) -> list[Workload]:
    """``/model``'s ``data`` as V2 requests, in each form."""
    inputs = tensors(model, data)
    # echo: a value of its payload, in the JSON or in the binary data
    expect = b'"probability"' if model == "onnx" else b"benchmark"
    return [Workload(form, *request_body(inputs, form == "binary"), expect) for form in FORMS]


def exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` on a new connection; the whole answer (the server closes it)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(1 << 20):
            chunks.append(chunk)
    return b"".join(chunks)


def offered(port: int) -> bool:
    """True when the server answers ``GET /v2`` (servekit at an old revision may not)."""
    answer = exchange(port, b"GET /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return answer[9:12] == b"200"


def measure(
    server: Server,
    model: str,
    data: dict[str, Any],
    open_seconds: float,
    closed_seconds: float,
    cpu: str,
    grpc_port: int = 0,
) -> list[dict[str, Any]]:
    """The model over V2 in each form, on the running server: rows like /model's, with
    the CPU each request cost the server's processes during the closed loop; and over
    gRPC when the server serves it on ``grpc_port``."""
    rows, port = [], server.port
    for work in workloads(model, data):
        opened = open_loop(
            port, INFER, work.body, work.expect, 100.0, open_seconds, headers=work.headers
        )
        before = server.cpu_by_kind()
        closed = closed_loop(port, INFER, work.body, closed_seconds, cpu=cpu, headers=work.headers)
        spent = server.cpu_us_per_request(before, closed.requests)
        rows.append(
            {
                "model": f"{model} V2 {work.form}",
                "beside": model,
                "route": INFER,
                "form": work.form,
                "open_loop": opened.to_dict(),
                "closed_loop": closed.to_dict(),
                "closed_loop_cpu_us": spent,
            }
        )
        print(
            f"# {model:6} V2 {work.form:6} p50 {opened.p50_ms:.2f} ms  p99 {opened.p99_ms:.2f} ms"
            f"  errors {opened.errors + closed.errors}  {closed.requests_per_second:.0f} req/s",
            flush=True,
        )
    if grpc_port:
        rows.append(_grpc_row(server, model, data, grpc_port, open_seconds, closed_seconds))
    return rows


def _grpc_row(
    server: Server, model: str, data: dict[str, Any], grpc_port: int, opened_s: float,
    closed_s: float,
) -> dict[str, Any]:  # fmt: skip
    """The model over V2 gRPC: the same tensors as the REST rows, in raw contents."""
    from benchmarks.grpc_load import first_answer, grpc_closed_loop, grpc_open_loop, infer_request

    inputs = [(n, t, shape, raw_of(t, v)) for n, t, shape, v in tensors(model, data)]
    request = infer_request(MODEL_NAME, inputs)
    expect = first_answer(grpc_port, request)
    opened = grpc_open_loop(grpc_port, request, expect, 100.0, opened_s)
    before = server.cpu_by_kind()
    closed = grpc_closed_loop(grpc_port, request, expect, closed_s)
    print(
        f"# {model:6} V2 gRPC   p50 {opened.p50_ms:.2f} ms  p99 {opened.p99_ms:.2f} ms"
        f"  errors {opened.errors + closed.errors}  {closed.requests_per_second:.0f} req/s",
        flush=True,
    )
    return {
        "model": f"{model} V2 gRPC",
        "beside": model,
        "route": "/inference.GRPCInferenceService/ModelInfer",
        "form": "gRPC",
        "open_loop": opened.to_dict(),
        "closed_loop": closed.to_dict(),
        "closed_loop_cpu_us": server.cpu_us_per_request(before, closed.requests),
    }


def missed(
    report: dict[str, Any], p50_ratio: float, saturation: float, speedup: float
) -> list[str]:
    """The V2 goals a report misses: each V2 row's p50 at most ``p50_ratio`` times and
    its saturation at least ``saturation`` times /model's on the same server; the gRPC
    row's p50 at most the V2 REST JSON row's (its saturation is the Python client's, not
    judged); the 1 MB tensor in binary at least ``speedup`` times faster (p50) than in
    JSON."""
    found = []
    runs = {(r["model"], r["server"]): r for r in report["runs"]}
    for (model, server), row in runs.items():
        if server != "servekit" or "beside" not in row:
            continue
        if row.get("form") == "gRPC":
            rest = runs.get((f"{row['beside']} V2 JSON", server))
            if rest and row["open_loop"]["p50_ms"] > rest["open_loop"]["p50_ms"]:
                found.append(
                    f"{model}: p50 {row['open_loop']['p50_ms']:.2f} ms, above V2 REST's "
                    f"{rest['open_loop']['p50_ms']:.2f} ms"
                )
            continue
        plain = runs[(row["beside"], server)]
        ratio = row["open_loop"]["p50_ms"] / plain["open_loop"]["p50_ms"]
        if ratio > p50_ratio:
            found.append(f"{model}: p50 {ratio:.2f}x /model's (goal {p50_ratio}x)")
        rate = row["closed_loop"]["requests_per_second"]
        ratio = rate / plain["closed_loop"]["requests_per_second"]
        if ratio < saturation:
            found.append(f"{model}: saturation {ratio:.2f}x /model's (goal {saturation}x)")
    tensor = report.get("tensor_1mb")
    if tensor:
        ratio = tensor["JSON"]["p50_ms"] / tensor["binary"]["p50_ms"]
        if ratio < speedup:
            found.append(f"1 MB tensor: binary {ratio:.1f}x faster than JSON (goal {speedup}x)")
    return found
