"""Adaptive batching off and on, in one run (``--batching``; issue 23).

The models (:mod:`benchmarks.models.mlp`: MLPs with seeded float32 weights, made here)
come in two shapes, each served two ways, as an ONNX graph (servekit's ONNX runtime;
batched with ``SERVEKIT_BATCH_MAX_SIZE``, which stacks the requests' rows) and as the
same maths in numpy (a ``@servekit.batch`` function against its unbatched twin):

- ``onnx`` and ``numpy``: 256 -> 1024 -> 1024 -> 10, the issue's example. One row costs
  onnxruntime ~0.065 ms, a quarter of what servekit and nginx spend on a request
  (~0.25 ms on one core), so batching saves little on a CPU: even a free model would
  not make the server 2x faster. It shows what batching costs (threads, the wait).
- ``onnx-wide`` and ``numpy-wide``: 1024 -> 4096 -> 4096 -> 10 (~21M parameters, 84 MB,
  built at every run). One row costs ~2 ms, far more than the server's own work, and it
  is a memory-bound GEMV where a batch of 32 is one GEMM (~0.3 ms a row): a model for
  which batching matters on a CPU. Its settings are fewer (:data:`WIDE_SETTINGS`) to
  keep the whole run under ~9 minutes; ``--batching-models`` picks a subset.

Each is served by ``python -m servekit serve`` with one process, pinned as the other
modes pin servers (:func:`benchmarks.__main__.layout`), in each of its model's settings
(:data:`SETTINGS`, :data:`WIDE_SETTINGS`): batching off as servekit is (1 thread), off
with as many threads as the batched servers get (so that a gain is not only threads),
and on with a few (max_size, max_wait_ms) pairs, with servekit's own choice of threads
(no ``--threads`` flag of the setting's; ``Setting.threads`` None) or a given number.
The threads each server really ran are read from servekit itself (``--print-config``
with the same flags and environment) and printed.

Each request is ``POST /model`` with one row (256 or 1024 floats) in Domino's envelope;
the rows cycle through :data:`DISTINCT` seeded ones, and in the open loops every answer
is parsed and checked against the row's own 10 outputs computed here with numpy for that
shape (within float tolerance), so an answer handed to the wrong request of a batch is an
error, and so is one later than :data:`ANSWER_TIMEOUT_S`. Figures: saturation from wrk's
closed loop (one thread, 32 and 64 connections, ``Connection: close`` as in the other
modes; wrk counts non-2xx answers but does not read them), p50 and p99 from the open loop
(:func:`benchmarks.load.scheduled`, new connection per request) at 100 and 500
requests/s (500 is above the unbatched wide model's saturation: its queue shows as
latency, and answers later than :data:`ANSWER_TIMEOUT_S` as errors), and from
``/metrics`` during each loop the mean batch formed (``servekit_batch_size_sum /
_count``) and the model's mean time per batch (``servekit_batch_model_seconds``).

Goals (issue 23), printed as targets, never failures: saturation with batching on at
least 2x off (servekit as it is, same clients); p99 at 100 requests/s under
``max_wait_ms`` + one batch's model time (at that rate) + 2 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks.load import closed_loop, http_request, scheduled
from benchmarks.models.mlp import SMALL, WIDE, build, forward, rows
from benchmarks.servers import ROOT, Server, pythonpath, start

__all__ = [
    "ANSWER_TIMEOUT_S",
    "DISTINCT",
    "GOALS",
    "MODELS",
    "SETTINGS",
    "WIDE_SETTINGS",
    "Model",
    "Setting",
    "answer_error",
    "batch_figures",
    "batching_runs",
    "batching_table",
    "expected",
    "missed",
    "model_body",
    "p99_target_ms",
    "shape_name",
    "threads_flags",
]

GOALS = {"saturation_ratio": 2.0, "p99_slack_ms": 2.0}
"""Batching on over off at saturation; the p99 at 100 requests/s over max_wait_ms + one
batch's model time."""
DISTINCT = 16
"""Distinct rows the requests cycle through (each answer checked against its own)."""
RATES = (100.0, 500.0)
CLIENTS = (32, 64)
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
ANSWER_TIMEOUT_S = 5.0
"""An open-loop request (connect, send, whole answer) not done by then is an error
("late"), its latency still counted: the loop ends at most this long after its last
request is due, however far behind the server falls."""


@dataclass(frozen=True)
class Setting:
    """One server: batching off (``max_size`` 0) or on, and its threads per worker
    (None: servekit's own choice, no ``--threads`` flag of the setting's)."""

    name: str
    max_size: int = 0
    max_wait_ms: float = 0.0
    threads: int | None = 1

    @property
    def on(self) -> bool:
        return self.max_size > 1


SETTINGS = (
    Setting("off"),
    Setting("off 32 threads", threads=32),
    Setting("on 32/2ms", 32, 2.0, None),
    Setting("on 32/5ms", 32, 5.0, None),
    Setting("on 64/5ms", 64, 5.0, None),
    Setting("on 32/2ms 8 threads", 32, 2.0, 8),
)
"""The small models': off as servekit is, off with the batched servers' threads (32),
on: (max_size, max_wait_ms) with servekit's choice of threads, and once with 8 threads
(``--threads 8``: batches of at most 8, fewer threads contending for the GIL)."""
WIDE_SETTINGS = (
    Setting("off"),
    Setting("off 32 threads", threads=32),
    Setting("on 32/5ms", 32, 5.0, None),
    Setting("on 32/2ms 8 threads", 32, 2.0, 8),
)
"""The wide models': fewer (each server starts with 84 MB of weights and its loops last
longer behind the slower model), the same kinds."""


@dataclass(frozen=True)
class Model:
    """How one benchmarked model is served: ``kind`` ``onnx`` (the graph) or ``numpy``
    (a Python function), the MLP's ``sizes``, its settings and, for numpy, the unbatched
    and batched functions in :mod:`benchmarks.models.mlp`."""

    kind: str
    sizes: tuple[int, ...]
    settings: tuple[Setting, ...]
    functions: tuple[str, str] = ("", "")

    @property
    def shape(self) -> str:
        return shape_name(self.sizes)


MODELS = {
    "onnx": Model("onnx", SMALL, SETTINGS),
    "numpy": Model("numpy", SMALL, SETTINGS, ("predict", "predict_batched")),
    "onnx-wide": Model("onnx", WIDE, WIDE_SETTINGS),
    "numpy-wide": Model("numpy", WIDE, WIDE_SETTINGS, ("predict_wide", "predict_wide_batched")),
}
"""Every model ``--batching`` runs (``--batching-models`` picks some), in order."""


def shape_name(sizes: Sequence[int]) -> str:
    """``256-1024-1024-10``."""
    return "-".join(str(size) for size in sizes)


def model_body(model: str, row: np.ndarray) -> bytes:
    """One row in Domino's envelope: the graph's input ``x`` takes rows (a list of one),
    the Python function's ``x`` one row."""
    values = [float(v) for v in row]
    onnx = MODELS[model].kind == "onnx"
    return orjson.dumps({"data": {"x": [values] if onnx else values}})


def expected(data: np.ndarray, sizes: Sequence[int] = SMALL) -> np.ndarray:
    """Each row's outputs in the MLP ``sizes``, computed here with numpy."""
    return forward(data, sizes)


def answer_error(model: str, body: bytes, want: np.ndarray) -> str:
    """'' when ``body`` (a 200's) holds the row's outputs ``want`` within float
    tolerance, else what is wrong: the graph answers ``{"result": {"y": [[...]]}}``, the
    function ``{"result": [...]}``."""
    try:
        result = orjson.loads(body)["result"]
        onnx = MODELS[model].kind == "onnx"
        got = np.asarray(result["y"][0] if onnx else result, dtype=np.float64)
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError, ValueError) as exc:
        return f"unreadable answer ({type(exc).__name__}): {body[:200]!r}"
    if got.shape != want.shape or not np.allclose(got, want, **TOLERANCE):
        return f"wrong outputs: {got.tolist()[:3]}... for {want.tolist()[:3]}..."
    return ""


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        return await reader.read()
    finally:
        writer.close()


async def _ask(port: int, request: bytes, timeout: float) -> tuple[bytes, bytes] | str:
    """(status, body) of one request on a new connection (the whole exchange within
    ``timeout``), or the error's text."""
    try:
        answer = await asyncio.wait_for(_exchange(port, request), timeout)
    except asyncio.TimeoutError:  # before OSError: it is one since Python 3.11
        return f"late: no whole answer within {timeout:g} s"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    head, _, body = answer.partition(b"\r\n\r\n")
    return head[9:12], body


def _open(
    model: str, port: int, rate: float, seconds: float, data: np.ndarray, wants: np.ndarray
) -> dict[str, Any]:
    """The open loop at ``rate`` (``rate * seconds`` requests, each bounded by
    :data:`ANSWER_TIMEOUT_S`): every answer checked against its own row's outputs."""
    requests = [http_request("/model", model_body(model, row)) for row in data]
    sent = iter(range(10**9))

    async def one() -> str:
        index = next(sent) % len(requests)
        got = await _ask(port, requests[index], ANSWER_TIMEOUT_S)
        if isinstance(got, str):
            return got
        status, body = got
        if status != b"200":
            return f"HTTP {status.decode(errors='replace')}: {body[:200]!r}"
        return answer_error(model, body, wants[index])

    return asdict(asyncio.run(scheduled(rate, seconds, one)))


def _scrape(port: int, timeout: float = 30.0) -> dict[str, float]:
    """The batcher's sums and counts from ``/metrics`` (all label sets added); the
    workers may still be working off an overloaded loop's queue, hence the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    found: dict[str, float] = {}
    for line in raw.decode(errors="replace").splitlines():
        if not line.startswith("servekit_batch_"):
            continue
        name, _, value = line.rpartition(" ")
        name = name.split("{", 1)[0]
        if name.endswith(("_sum", "_count")):
            found[name] = found.get(name, 0.0) + float(value)
    return found


def batch_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Between two scrapes: batches formed, their mean size, the model's mean ms per
    batch and the first request's mean wait in ms (0 where no batch formed)."""

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    batches = delta("servekit_batch_size_count")
    if not batches:
        return {"batches": 0, "mean_size": 0.0, "model_ms": 0.0, "wait_ms": 0.0}
    return {
        "batches": int(batches),
        "mean_size": round(delta("servekit_batch_size_sum") / batches, 2),
        "model_ms": round(1000 * delta("servekit_batch_model_seconds_sum") / batches, 3),
        "wait_ms": round(1000 * delta("servekit_batch_wait_seconds_sum") / batches, 3),
    }


def _environment(setting: Setting) -> dict[str, str | None]:
    on = setting.on
    return {
        "SERVEKIT_BATCH_MAX_SIZE": str(setting.max_size) if on else None,
        "SERVEKIT_BATCH_MAX_WAIT_MS": f"{setting.max_wait_ms:g}" if on else None,
        "SERVEKIT_THREADS": None,
    }


def threads_flags(setting: Setting) -> tuple[str, ...]:
    """The setting's ``--threads`` flag: none for None (servekit's own choice)."""
    return () if setting.threads is None else ("--threads", str(setting.threads))


@contextlib.contextmanager
def _environ(setting: Setting) -> Iterator[None]:
    """``setting``'s environment (:func:`_environment`) in this process, restored after."""
    saved = {k: os.environ.get(k) for k in _environment(setting)}
    try:
        for key, value in _environment(setting).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _threads_run(target: str, setting: Setting) -> int | None:
    """The threads per worker servekit gives ``target`` in ``setting`` (its
    ``--print-config`` with :func:`benchmarks.servers.start`'s flags and the setting's,
    in the setting's environment); None when it does not say."""
    command = [sys.executable, "-m", "servekit", "serve", target, "--processes", "1"]
    command += ["--threads", "1", *threads_flags(setting), "--print-config"]
    with _environ(setting):
        env = {**os.environ, "PYTHONPATH": pythonpath()}
        try:
            done = subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    found = re.search(r"^# env SERVEKIT_THREADS=(\d+)$", done.stdout, re.MULTILINE)
    return int(found.group(1)) if done.returncode == 0 and found else None


def _start(target: str, setting: Setting, port: int, cpus: str, probe: bytes) -> Server:
    """servekit with ``setting``'s environment (restored after the start) and its
    ``--threads`` (:func:`threads_flags`)."""
    with _environ(setting):
        return start(
            "servekit",
            target,
            port,
            1,
            cpus,
            ("/model", probe, b'"result"'),
            60.0,
            threads_flags(setting),
        )


def batching_runs(
    cpus: str,
    port: int,
    load_cpu: str,
    seconds: tuple[float, float, float],
    models: Sequence[str] = tuple(MODELS),
    settings: tuple[Setting, ...] | None = None,
    say: Callable[[str], None] = lambda line: print(line, flush=True),
) -> dict[str, Any]:
    """Each of ``models`` (names in :data:`MODELS`) in each of its settings (or
    ``settings``): the open loop at 100 and 500 requests/s (``seconds[0]``,
    ``seconds[1]``) and wrk with 32 and 64 connections (``seconds[2]`` each), the
    batches formed during each. The graphs are built first, removed at the end."""
    unknown = [name for name in models if name not in MODELS]
    if unknown:
        raise ValueError(f"unknown batching models {unknown}: choose from {list(MODELS)}")
    folder = Path(tempfile.mkdtemp(prefix="servekit-bench-batching-"))
    runs: list[dict[str, Any]] = []
    try:
        graphs: dict[tuple[int, ...], Path] = {}
        for name in models:  # before any server starts
            sizes = MODELS[name].sizes
            if MODELS[name].kind == "onnx" and sizes not in graphs:
                graphs[sizes] = build(folder / f"mlp-{shape_name(sizes)}.onnx", sizes)
        for name in models:
            model = MODELS[name]
            data = rows(DISTINCT, sizes=model.sizes)
            wants = expected(data, model.sizes)
            body = model_body(name, data[0])
            for setting in settings or model.settings:
                port += 1
                if model.kind == "onnx":
                    target = str(graphs[model.sizes])
                else:
                    function = model.functions[setting.on]
                    target = str(ROOT / f"benchmarks/models/mlp.py:{function}")
                row: dict[str, Any] = {"model": name, "shape": model.shape}
                row["setting"] = asdict(setting)
                row["name"] = setting.name
                row["threads"] = _threads_run(target, setting)
                server = _start(target, setting, port, cpus, body)
                try:
                    time.sleep(0.5)  # all threads up
                    for rate, length in zip(RATES, seconds[:2], strict=True):
                        before = _scrape(port)
                        row[f"open_{rate:g}"] = _open(name, port, rate, length, data, wants)
                        row[f"batches_open_{rate:g}"] = batch_figures(before, _scrape(port))
                    for clients in CLIENTS:
                        before, cpu = _scrape(port), server.cpu_by_kind()
                        closed = closed_loop(
                            port, "/model", body, seconds[2], clients, cpu=load_cpu
                        )
                        row[f"closed_{clients}"] = closed.to_dict()
                        row[f"cpu_us_closed_{clients}"] = server.cpu_us_per_request(
                            cpu, closed.requests
                        )
                        row[f"batches_closed_{clients}"] = batch_figures(before, _scrape(port))
                finally:
                    server.stop()
                row["cold_start_s"] = round(server.cold_start_s, 3)
                row["peak_worker_rss_mb"] = round(server.peak_worker_mb, 1)
                runs.append(row)
                say(_line(row))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "seconds": list(seconds),
        "distinct_rows": DISTINCT,
        "answer_timeout_s": ANSWER_TIMEOUT_S,
        "shapes": {name: MODELS[name].shape for name in models},
        "runs": runs,
    }


def _errors(row: dict[str, Any]) -> int:
    return sum(row[f"open_{r:g}"]["errors"] for r in RATES) + sum(
        row[f"closed_{c}"]["errors"] for c in CLIENTS
    )


def _threads(row: dict[str, Any]) -> int | None:
    """The threads the row's server ran (its setting's where servekit did not say)."""
    threads = row.get("threads")
    return threads if threads is not None else row["setting"]["threads"]


def _threads_cell(row: dict[str, Any]) -> str:
    """The threads, marked ``(default)`` where servekit chose them."""
    threads = _threads(row)
    if row["setting"]["threads"] is not None:
        return str(threads)
    return "default" if threads is None else f"{threads} (default)"


def _shape(row: dict[str, Any]) -> str:
    return str(row.get("shape") or MODELS[row["model"]].shape)


def _line(row: dict[str, Any]) -> str:
    o1, o5 = row["open_100"], row["open_500"]
    return (
        f"# {row['model']:10} {row['name']:19} threads {_threads_cell(row):12} p99 @100 "
        f"{o1['p99_ms']:.2f} ms  p99 @500 {o5['p99_ms']:.2f} ms  sat c32 "
        f"{row['closed_32']['requests_per_second']:.0f}  c64 "
        f"{row['closed_64']['requests_per_second']:.0f} req/s  mean batch c64 "
        f"{row['batches_closed_64']['mean_size']:.1f}  errors {_errors(row)}"
    )


def p99_target_ms(row: dict[str, Any]) -> float | None:
    """max_wait_ms + one batch's model time at 100 requests/s + 2 ms (batching on only)."""
    if not row["setting"]["max_size"] or row["setting"]["max_size"] < 2:
        return None
    model_ms = row["batches_open_100"]["model_ms"]
    return row["setting"]["max_wait_ms"] + model_ms + GOALS["p99_slack_ms"]


def _off(runs: list[dict[str, Any]], model: str, threads: int | None) -> dict[str, Any] | None:
    """``model``'s run with batching off and ``threads`` threads."""
    if threads is None:
        return None
    return next(
        (
            r
            for r in runs
            if r["model"] == model and r["setting"]["max_size"] < 2 and _threads(r) == threads
        ),
        None,
    )


def _ratio(row: dict[str, Any], other: dict[str, Any] | None) -> str:
    """``row``'s saturation with 64 clients over ``other``'s."""
    theirs = other["closed_64"]["requests_per_second"] if other is not None else 0.0
    if other is row or not theirs:
        return "-"
    return f"{row['closed_64']['requests_per_second'] / theirs:.2f}x"


def batching_table(report: dict[str, Any]) -> str:
    """One line per model and setting: the model's shape, the threads its server ran,
    saturation (and its ratio to off, as servekit is, and to off with as many threads),
    the open loops' p50/p99, the batches formed, the model's time per batch, the p99
    target, errors."""
    lines = [
        "| model | shape | setting | threads | sat c32 req/s | sat c64 req/s | c64 on/off | "
        "c64 on/off same threads | p50/p99 ms @100 | p99 target @100 | p50/p99 ms @500 | "
        "mean batch @100/@500/c64 | model ms/batch @100/c64 | CPU us/req c64 worker/nginx "
        "| errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    runs = report["runs"]
    for row in runs:
        off = _off(runs, row["model"], 1)
        threads = _threads(row)
        same = _off(runs, row["model"], threads) if threads is not None and threads > 1 else None
        c32, c64 = (row[f"closed_{c}"]["requests_per_second"] for c in CLIENTS)

        target = p99_target_ms(row)
        cpu = row.get("cpu_us_closed_64", {})
        o1, o5 = row["open_100"], row["open_500"]
        b1, b5, bc = (row[k] for k in ("batches_open_100", "batches_open_500", "batches_closed_64"))
        lines.append(
            f"| {row['model']} | {_shape(row)} | {row['name']} | {_threads_cell(row)} | "
            f"{c32:.0f} | {c64:.0f} | {_ratio(row, off)} | "
            f"{_ratio(row, same) if row['setting']['max_size'] > 1 else '-'} | "
            f"{o1['p50_ms']:.2f}/{o1['p99_ms']:.2f} | "
            f"{f'{target:.2f}' if target is not None else '-'} | "
            f"{o5['p50_ms']:.2f}/{o5['p99_ms']:.2f} | "
            f"{b1['mean_size']:.1f}/{b5['mean_size']:.1f}/{bc['mean_size']:.1f} | "
            f"{b1['model_ms']:.2f}/{bc['model_ms']:.2f} | {cpu.get('worker', 0.0):.0f}/"
            f"{cpu.get('nginx', 0.0):.0f} | {_errors(row)} |"
        )
    return "\n".join(lines)


def missed(report: dict[str, Any]) -> list[str]:
    """The goals a run misses, per batched row: saturation (at 32 and 64 clients) under
    2x off's, p99 at 100 requests/s over its target; and any error."""
    found = []
    goal = GOALS["saturation_ratio"]
    runs = report["runs"]
    for row in runs:
        where = f"{row['model']} {row['name']}"
        if _errors(row):
            first = next(
                (row[f"open_{r:g}"]["first_error"] for r in RATES if row[f"open_{r:g}"]["errors"]),
                "wrk: non-2xx or socket errors",
            )
            found.append(f"{where}: {_errors(row)} errors ({first[:120]})")
        off = _off(runs, row["model"], 1)
        if row["setting"]["max_size"] < 2 or off is None:
            continue
        for clients in CLIENTS:
            mine = row[f"closed_{clients}"]["requests_per_second"]
            theirs = off[f"closed_{clients}"]["requests_per_second"]
            if theirs and mine / theirs < goal:
                found.append(
                    f"{where}: saturation with {clients} clients {mine / theirs:.2f}x off's "
                    f"(goal {goal}x)"
                )
        target = p99_target_ms(row)
        p99 = row["open_100"]["p99_ms"]
        if target is not None and p99 > target:
            found.append(f"{where}: p99 at 100 req/s {p99:.2f} ms > target {target:.2f} ms")
    return found
