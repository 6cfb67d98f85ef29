"""servekit's MLflow runtime against MLflow's own scoring server (``--mlflow``).

The same model (:mod:`benchmarks.models.mlflow_classifier`, a scikit-learn pipeline saved
with MLflow, made here in a temporary folder), served by ``mlflow models serve -m FOLDER
--env-manager local --workers P`` (uvicorn) and by ``python -m servekit serve FOLDER
--processes P --threads 1`` (uWSGI behind its nginx front), both up for the whole run,
on the same cores, each workload run on one and then on the other (which goes first
alternates), with the same loops. Both get the same ``POST /invocations`` bodies
(``dataframe_split`` with one row, and with 100 rows); servekit also gets the same rows
in Domino's envelope on ``POST /model``, set against MLflow's ``/invocations`` of the
same rows (MLflow has no ``/model``). Each workload gets the open loop at 100
requests/s (every answer must be a 200 with the expected predictions: byte for byte for
``/invocations``) and wrk's closed loop (saturation), with the CPU each server's
processes spent per request during it.

Goals (issue 22), printed as targets, never failures: servekit's saturation at least 3x
MLflow's, and a lower p99 at 100 requests/s. servekit's rows keep the product promise
(p99 under 50 ms, no error), which ``--check`` enforces (``verdicts`` of
:mod:`benchmarks.__main__`, as for the other modes).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from benchmarks.load import closed_loop, open_loop
from benchmarks.models.mlflow_classifier import COLUMNS, build, frame, predictions
from benchmarks.servers import Server, start
from benchmarks.tables import FIGURES, table

__all__ = [
    "GOALS",
    "SERVERS",
    "Workload",
    "in_process",
    "invocations_body",
    "label",
    "missed",
    "mlflow_runs",
    "mlflow_table",
    "model_body",
    "stack",
    "workloads",
]

SERVERS = ("mlflow", "servekit")
"""In the order they start."""
GOALS = {"saturation_ratio": 3.0}
"""servekit's saturation over MLflow's; and servekit's p99 at 100 requests/s lower."""
ROWS = (1, 100)
"""The rows in each request: one, and a batch."""


@dataclass(frozen=True)
class Workload:
    """One request, who gets it, and what its answer must hold."""

    name: str
    path: str
    body: bytes
    expect: bytes
    servers: tuple[str, ...]
    against: str
    """The workload MLflow's figures come from in the table (its own, or the same rows
    on ``/invocations`` for a servekit-only route)."""


def label(rows: int) -> str:
    """A workload's name for its rows: ``sklearn 1 row``, ``sklearn 100 rows``."""
    return f"sklearn {rows} row{'s' if rows > 1 else ''}"


def invocations_body(records: list[dict[str, Any]]) -> bytes:
    """MLflow's ``dataframe_split`` of the rows (columns and data, as MLflow's client
    writes them without the index)."""
    data = [[row[c] for c in COLUMNS] for row in records]
    return json.dumps({"dataframe_split": {"columns": list(COLUMNS), "data": data}}).encode()


def model_body(records: list[dict[str, Any]]) -> bytes:
    """Domino's envelope: one row as ``{"data": {column: value}}``, more as a list."""
    return orjson.dumps({"data": records[0] if len(records) == 1 else records})


def workloads(records: list[dict[str, Any]], predicted: list[int]) -> list[Workload]:
    """The requests for the first 1 and 100 rows of ``records``, whose predictions are
    ``predicted``: MLflow's answer to ``/invocations`` exactly (both servers), and
    Domino's ``result`` on servekit's ``/model``."""
    found = []
    for count in ROWS:
        rows, wanted = records[:count], predicted[:count]
        name = label(count)
        exact = json.dumps({"predictions": wanted}).encode()  # as MLflow writes it
        found.append(
            Workload(
                name, "/invocations", invocations_body(rows), b"\r\n\r\n" + exact, SERVERS, name
            )
        )
        result = b'\r\n\r\n{"result":' + orjson.dumps(wanted) + b","
        found.append(
            Workload(f"{name} /model", "/model", model_body(rows), result, ("servekit",), name)
        )
    return found


def in_process(folder: Path) -> Any:
    """servekit's WSGI app serving the MLflow model in ``folder``, in this process (no
    uWSGI, no nginx), with default settings: for tests and microbenchmarks."""
    from prometheus_client import CollectorRegistry

    from servekit.core.dataplane import DataPlane
    from servekit.core.release import Release
    from servekit.http import ServerState, create_app
    from servekit.runtimes.mlflow.runtime import MlflowRuntime
    from servekit.runtimes.target import Target
    from servekit.settings import Settings

    runtime = MlflowRuntime(Target(str(folder), "mlflow", "", path=folder))
    runtime.load()
    plane = DataPlane(runtime, Release("0", "bench", "1"))
    return create_app(Settings(), ServerState(dataplane=plane), CollectorRegistry())


def stack() -> dict[str, Any]:
    """MLflow's version and its server's stack here: uvicorn uses httptools and uvloop
    when they are installed, else h11 and asyncio."""

    def there(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    return {
        "mlflow": version("mlflow"),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
        "http": "httptools" if there("httptools") else "h11",
        "loop": "uvloop" if there("uvloop") else "asyncio",
    }


def mlflow_runs(
    cpus: str, processes: int, port: int, load_cpu: str, seconds: tuple[float, float]
) -> dict[str, Any]:
    """Every workload on each server that takes it: the open loop at 100 requests/s and
    the closed loop. Both servers run from the start (the idle one costs nothing) so
    that the two runs of a workload follow each other, and which goes first alternates
    by workload. The model is built first and removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="servekit-bench-mlflow-")) / "model"
    servers: dict[str, Server] = {}
    runs: list[dict[str, Any]] = []
    try:
        build(folder)
        rows = frame(max(ROWS), seed=22)
        work = workloads(rows.to_dict(orient="records"), predictions(rows, folder))
        for index, name in enumerate(SERVERS):
            w = next(w for w in work if name in w.servers)  # cold start: to its first answer
            probe = (w.path, w.body, w.expect)
            servers[name] = start(name, str(folder), port + index, processes, cpus, probe, 90.0)
        time.sleep(0.5)  # all workers up
        paired = 0
        for w in work:
            for name in w.servers[::-1] if paired % 2 else w.servers:  # who goes first alternates
                runs.append(_measure(servers[name], w, seconds, load_cpu))
            paired += len(w.servers) > 1
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(folder.parent, ignore_errors=True)
    for row in runs:  # each server's own figures, on every row it ran
        server = servers[row["server"]]
        row["cold_start_s"] = round(server.cold_start_s, 3)
        row["peak_tree_rss_mb"] = round(server.peak_tree_mb, 1)
        row["peak_worker_rss_mb"] = round(server.peak_worker_mb, 1)
    return {"stack": stack(), "processes": processes, "seconds": list(seconds), "runs": runs}


def _measure(
    server: Server, w: Workload, seconds: tuple[float, float], load_cpu: str
) -> dict[str, Any]:
    """One workload on one server: the open loop, then the closed loop and its CPU."""
    port = server.port
    opened = open_loop(port, w.path, w.body, w.expect, 100.0, seconds[0])
    before = server.cpu_by_kind()
    closed = closed_loop(port, w.path, w.body, seconds[1], cpu=load_cpu)
    print(
        f"# {w.name:25} {server.name:8} p50 {opened.p50_ms:.2f} ms  p99 "
        f"{opened.p99_ms:.2f} ms  errors {opened.errors + closed.errors}  "
        f"{closed.requests_per_second:.0f} req/s",
        flush=True,
    )
    return {
        "server": server.name,
        "model": w.name,
        "route": w.path,
        "against": w.against,
        "open_loop": opened.to_dict(),
        "closed_loop": closed.to_dict(),
        "closed_loop_cpu_us": server.cpu_us_per_request(before, closed.requests),
    }


def _pairs(runs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each servekit row with the MLflow row it stands against."""
    theirs = {r["model"]: r for r in runs if r["server"] == "mlflow"}
    return [
        (r, theirs[r["against"]])
        for r in runs
        if r["server"] == "servekit" and r["against"] in theirs
    ]


_CPU = (
    "CPU us/request, server processes (saturation)",
    lambda r: sum(r["closed_loop_cpu_us"].values()),
)


def mlflow_table(report: dict[str, Any]) -> str:
    """servekit against MLflow, every figure and its ratio, in the main table's format;
    the server's own figures (cold start, memory) once, on the first workload."""
    lines: list[str] = []
    for index, (ours, theirs) in enumerate(_pairs(report["runs"])):
        figures = [*FIGURES[:6], _CPU, *(FIGURES[6:] if index == 0 else [])]
        pair = {"runs": [ours, {**theirs, "model": ours["model"]}]}
        text = table(pair, "servekit", "mlflow", figures).splitlines()
        lines += text if not lines else text[2:]
    return "\n".join(lines)


def missed(report: dict[str, Any]) -> list[str]:
    """The goals a run misses: saturation at least 3x MLflow's, p99 lower."""
    found = []
    goal = GOALS["saturation_ratio"]
    for ours, theirs in _pairs(report["runs"]):
        rate = ours["closed_loop"]["requests_per_second"]
        ratio = rate / theirs["closed_loop"]["requests_per_second"]
        if ratio < goal:
            found.append(f"{ours['model']}: saturation {ratio:.2f}x MLflow's (goal {goal}x)")
        mine, other = ours["open_loop"]["p99_ms"], theirs["open_loop"]["p99_ms"]
        if mine >= other:
            found.append(f"{ours['model']}: p99 {mine:.2f} ms, not under MLflow's {other:.2f} ms")
    return found
