"""``python -m benchmarks``: servekit against a bare Flask + uWSGI baseline, in one run.

Writes ``benchmarks/results/latest.json`` and prints a markdown table with each figure
for servekit and the baseline and their ratio. ``--short`` is the CI version (echo model,
shorter loops); ``--check`` exits 1 only when servekit breaks the product promise (p99
over 50 ms at 100 requests/s, or any error). ``--micro`` runs the in-process
microbenchmarks with pytest-benchmark instead. The full run (and ``--fronts``, echo and
numpy only) also compares servekit's nginx front with its direct one (uWSGI's
http-socket), with keep-alive clients and without, and the CPU each process spends.
``--against REV`` also runs servekit as it was at git revision REV, beside the working
tree's, and prints every figure of the pair and their ratio (:mod:`benchmarks.against`).
Echo and the ONNX graph are also measured over V2 REST, JSON and binary, on the same
servekit server as ``/model``, and a 1 MB tensor in both forms (:mod:`benchmarks.v2`,
:mod:`benchmarks.tensor`; shorter loops with ``--short``); ``--v2`` runs only those, V2
over gRPC included. The full run (and ``--capture`` alone) also measures prediction
capture: off, to a file, to a dead HTTP sink (:mod:`benchmarks.capture`). ``--mlflow``
runs only servekit's MLflow runtime against MLflow's own scoring server, same model, same
processes (:mod:`benchmarks.mlflow_bench`; shorter loops with ``--short``). ``--batching``
runs only adaptive batching off and on, MLPs in two shapes (the issue's small one and a
wide one whose rows cost more than the server) as ONNX graphs and in numpy
(:mod:`benchmarks.batching`; shorter loops with ``--short``, a smoke test;
``--batching-models onnx-wide,numpy-wide`` runs only those).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from benchmarks import batching, mlflow_bench, v2
from benchmarks.against import AgainstError, Old, checkout, interleave
from benchmarks.capture import capture_runs, capture_table, write_alone
from benchmarks.capture import missed as capture_missed
from benchmarks.load import closed_loop, open_loop
from benchmarks.servers import ROOT, start
from benchmarks.tables import against_tables, front_table, table, tensor_table, v2_table
from benchmarks.tensor import big_tensor

MODELS: dict[str, tuple[str, dict[str, Any], bytes]] = {
    "echo": (
        "benchmarks/models/echo.py:predict",
        {
            "data": {
                "payload": {
                    "id": 12345,
                    "name": "benchmark",
                    "values": [1.5, 2.5, 3.5],
                    "flag": True,
                }
            }
        },
        b'"result"',
    ),
    "numpy": (
        "benchmarks/models/logreg.py:predict",
        {"data": {"features": [round(0.05 * i, 2) for i in range(20)]}},
        b'"probability"',
    ),
}
ONNX_MODEL = Path("/tmp/servekit-bench-logreg.onnx")
ONNX_BODY = {"data": {"features": [[round(0.05 * i, 2) for i in range(20)]]}}
# For "onnx" servekit serves the file and the baseline runs the same graph in Python.
ONNX_TARGETS = {"servekit": str(ONNX_MODEL), "baseline": "benchmarks/models/onnx_logreg.py:predict"}
PROMISE_P99_MS = 50.0
TARGETS = {
    "p99_ms": 5.0,
    "p50_ratio": 1.2,
    "saturation_ratio": 0.85,
    "cold_start_s": 1.5,
    "worker_rss_mb": 80.0,
    "v2_p50_ratio": 1.1,
    "v2_saturation_ratio": 0.9,
    "tensor_speedup": 5.0,
}


def layout() -> tuple[str, int, int]:
    """(server cpus for taskset, server processes, load generator cpu)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return str(cores[0]), 1, cores[0]
    server = cores[:-1]
    return ",".join(map(str, server)), len(server), cores[-1]


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


SERVERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "baseline": ("baseline", ()),
    "servekit": ("servekit", ()),  # the default front: nginx where it is installed
    "servekit-direct": ("servekit", ("--front", "direct")),  # uWSGI's http-socket
}
"""Each server under test: how it is started, and its extra servekit flags."""


def run(
    models: list[str],
    open_seconds: float,
    closed_seconds: float,
    fronts: bool = False,
    against: Old | None = None,
    v2_models: tuple[str, ...] = (),
    v2_seconds: tuple[float, float] = (0.0, 0.0),
    tensor_seconds: float = 0.0,
    baseline: bool = True,
    grpc: bool = True,
) -> dict[str, Any]:
    """Every model on every server; with ``fronts``, also servekit's direct front, and
    keep-alive clients (open and closed loop) for all; with ``against``, each servekit
    run also at that revision, the two in turn (which goes first alternates by model).
    ``v2_models`` are also measured over V2 REST on each servekit server, after /model
    (``v2_seconds``: the open and closed loops); ``tensor_seconds``: the 1 MB tensor's
    JSON against binary (:mod:`benchmarks.v2`); with ``grpc`` the working tree's servekit
    also serves V2 over gRPC, measured after REST (:mod:`benchmarks.grpc_load`)."""
    server_cpus, processes, load_cpu = layout()
    os.sched_setaffinity(0, {load_cpu})  # this process is the open-loop generator
    print(f"# machine: {machine()}", flush=True)
    print(
        f"# servers pinned to CPU {server_cpus} ({processes} process(es), 1 thread); "
        f"load generators pinned to CPU {load_cpu}",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    port = 18600
    if against is not None:  # before anything is measured
        against.check_import()
        against.check_served(server_cpus, processes, port)
    if "onnx" in models:
        from benchmarks.models.onnx_logreg import build

        build(ONNX_MODEL)
        os.environ["BENCH_ONNX_MODEL"] = str(ONNX_MODEL)
    for index, model in enumerate(models):
        if model == "onnx":
            targets, document, expect = ONNX_TARGETS, ONNX_BODY, b'"probability"'
        elif model == "r":  # R echo against servekit's own Python echo
            _, document, expect = MODELS["echo"]
            targets = {
                "servekit": "benchmarks/models/echo.R:predict",
                "baseline": "benchmarks/models/echo.py:predict",
            }
        else:
            target, document, expect = MODELS[model]
            targets = {"servekit": target, "baseline": target}
        body = json.dumps(document).encode()
        names = ["baseline", "servekit"] if baseline else ["servekit"]
        if fronts and model in ("echo", "numpy"):
            names.append("servekit-direct")
        if against is not None:
            names = interleave(names, against, old_first=index % 2 == 0)
        for name in names:
            port += 1
            server_name, _, rev = name.partition("@")  # servekit@REV: at that revision
            kind, extra = SERVERS[server_name]
            if server_name.startswith("servekit"):  # the name V2's paths carry
                extra = (*extra, "--model-name", v2.MODEL_NAME)
            grpc_port = 0  # V2 over gRPC too, beside REST, on the working tree's servekit
            if server_name == "servekit" and not rev and model in v2_models and grpc:
                grpc_port = port + 1000
                extra = (*extra, "--grpc-port", str(grpc_port))
            kind = "servekit" if model == "r" else kind  # both sides are servekit for R
            target = targets.get(server_name, targets["servekit"])
            server = start(
                kind,
                str(ROOT / target),
                port,
                processes,
                server_cpus,
                ("/model", body, expect),
                extra=extra,
                src=against.src if against is not None and rev else None,
            )
            row: dict[str, Any] = {"server": name, "model": model}
            v2_rows: list[dict[str, Any]] = []
            try:
                time.sleep(0.5)  # all workers up
                opened = open_loop(port, "/model", body, expect, rate=100.0, seconds=open_seconds)
                before = server.cpu_by_kind()
                closed = closed_loop(
                    port, "/model", body, seconds=closed_seconds, cpu=str(load_cpu)
                )
                row["closed_loop_cpu_us"] = server.cpu_us_per_request(before, closed.requests)
                if fronts:
                    row["open_loop_keepalive"] = open_loop(
                        port, "/model", body, expect, 100.0, open_seconds, keep_alive=True
                    ).to_dict()
                    before = server.cpu_by_kind()
                    kept = closed_loop(
                        port, "/model", body, closed_seconds, cpu=str(load_cpu), keep_alive=True
                    )
                    row["closed_loop_keepalive"] = kept.to_dict()
                    row["cpu_us_per_request"] = server.cpu_us_per_request(before, kept.requests)
                if model in v2_models and server_name == "servekit" and v2.offered(port):
                    v2_rows = v2.measure(
                        server, model, document["data"], *v2_seconds, str(load_cpu), grpc_port
                    )
            finally:
                server.stop()
            row.update(
                {
                    "open_loop": opened.to_dict(),
                    "closed_loop": closed.to_dict(),
                    "cold_start_s": round(server.cold_start_s, 3),
                    "peak_tree_rss_mb": round(server.peak_tree_mb, 1),
                    "peak_worker_rss_mb": round(server.peak_worker_mb, 1),
                }
            )
            results.append(row)
            same = ("cold_start_s", "peak_tree_rss_mb", "peak_worker_rss_mb")  # one server
            results += [{"server": name, **r, **{k: row[k] for k in same}} for r in v2_rows]
            print(
                f"# {model:6} {name:9} p50 {opened.p50_ms:.2f} ms  p99 {opened.p99_ms:.2f} "
                f"ms  errors {opened.errors + closed.errors}  {closed.requests_per_second:.0f}"
                f" req/s",
                flush=True,
            )
    tensor = {}
    if tensor_seconds:
        tensor = {"tensor_1mb": big_tensor(server_cpus, processes, port + 1, tensor_seconds)}
    return {
        "machine": machine(),
        "layout": {"server_cpus": server_cpus, "processes": processes, "load_cpu": load_cpu},
        "open_seconds": open_seconds,
        "closed_seconds": closed_seconds,
        "runs": results,
        **tensor,
        **({"against": against.to_dict()} if against is not None else {}),
    }


def verdicts(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(broken promises, missed targets) for servekit. V2 rows keep the promise too."""
    broken, missed = [], []
    runs = {(r["model"], r["server"]): r for r in report["runs"]}
    for (model, name), r in runs.items():
        if name not in ("servekit", "servekit-direct"):
            continue
        base = runs.get((model, "baseline"))
        p99 = r["open_loop"]["p99_ms"]
        errors = r["open_loop"]["errors"] + r["closed_loop"]["errors"]
        if p99 > PROMISE_P99_MS or errors:
            broken.append(
                f"{model}: p99 {p99:.1f} ms, {errors} errors "
                f"({r['open_loop']['first_error'][:120]})"
            )
        if model != "echo" or name != "servekit" or base is None:
            continue
        checks = [
            (p99 <= TARGETS["p99_ms"], f"p99 {p99:.2f} ms > {TARGETS['p99_ms']} ms"),
            (
                r["open_loop"]["p50_ms"] <= TARGETS["p50_ratio"] * base["open_loop"]["p50_ms"],
                "p50 over 1.2x the baseline's",
            ),
            (
                r["closed_loop"]["requests_per_second"]
                >= TARGETS["saturation_ratio"] * base["closed_loop"]["requests_per_second"],
                "saturation under 0.85x baseline",
            ),
            (r["cold_start_s"] < TARGETS["cold_start_s"], f"cold start {r['cold_start_s']} s"),
            (
                r["peak_worker_rss_mb"] < TARGETS["worker_rss_mb"],
                f"worker RSS {r['peak_worker_rss_mb']} MB",
            ),
        ]
        missed += [f"{model}: {text}" for ok, text in checks if not ok]
    for form, sent in report.get("tensor_1mb", {}).items():
        if isinstance(sent, dict) and sent["errors"]:
            broken.append(f"1 MB tensor in {form}: {sent['errors']} errors ({sent['first_error']})")
    missed += v2.missed(
        report, TARGETS["v2_p50_ratio"], TARGETS["v2_saturation_ratio"], TARGETS["tensor_speedup"]
    )
    return broken, missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--short", action="store_true", help="CI version: echo, short loops")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if servekit breaks the product promise"
    )
    parser.add_argument("--micro", action="store_true", help="run the microbenchmarks")
    parser.add_argument(
        "--fronts",
        action="store_true",
        help="only the front comparison: echo and numpy on the nginx and direct fronts",
    )
    parser.add_argument(
        "--v2",
        action="store_true",
        help="only V2 REST: echo and onnx on /model and V2 (JSON, binary), the 1 MB tensor",
    )
    parser.add_argument(
        "--capture",
        action="store_true",
        help="only prediction capture: echo with capture off, to a file, to a dead HTTP sink",
    )
    parser.add_argument(
        "--mlflow",
        action="store_true",
        help="only MLflow: the scikit-learn classifier on servekit and on mlflow models serve",
    )
    parser.add_argument(
        "--batching",
        action="store_true",
        help="only adaptive batching: MLPs (ONNX graph, numpy) with batching off and on",
    )
    parser.add_argument(
        "--batching-models",
        metavar="NAMES",
        help="with --batching, only these models, comma-separated (default all: "
        + ",".join(batching.MODELS)
        + ")",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run servekit as it was at git revision REV (a commit, tag, HEAD~1...)",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/latest.json"))
    args = parser.parse_args(argv)
    if args.micro:
        return subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "benchmarks/micro"),
                "--benchmark-enable",
                "--benchmark-only",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
        )
    if args.capture:
        return _capture_only(args.out)
    if args.batching_models is not None and not args.batching:
        parser.error("--batching-models needs --batching")
    if args.batching:
        chosen = _batching_models(args.batching_models)
        if isinstance(chosen, str):
            parser.error(chosen)
        return _batching_only(args.out, (2, 1, 1) if args.short else (6, 4, 4), chosen)
    if args.mlflow:
        return _mlflow_only(args.out, (10, 5) if args.short else (20, 10), args.check)
    models = ["echo"] if args.short else ["echo", "numpy", "onnx", "r"]
    if args.fronts or args.v2:
        models = ["echo", "numpy"] if args.fronts else ["echo", "onnx"]
    loops = (10, 5) if args.short else (20, 10)
    try:
        with checkout(args.against) if args.against else nullcontext() as against:
            report = run(
                models,
                *loops,
                fronts=not args.short and not args.v2,
                against=against,
                v2_models=() if args.fronts else ("echo", "onnx"),
                v2_seconds=(4, 2) if args.short and not args.v2 else loops,
                tensor_seconds=0 if args.fronts else 3 if args.short else 12,
                baseline=not args.v2,
            )
    except AgainstError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 2
    if not args.short and not args.fronts and not args.v2 and not args.against:
        report["capture"] = _captures(report["layout"], (10, 5))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    for pair in against_tables(report):
        print(f"\n{pair}")
    for extra in (front_table(report), v2_table(report), tensor_table(report)):
        if extra:
            print(f"\n{extra}")
    if report.get("capture"):
        print(f"\n{capture_table(report['capture'])}")
    broken, missed = verdicts(report)
    missed += capture_missed(report.get("capture", []))
    for line in missed:
        print(f"# target missed (not a failure): {line}")
    for line in broken:
        print(f"# PRODUCT PROMISE BROKEN: {line}")
    print(f"# results written to {args.out}")
    return 1 if args.check and broken else 0


def _captures(layout: dict[str, Any], seconds: tuple[float, float]) -> list[dict[str, Any]]:
    """The capture rows (:mod:`benchmarks.capture`) on the run's cores."""
    return capture_runs(
        layout["server_cpus"], layout["processes"], 18900, str(layout["load_cpu"]), seconds
    )


def _pinned() -> dict[str, Any]:
    """The run's cores (:func:`layout`), this process pinned to the load generators'."""
    server_cpus, processes, load_cpu = layout()
    os.sched_setaffinity(0, {load_cpu})
    return {"server_cpus": server_cpus, "processes": processes, "load_cpu": load_cpu}


def _capture_only(out: str) -> int:
    """``--capture``: only what capture costs, with the full run's loops."""
    place = _pinned()
    report = {"machine": machine(), "layout": place, "capture": _captures(place, (20, 10))}
    return write_alone(report, out)


def _mlflow_only(out: str, seconds: tuple[float, float], check: bool) -> int:
    """``--mlflow``: servekit's MLflow runtime against ``mlflow models serve``
    (:mod:`benchmarks.mlflow_bench`); with ``check``, 1 when servekit breaks the promise."""
    place = _pinned()
    cpus, processes, load_cpu = place["server_cpus"], place["processes"], place["load_cpu"]
    print(f"# machine: {machine()}", flush=True)
    print(f"# servers pinned to CPU {cpus} ({processes} process(es)), load on CPU {load_cpu}")
    runs = mlflow_bench.mlflow_runs(cpus, processes, 19000, str(load_cpu), seconds)
    report = {"machine": machine(), "layout": place, **runs}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"# {report['stack']}, {processes} worker(s) each")
    print(mlflow_bench.mlflow_table(report))
    for line in mlflow_bench.missed(report):
        print(f"# target missed (not a failure): {line}")
    broken, _ = verdicts(report)  # servekit's rows keep the promise; no baseline here
    for line in broken:
        print(f"# PRODUCT PROMISE BROKEN: {line}")
    print(f"# results written to {out}")
    return 1 if check and broken else 0


def _batching_models(names: str | None) -> tuple[str, ...] | str:
    """``--batching-models``: the models named (comma-separated, in
    :data:`benchmarks.batching.MODELS`' order; all of them for None), or what is wrong."""
    if names is None:
        return tuple(batching.MODELS)
    given = {name.strip() for name in names.split(",") if name.strip()}
    unknown = sorted(given - set(batching.MODELS))
    if unknown or not given:
        wrong = f"unknown {', '.join(unknown)}" if unknown else "no model named"
        return f"--batching-models: {wrong} (choose from {','.join(batching.MODELS)})"
    return tuple(name for name in batching.MODELS if name in given)


def _batching_only(
    out: str, seconds: tuple[float, float, float], models: tuple[str, ...] = tuple(batching.MODELS)
) -> int:
    """``--batching``: adaptive batching off and on (:mod:`benchmarks.batching`), for
    ``models``; the goals are printed as targets, never failures."""
    place = _pinned()
    cpus, load_cpu = place["server_cpus"], place["load_cpu"]
    print(f"# machine: {machine()}", flush=True)
    print(f"# servers pinned to CPU {cpus} (1 process), load on CPU {load_cpu}", flush=True)
    shapes = ", ".join(f"{name} {batching.MODELS[name].shape}" for name in models)
    print(f"# models: {shapes}", flush=True)
    runs = batching.batching_runs(cpus, 19100, str(load_cpu), seconds, models)
    report = {"machine": machine(), "layout": {**place, "processes": 1}, **runs}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(batching.batching_table(report))
    for line in batching.missed(report):
        print(f"# target missed (not a failure): {line}")
    print(f"# results written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
