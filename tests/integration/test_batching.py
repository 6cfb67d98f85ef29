"""Adaptive batching on real ``servekit serve`` servers (uWSGI behind nginx): requests
that arrive together meet in one model call, through every protocol, and each gets
exactly its own rows back.

- A ``@servekit.batch`` Python model answers each row with the request's own tag and
  with the id and size of the call that served it. Hypothesis sends 16-48 requests at
  once through ``/model``, ``/models/<id>/<version>/model``, V2 REST (JSON, and binary
  with Triton's client), Seldon, KServe V1 (1-3 instances each) and V2 gRPC (a process
  of its own, with its own batches): every answer is its own row's, every row of a call
  comes back reporting that call's size, calls of many rows form, and
  ``servekit_batch_size`` adds up to the rows served and counts each call once.
- An ONNX graph (``SERVEKIT_BATCH_MAX_SIZE=16``) stacks requests of 0-4 rows from
  ``/model``, V2 (JSON, binary, gRPC), Seldon and KServe V1 (one instance a row): each
  gets its own rows; a request whose inputs disagree on their rows fails alone, in its
  protocol's shape.
- Poisoned rows (the model raises for them) fail alone, in each protocol's shape, while
  the other rows of their call are answered; the server keeps serving.
- A batch waits only for requests in hand: a lone request is answered at once, though
  ``max_wait_ms`` is long.
- A call holding a row slower than ``SERVEKIT_TIMEOUT``, and the requests queued behind
  it, are answered 504 on time; the replaced worker serves the next requests.
- SIGTERM while batches wait behind a running call: every request in hand, HTTP and
  gRPC, is answered with its own row, then the server exits 0.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tritonclient.utils import InferenceServerException

from tests.conftest import Server, http, post_json, start_server, write_project
from tests.integration.test_grpc_serving import grpc_serve
from tests.metrics_parsing import value
from tests.onnx_models import adder

pytestmark = pytest.mark.integration

T = TypeVar("T")

MODELS = """
    import time
    import uuid

    import servekit


    def rows(tag, value):
        call = uuid.uuid4().hex  # this call's id: every row it answers carries it
        return [
            {"tag": t, "value": v * 2, "size": len(tag), "call": call}
            for t, v in zip(tag, value, strict=True)
        ]


    @servekit.batch(max_size=16, max_wait_ms=50)
    def tagged(tag: list[str], value: list[float]) -> list[dict]:
        poisoned = [t for t in tag if t.startswith("poison")]
        if poisoned:
            print(f"poisoned call of {len(tag)} rows")
            raise ValueError(f"poisoned row {poisoned[0]}")
        return rows(tag, value)


    @servekit.batch(max_size=8, max_wait_ms=200)
    def sleepy(tag: list[str], value: list[float]) -> list[dict]:
        if any(t.startswith("slow") for t in tag):
            time.sleep(4)
        return rows(tag, value)


    @servekit.batch(max_size=8, max_wait_ms=1500)
    def patient(tag: list[str], value: list[float]) -> list[dict]:
        if any(t.startswith("hold") for t in tag):
            time.sleep(3)
        return rows(tag, value)
"""
PROTOCOLS = ("model", "model-path", "v2-json", "v2-binary", "seldon", "kserve-v1", "grpc")
MODEL_ERROR: dict[str, int | str] = {
    **dict.fromkeys(("model", "model-path", "v2-json", "seldon", "kserve-v1"), 500),
    "v2-binary": "500",
    "grpc": "StatusCode.INTERNAL",
}
"""How each protocol answers a model that raised."""
FIELDS = ("tag", "value", "size", "call")
ADDER = ("total", "doubled")


@dataclass(frozen=True)
class Sent:
    """One request: its protocol and its rows (tag, value); one row but for KServe V1."""

    protocol: str
    rows: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Got:
    """An answer: its status (HTTP's, or gRPC's name), and the rows' results or the error."""

    status: int | str
    results: list[dict[str, Any]]
    error: str = ""


@dataclass(frozen=True)
class Address:
    """Where a server takes HTTP and gRPC, and the name of its model."""

    server: Server
    model: str
    grpc_port: int = 0


@contextlib.contextmanager
def started(
    folder: Path,
    target: str,
    model: str,
    *args: str,
    grpc: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[Address]:
    """A server for ``target`` (in ``folder``) named ``model``, stopped by PID when the
    caller is done; with ``grpc``, once its gRPC port answers too."""
    servers: list[Server] = []

    def serve(*given: str, env: dict[str, str] | None = None) -> Server:
        servers.append(start_server([*given], folder / "server.log", env=env))
        return servers[-1]

    try:
        if grpc:
            server, port = grpc_serve(
                serve, target, "--model-name", model, *args, "--grpc-processes", "1", env=env
            )
            yield Address(server, model, port)
        else:
            yield Address(serve(target, "--model-name", model, *args, env=env), model)
    finally:
        for server in servers:
            server.stop()


def python_server(
    folder: Path, name: str, *args: str, grpc: bool = False
) -> contextlib.AbstractContextManager[Address]:
    """The function ``name`` of MODELS served by one uWSGI worker (its threads batch)."""
    write_project(folder, {"model.py": MODELS})
    target = f"{folder}/model.py:{name}"
    return started(folder, target, name, "--processes", "1", *args, grpc=grpc)


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Address]:
    with python_server(tmp_path_factory.mktemp("tagged"), "tagged", grpc=True) as address:
        yield address


@pytest.fixture(scope="module")
def onnx_adder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Address]:
    folder = tmp_path_factory.mktemp("adder")
    batched = {"SERVEKIT_BATCH_MAX_SIZE": "16", "SERVEKIT_BATCH_MAX_WAIT_MS": "50"}
    model = str(adder(folder / "adder.onnx"))
    with started(folder, model, "adder", "--processes", "2", grpc=True, env=batched) as a:
        yield a


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Every call in a thread of its own, all released together; their results in order."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        gate.wait(10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=60) for future in futures]


def plain(item: Any) -> Any:
    """A tensor's element as JSON gives it: text for BYTES, a Python number."""
    if isinstance(item, bytes):
        return item.decode()
    return item.item() if isinstance(item, np.generic) else item


def v2_json(
    address: Address, model: str, inputs: dict[str, tuple[np.ndarray[Any, Any], str]]
) -> tuple[int | str, dict[str, Any] | str]:
    """V2 REST in JSON: the status and each output's flat data, or the error message."""
    document = {
        "inputs": [
            {"name": n, "datatype": kind, "shape": list(a.shape), "data": a.ravel().tolist()}
            for n, (a, kind) in inputs.items()
        ]
    }
    reply = post_json(f"{address.server.url}/v2/models/{model}/infer", document)
    if reply.status != 200:
        return reply.status, reply.body["error"]
    return 200, {o["name"]: o["data"] for o in reply.body["outputs"]}


def v2_triton(
    address: Address,
    module: Any,
    model: str,
    inputs: dict[str, tuple[np.ndarray[Any, Any], str]],
    outputs: tuple[str, ...],
) -> tuple[int | str, dict[str, Any] | str]:
    """V2 through Triton's client, binary over HTTP (``tritonclient.http``, which asks
    for every output in binary) or gRPC: the status and ``outputs``, or the error."""
    if module is tgrpc:
        client: Any = tgrpc.InferenceServerClient(f"127.0.0.1:{address.grpc_port}")
        extra: dict[str, Any] = {"client_timeout": 20.0}
    else:
        client = thttp.InferenceServerClient(
            f"127.0.0.1:{address.server.port}", network_timeout=20.0
        )
        extra = {}
    tensors = []
    for name, (array, kind) in inputs.items():
        tensors.append(module.InferInput(name, list(array.shape), kind))
        tensors[-1].set_data_from_numpy(array, **({} if module is tgrpc else {"binary_data": True}))
    try:
        answer = client.infer(model, tensors, **extra)
    except InferenceServerException as exc:
        return str(exc.status()), exc.message()
    finally:
        client.close()
    return 200, {n: answer.as_numpy(n) for n in outputs}


def send(address: Address, sent: Sent) -> Got:
    """``sent`` to the tagged model through its protocol."""
    base = address.server.url
    tag, number = sent.rows[0]
    if sent.protocol in ("model", "model-path"):
        path = "/model" if sent.protocol == "model" else "/models/any-id/latest/model"
        reply = post_json(base + path, {"data": {"tag": tag, "value": number}})
        if reply.status == 200:
            return Got(200, [reply.body["result"]])
        error = reply.body["error"]
        return Got(reply.status, [], f"{error['code']}: {error['message']}")
    if sent.protocol == "seldon":
        reply = post_json(
            f"{base}/api/v1.0/predictions", {"jsonData": {"tag": tag, "value": number}}
        )
        if reply.status == 200:
            return Got(200, [reply.body["jsonData"]])
        return Got(reply.status, [], reply.body["status"]["info"])
    if sent.protocol == "kserve-v1":
        instances = [{"tag": t, "value": v} for t, v in sent.rows]
        reply = post_json(f"{base}/v1/models/{address.model}:predict", {"instances": instances})
        if reply.status == 200:
            return Got(200, reply.body["predictions"])
        return Got(reply.status, [], reply.body["error"])
    inputs = {
        "tag": (np.array([tag], dtype=object), "BYTES"),
        "value": (np.array([number], dtype=np.float64), "FP64"),
    }
    if sent.protocol == "v2-json":
        status, found = v2_json(address, address.model, inputs)
    else:
        module = tgrpc if sent.protocol == "grpc" else thttp
        status, found = v2_triton(address, module, address.model, inputs, FIELDS)
    if isinstance(found, str):
        return Got(status, [], found)
    return Got(status, [{n: plain(found[n][0]) for n in FIELDS}])


def own_rows(sent: list[Sent], got: list[Got]) -> dict[str, list[int]]:
    """Check that every answer is its own rows' (the tag it sent, its value doubled) and
    that every row of a call came back reporting that call's size; the sizes by call."""
    calls: dict[str, list[int]] = {}
    for request, answer in zip(sent, got, strict=True):
        assert answer.status == 200, (request, answer)
        assert len(answer.results) == len(request.rows), (request, answer)
        for (tag, number), result in zip(request.rows, answer.results, strict=True):
            assert (result["tag"], result["value"]) == (tag, number * 2), (request, answer)
            calls.setdefault(result["call"], []).append(result["size"])
    for call, sizes in calls.items():
        assert sizes == [len(sizes)] * len(sizes), (call, sizes)
    return calls


def batch_metrics(server: Server) -> tuple[float, float]:
    """``servekit_batch_size``'s sum and count, over every process."""
    text = http("GET", f"{server.url}/metrics").raw.decode()
    return value(text, "servekit_batch_size_sum"), value(text, "servekit_batch_size_count")


def metrics_after(server: Server, before: tuple[float, float], rows: int) -> tuple[float, float]:
    """The growth of ``servekit_batch_size``'s sum and count since ``before``, once the
    sum has grown by ``rows`` and two reads agree (a call is observed just after its
    rows are answered: wait for it, bounded)."""
    deadline = time.monotonic() + 10
    last = (-1.0, -1.0)
    while True:
        total, count = batch_metrics(server)
        grown = (total - before[0], count - before[1])
        if (grown[0] >= rows and grown == last) or time.monotonic() > deadline:
            return grown
        last = grown
        time.sleep(0.05)


GENERATE = [Phase.explicit, Phase.generate]
"""A failing burst is shown as drawn: shrinking concurrent bursts is slow and noisy."""
TAGS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
VALUES = st.floats(-1e300, 1e300, allow_nan=False)
REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(PROTOCOLS), st.lists(st.tuples(TAGS, VALUES), min_size=1, max_size=3)
    ),
    min_size=16,
    max_size=48,
)


def requests_of(drawn: list[tuple[str, list[tuple[str, float]]]]) -> list[Sent]:
    """Drawn requests, each row's tag made unique (and never a poisoned one's)."""
    return [
        Sent(
            protocol,
            tuple(
                (f"{i}.{j}:{text}", number)
                for j, (text, number) in enumerate(rows if protocol == "kserve-v1" else rows[:1])
            ),
        )
        for i, (protocol, rows) in enumerate(drawn)
    ]


def test_every_answer_is_its_own_row_through_every_protocol(tagger: Address) -> None:
    sizes: list[int] = []

    @settings(max_examples=6, deadline=None, database=None, phases=GENERATE)
    @given(REQUESTS)
    def burst(drawn: list[tuple[str, list[tuple[str, float]]]]) -> None:
        sent = requests_of(drawn)
        before = batch_metrics(tagger.server)
        calls = own_rows(sent, at_once([partial(send, tagger, request) for request in sent]))
        rows = sum(len(request.rows) for request in sent)
        # Each call observed once with its size (HTTP's worker and the gRPC process).
        assert metrics_after(tagger.server, before, rows) == (rows, len(calls))
        sizes.extend(len(rows) for rows in calls.values())

    burst()
    assert max(sizes) > 1, sizes  # requests did meet in calls


def test_poisoned_rows_fail_alone_in_every_protocol(tagger: Address) -> None:
    poisoned_calls = re.compile(r"poisoned call of (\d+) rows")
    seen = len(poisoned_calls.findall(tagger.server.log()))
    for attempt in range(3):  # until a poisoned row shared its call (at once: the first)
        sent = [
            Sent(protocol, ((f"{'poison' if i % 3 == 1 else 'clean'}-{attempt}-{i}", i),))
            for i, protocol in enumerate(PROTOCOLS * 3)
        ]
        got = at_once([partial(send, tagger, request) for request in sent])
        clean = [(s, g) for s, g in zip(sent, got, strict=True) if s.rows[0][0][0] == "c"]
        own_rows([s for s, _ in clean], [g for _, g in clean])
        for request, answer in zip(sent, got, strict=True):
            tag = request.rows[0][0]
            if tag.startswith("poison"):
                assert answer.status == MODEL_ERROR[request.protocol], (request, answer)
                assert f"ValueError: poisoned row {tag}" in answer.error, (request, answer)
                if request.protocol.startswith("model"):
                    assert answer.error.startswith("MODEL_ERROR: "), answer
        sizes = [int(n) for n in poisoned_calls.findall(tagger.server.log())[seen:]]
        seen += len(sizes)
        if max(sizes, default=0) > 1:
            break
    else:
        raise AssertionError(f"no poisoned row shared a call:\n{tagger.server.log()}")
    after = [Sent(p, ((f"after-{i}", i),)) for i, p in enumerate(PROTOCOLS)]
    own_rows(after, at_once([partial(send, tagger, request) for request in after]))


def test_v2_describes_a_batched_models_outputs_as_one_rows(tagger: Address) -> None:
    """Each request's answer is one row of ``tagged``'s ``-> list[dict]``: a dict, as an
    unbatched ``-> dict`` model answers, whose outputs V2 leaves unknown until it answers
    and lets a client name (REST and gRPC share the description)."""
    url = tagger.server.url
    inputs = [
        {"name": "tag", "datatype": "BYTES", "shape": [1], "data": ["named"]},
        {"name": "value", "datatype": "FP64", "shape": [1], "data": [1.5]},
    ]
    named = post_json(
        f"{url}/v2/models/tagged/infer", {"inputs": inputs, "outputs": [{"name": "tag"}]}
    )
    assert named.status == 200, named.body
    assert [(o["name"], o["data"]) for o in named.body["outputs"]] == [("tag", ["named"])]
    assert http("GET", f"{url}/v2/models/tagged").body["outputs"] == []


ARRAYS = st.lists(
    st.tuples(
        st.sampled_from(("model", "v2-json", "v2-binary", "grpc", "seldon", "kserve-v1")),
        st.integers(0, 4),
    ),
    min_size=16,
    max_size=32,
)


def test_an_onnx_graph_gives_each_request_its_own_rows(onnx_adder: Address) -> None:
    grown: list[tuple[float, float]] = []

    @settings(max_examples=6, deadline=None, database=None, phases=GENERATE)
    @given(ARRAYS, st.data())
    def burst(drawn: list[tuple[str, int]], data: st.DataObject) -> None:
        # One request's inputs disagree on their rows (V1's instances are rows: they cannot).
        can_disagree = [i for i, (protocol, _) in enumerate(drawn) if protocol != "kserve-v1"]
        wrong = data.draw(st.sampled_from([-1, *can_disagree]), label="its rows disagree")
        generator = np.random.default_rng(len(drawn))
        arrays = []
        for i, (protocol, count) in enumerate(drawn):
            # No empty tensor in Domino's envelope, Seldon's or V1's instances.
            rows = count if protocol.startswith(("v2", "grpc")) else max(count, 1)
            a = generator.normal(size=(rows, 3)).astype(np.float32)
            # Row j of request i holds i + j/8 in b: another request's row cannot pass.
            b = ((i + np.arange(rows + (i == wrong)) / 8)[:, None] + np.zeros(3)).astype(np.float32)
            arrays.append((protocol, a, b))
        before = batch_metrics(onnx_adder.server)
        answers = at_once([partial(send_arrays, onnx_adder, *request) for request in arrays])
        for i, ((protocol, a, b), (status, found)) in enumerate(zip(arrays, answers, strict=True)):
            if i == wrong:  # refused alone, with its own message
                assert status == REFUSED[protocol], (protocol, status, found)
                message = f"b: expected dimension batch (axis 0) of {len(a)}, as in a, got {len(b)}"
                assert message in found, found
                continue
            assert status == 200, (protocol, found)
            assert isinstance(found, dict)
            np.testing.assert_array_equal(found["total"], a + b)
            np.testing.assert_array_equal(found["doubled"], (a + b) * 2)
        # Every request reached a batcher once (V1's instances of a tensor model are one
        # call), the refused one too (its call failed, then each of its rows ran alone).
        grown.append(metrics_after(onnx_adder.server, before, len(arrays)))
        assert grown[-1][0] == len(arrays), grown

    burst()
    assert any(count < total for total, count in grown), grown  # requests did meet


REFUSED: dict[str, int | str] = {
    "model": 422,
    "v2-json": 400,
    "v2-binary": "400",
    "grpc": "StatusCode.INVALID_ARGUMENT",
    "seldon": 400,
}
"""How each protocol refuses a request whose inputs disagree on their rows."""


def send_arrays(
    address: Address, protocol: str, a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]
) -> tuple[int | str, dict[str, Any] | str]:
    """a and b to the adder graph through ``protocol``; its outputs as float32[rows, 3]."""
    base = address.server.url
    if protocol == "model":
        reply = post_json(f"{base}/model", {"data": {"a": a.tolist(), "b": b.tolist()}})
        if reply.status != 200:
            return reply.status, reply.body["error"]["message"]
        found = reply.body["result"]
    elif protocol == "seldon":
        document = {"jsonData": {"a": a.tolist(), "b": b.tolist()}}
        reply = post_json(f"{base}/api/v1.0/predictions", document)
        if reply.status != 200:
            return reply.status, reply.body["status"]["info"]
        found = reply.body["jsonData"]
    elif protocol == "kserve-v1":  # each instance one row, each its own call
        instances = [{"a": ra.tolist(), "b": rb.tolist()} for ra, rb in zip(a, b, strict=True)]
        reply = post_json(f"{base}/v1/models/{address.model}:predict", {"instances": instances})
        if reply.status != 200:
            return reply.status, reply.body["error"]
        found = {n: [p[n] for p in reply.body["predictions"]] for n in ADDER}
    else:
        inputs = {"a": (a, "FP32"), "b": (b, "FP32")}
        if protocol == "v2-json":
            status, found = v2_json(address, address.model, inputs)
        else:
            module = tgrpc if protocol == "grpc" else thttp
            status, found = v2_triton(address, module, address.model, inputs, ADDER)
        if isinstance(found, str):
            return status, found
    return 200, {n: np.asarray(found[n], dtype=np.float32).reshape(-1, 3) for n in ADDER}


def test_a_call_past_the_timeout_and_the_rows_behind_it_are_504_on_time(
    tmp_path: Path,
) -> None:
    with python_server(tmp_path, "sleepy", "--timeout", "1", grpc=True) as address:
        server = address.server

        def timed(request: Sent) -> tuple[Got, float]:
            began = time.monotonic()
            return send(address, request), time.monotonic() - began

        # A row sleeping 4 s holds the HTTP worker's batcher and the gRPC process's; the
        # quick rows sent next queue behind it. Each is answered TIMEOUT at its own
        # deadline, long before the model would answer.
        slow = [Sent("model", (("slow-0", 0.0),)), Sent("grpc", (("slow-1", 1.0),))]
        protocols = ("model", "v2-json", "seldon", "grpc")
        quick = [Sent(p, ((f"quick-{i}", i),)) for i, p in enumerate(protocols)]
        late = {"model": 504, "v2-json": 504, "seldon": 504, "grpc": "StatusCode.DEADLINE_EXCEEDED"}
        with ThreadPoolExecutor(len(slow) + len(quick)) as pool:
            holding = [pool.submit(timed, s) for s in slow]
            time.sleep(0.3)  # both slow rows are in the model
            queued = [pool.submit(timed, s) for s in quick]
            answers = [f.result(timeout=20) for f in holding + queued]
        for request, (answer, took) in zip(slow + quick, answers, strict=True):
            assert answer.status == late[request.protocol], (request, answer)
            assert "past the timeout of 1 s (SERVEKIT_TIMEOUT)" in answer.error, answer
            assert 1.0 <= took < 2.5, (request, took)
        for protocol in ("model", "grpc"):  # replaced: the new ones load, then answer
            deadline = time.monotonic() + 20
            while send(address, Sent(protocol, (("probe", 1.0),))).status != 200:
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.2)
        after = [Sent(p, ((f"after-{i}", i),)) for i, p in enumerate(PROTOCOLS * 2)]
        calls = own_rows(after, at_once([partial(send, address, s) for s in after]))
        assert max(len(rows) for rows in calls.values()) > 1, calls
        text = http("GET", f"{server.url}/metrics").raw.decode()  # the HTTP worker's
        assert value(text, "servekit_workers_lost_total", reason="timeout") == 1.0, text


def test_a_lone_request_does_not_wait_for_max_wait(tmp_path: Path) -> None:
    with python_server(tmp_path, "patient", grpc=True) as address:  # max_wait_ms=1500
        for index, protocol in enumerate(("model", "v2-json", "grpc") * 2):
            began = time.monotonic()
            calls = own_rows(
                [Sent(protocol, ((f"alone-{index}", index),))],
                [send(address, Sent(protocol, ((f"alone-{index}", index),)))],
            )
            assert [len(rows) for rows in calls.values()] == [1]
            assert time.monotonic() - began < 1.0, protocol  # not the 1.5 s wait


def in_flight(server: Server) -> float:
    """``servekit_inflight_requests``: the HTTP requests being handled, this one too."""
    text = http("GET", f"{server.url}/metrics").raw.decode()
    return value(text, "servekit_inflight_requests")


def test_sigterm_answers_every_request_of_the_batches_in_hand(tmp_path: Path) -> None:
    with python_server(tmp_path, "patient", grpc=True) as address:
        server = address.server
        holds = [Sent("model", (("hold-http", 0.25),)), Sent("grpc", (("hold-grpc", 0.75),))]
        protocols = ("model", "v2-json", "seldon", "kserve-v1", "grpc", "grpc")
        sent = [Sent(p, ((f"drain-{i}", i + 0.5),)) for i, p in enumerate(protocols)]
        answered: list[float] = []

        def timed(request: Sent) -> Got:
            answer = send(address, request)
            answered.append(time.monotonic())
            return answer

        with ThreadPoolExecutor(len(holds) + len(sent)) as pool:
            futures = [pool.submit(timed, request) for request in holds]
            time.sleep(0.3)  # each holds its batcher for 3 s: what follows queues behind
            futures += [pool.submit(timed, request) for request in sent]
            deadline = time.monotonic() + 1.5
            while in_flight(server) < 1 + 4 + 1:  # hold, the four HTTP requests, /metrics
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
            time.sleep(0.2)  # the gRPC calls, sent with them, are in hand too
            assert not answered  # all wait behind the held calls
            stopped_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            got = [future.result(timeout=20) for future in futures]
        calls = own_rows(holds + sent, got)
        # Each held call alone; then the HTTP worker's queued four, and the gRPC two, whole.
        assert sorted(len(rows) for rows in calls.values()) == [1, 1, 2, 4], calls
        assert min(answered) > stopped_at
        assert server.process.wait(20) == 0, server.log()
