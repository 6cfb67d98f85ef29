"""A 1 MB FP32 tensor (262,144 floats) over V2 REST in JSON and in binary.

servekit serves an identity graph (:mod:`benchmarks.models.onnx_identity`, its own time
negligible), and the same tensor is sent in each form, one request at a time on a new
connection each, in alternating turns; latencies run from the first byte sent to the last
byte of the answer. The first answer of each form is checked to hold exactly the tensor
sent. The goal: binary at least 5 times faster than JSON.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks.load import _percentile, http_request
from benchmarks.models.onnx_identity import build as build_identity
from benchmarks.servers import start
from benchmarks.v2 import FORMS, INFER, MODEL_NAME, Workload, exchange, request_body

__all__ = ["ELEMENTS", "OneAtATime", "big_tensor"]

TENSOR_MODEL = Path("/tmp/servekit-bench-identity.onnx")
ELEMENTS = 262_144
"""FP32 elements of the tensor: 1 MiB."""


@dataclass(frozen=True)
class OneAtATime:
    """Requests sent one after another, each on a new connection: latencies (ms)."""

    form: str
    sent: int
    errors: int
    p50_ms: float
    p90_ms: float
    max_ms: float
    requests_per_second: float
    request_bytes: int
    answer_bytes: int
    first_error: str = ""


def _answer(raw: bytes) -> tuple[bytes, bytes]:
    """(status, body) of an answer with a Content-Length."""
    return raw[9:12], raw.partition(b"\r\n\r\n")[2]


def _check(work: Workload, answer: bytes, values: np.ndarray[Any, Any]) -> None:
    """The identity graph's answer holds exactly the tensor sent (JSON or binary)."""
    status, body = _answer(answer)
    if status != b"200":
        raise RuntimeError(f"V2 {work.form} 1 MB tensor: HTTP {status!r}: {body[:300]!r}")
    if work.form == "binary":
        got = np.frombuffer(body[-values.nbytes :], np.float32)
    else:
        got = np.asarray(orjson.loads(body)["outputs"][0]["data"], np.float32)
    if not np.array_equal(got, values):
        raise RuntimeError(f"V2 {work.form} 1 MB tensor: the answer is not the tensor sent")


def big_tensor(
    cpus: str, processes: int, port: int, seconds: float, rounds: int = 3
) -> dict[str, Any]:
    """The 1 MB FP32 tensor through the identity graph in JSON and in binary, one request
    at a time, ``rounds`` turns each (which goes first alternates), ``seconds`` in all."""
    values = np.random.default_rng(1).random(ELEMENTS, dtype=np.float32)
    tensor = [("x", "FP32", [ELEMENTS], values)]
    forms = [Workload(form, *request_body(tensor, form == "binary"), b'"y"') for form in FORMS]
    probe, _ = request_body([("x", "FP32", [1], np.ones(1, np.float32))], False)
    server = start(
        "servekit",
        str(build_identity(TENSOR_MODEL)),
        port,
        processes,
        cpus,
        (INFER, probe, b'"y"'),
        extra=("--model-name", MODEL_NAME),
    )
    latencies: dict[str, list[float]] = {w.form: [] for w in forms}
    errors: dict[str, list[str]] = {w.form: [] for w in forms}
    sizes: dict[str, int] = {}
    try:
        requests = {w.form: http_request(INFER, w.body, headers=w.headers) for w in forms}
        for work in forms:
            answer = exchange(port, requests[work.form])
            _check(work, answer, values)
            sizes[work.form] = len(_answer(answer)[1])
        for turn in range(2 * rounds):
            work = forms[(turn + turn // 2) % 2]  # JSON, binary, binary, JSON, JSON, ...
            ends = time.perf_counter() + seconds / (2 * rounds)
            for _ in range(10_000):  # bounded in count and in time
                began = time.perf_counter()
                try:
                    status, body = _answer(exchange(port, requests[work.form]))
                    if status != b"200" or work.expect not in body[:4096]:
                        errors[work.form].append(f"HTTP {status!r}: {body[:200]!r}")
                except OSError as exc:
                    errors[work.form].append(f"{type(exc).__name__}: {exc}")
                latencies[work.form].append((time.perf_counter() - began) * 1000)
                if time.perf_counter() >= ends:
                    break
    finally:
        server.stop()
    found = {}
    for work in forms:
        ordered = sorted(latencies[work.form])
        found[work.form] = asdict(
            OneAtATime(
                work.form,
                len(ordered),
                len(errors[work.form]),
                round(_percentile(ordered, 0.5), 3),
                round(_percentile(ordered, 0.9), 3),
                round(ordered[-1], 3),
                round(1000 * len(ordered) / sum(ordered), 1),
                len(work.body),
                sizes[work.form],
                errors[work.form][0] if errors[work.form] else "",
            )
        )
    return {"elements": ELEMENTS, "datatype": "FP32", "route": INFER, **found}
