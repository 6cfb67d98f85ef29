"""The result tables: each figure for two servers and their ratio, in markdown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "FIGURES",
    "Figure",
    "against_tables",
    "front_table",
    "table",
    "tensor_table",
    "v2_table",
]


Figure = tuple[str, Callable[[dict[str, Any]], float]]
"""A table's line: its label, and how to read it from a run."""

FIGURES: list[Figure] = [
    ("p50 ms @100 rps", lambda r: r["open_loop"]["p50_ms"]),
    ("p90 ms @100 rps", lambda r: r["open_loop"]["p90_ms"]),
    ("p99 ms @100 rps", lambda r: r["open_loop"]["p99_ms"]),
    ("max ms @100 rps", lambda r: r["open_loop"]["max_ms"]),
    ("errors", lambda r: r["open_loop"]["errors"] + r["closed_loop"]["errors"]),
    ("saturation req/s", lambda r: r["closed_loop"]["requests_per_second"]),
    ("cold start s", lambda r: r["cold_start_s"]),
    ("peak RSS per worker MB", lambda r: r["peak_worker_rss_mb"]),
    ("peak RSS process tree MB", lambda r: r["peak_tree_rss_mb"]),
]
"""The main table's figures: the open loop's, the closed loop's, then the server's."""


def table(
    report: dict[str, Any],
    ours: str = "servekit",
    other: str = "baseline",
    figures: list[Figure] = FIGURES,
) -> str:
    """The markdown table: every figure (``figures``) for ``ours`` and ``other`` (the
    baseline, servekit at another revision, MLflow's server), and their ratio; empty if
    no model ran both."""
    lines = [f"| model | figure | {ours} | {other} | {ours}/{other} |", "|---|---|---:|---:|---:|"]
    runs = {(r["model"], r["server"]): r for r in report["runs"]}
    for model in dict.fromkeys(r["model"] for r in report["runs"]):
        if (model, ours) not in runs or (model, other) not in runs:
            continue
        for label, get in figures:
            a, b = get(runs[(model, ours)]), get(runs[(model, other)])
            ratio = f"{a / b:.2f}" if b else "-"
            lines.append(f"| {model} | {label} | {a:.2f} | {b:.2f} | {ratio} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def front_table(report: dict[str, Any]) -> str:
    """The nginx front against the direct one (uWSGI's http-socket), per model."""
    runs = {(r["model"], r["server"]): r for r in report["runs"]}
    figures = [
        ("p50 ms @100 rps, new connection each", "open_loop", "p50_ms"),
        ("p99 ms @100 rps, new connection each", "open_loop", "p99_ms"),
        ("p50 ms @100 rps, keep-alive client", "open_loop_keepalive", "p50_ms"),
        ("p99 ms @100 rps, keep-alive client", "open_loop_keepalive", "p99_ms"),
        ("saturation req/s, Connection: close", "closed_loop", "requests_per_second"),
        ("saturation req/s, keep-alive", "closed_loop_keepalive", "requests_per_second"),
        ("errors (keep-alive runs)", "closed_loop_keepalive", "errors"),
        ("CPU us/request in uWSGI workers (keep-alive)", "cpu_us_per_request", "worker"),
        ("CPU us/request in nginx (keep-alive)", "cpu_us_per_request", "nginx"),
    ]
    lines = [
        "| model | figure | nginx front | direct front | nginx/direct |",
        "|---|---|---:|---:|---:|",
    ]
    for model in dict.fromkeys(r["model"] for r in report["runs"]):
        nginx, direct = runs.get((model, "servekit")), runs.get((model, "servekit-direct"))
        if nginx is None or direct is None or "closed_loop_keepalive" not in nginx:
            continue
        for label, part, key in figures:
            a, b = nginx[part].get(key, 0.0), direct[part].get(key, 0.0)
            ratio = f"{a / b:.2f}" if b else "-"
            lines.append(f"| {model} | {label} | {a:.2f} | {b:.2f} | {ratio} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def against_tables(report: dict[str, Any]) -> list[str]:
    """With ``--against REV``: servekit (and its direct front, if it ran) now against
    the same at REV, each with a line naming the commit."""
    if "against" not in report:
        return []
    rev, commit = report["against"]["rev"], report["against"]["commit"]
    found = []
    for name in ("servekit", "servekit-direct"):
        pair = table(report, name, f"{name}@{rev}")
        if pair:
            found.append(f"{name} (working tree) against {name}@{rev} ({commit}):\n{pair}")
    return found


def v2_table(report: dict[str, Any], server: str = "servekit") -> str:
    """Each V2 row (:mod:`benchmarks.v2`) against /model on the same server."""
    runs = {(r["model"], r["server"]): r for r in report["runs"]}
    figures = [
        ("p50 ms @100 rps", "open_loop", "p50_ms"),
        ("p90 ms @100 rps", "open_loop", "p90_ms"),
        ("p99 ms @100 rps", "open_loop", "p99_ms"),
        ("max ms @100 rps", "open_loop", "max_ms"),
        ("errors", "open_loop", "errors"),
        ("saturation req/s", "closed_loop", "requests_per_second"),
        ("CPU us/request in uWSGI workers (saturation)", "closed_loop_cpu_us", "worker"),
        ("CPU us/request in nginx (saturation)", "closed_loop_cpu_us", "nginx"),
    ]
    lines = [
        f"| model | figure | V2 REST ({server}) | /model | V2//model |",
        "|---|---|---:|---:|---:|",
    ]
    for (model, name), row in runs.items():
        if name != server or "beside" not in row:
            continue
        plain = runs[(row["beside"], name)]
        for label, part, key in figures:
            a, b = row.get(part, {}).get(key, 0.0), plain.get(part, {}).get(key, 0.0)
            if key == "errors":
                a, b = a + row["closed_loop"]["errors"], b + plain["closed_loop"]["errors"]
            ratio = f"{a / b:.2f}" if b else "-"
            lines.append(f"| {model} | {label} | {a:.2f} | {b:.2f} | {ratio} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def tensor_table(report: dict[str, Any]) -> str:
    """The 1 MB FP32 tensor over V2 in binary against JSON, one request at a time."""
    tensor = report.get("tensor_1mb")
    if not tensor:
        return ""
    lines = ["| tensor | figure | binary | JSON | binary/JSON |", "|---|---|---:|---:|---:|"]
    figures = [
        ("p50 ms, one request at a time", "p50_ms"),
        ("p90 ms, one request at a time", "p90_ms"),
        ("max ms, one request at a time", "max_ms"),
        ("requests/s, one at a time", "requests_per_second"),
        ("errors", "errors"),
        ("request MB", "request_bytes"),
        ("answer MB", "answer_bytes"),
    ]
    name = f"{tensor['datatype']}[{tensor['elements']}]"
    for label, key in figures:
        a, b = tensor["binary"][key], tensor["JSON"][key]
        if key.endswith("_bytes"):
            a, b = a / 1e6, b / 1e6
        ratio = f"{a / b:.2f}" if b else "-"
        lines.append(f"| {name} | {label} | {a:.2f} | {b:.2f} | {ratio} |")
    return "\n".join(lines)
