"""Writing the report: the summary JSON and the HTML page with its charts, into one
folder (the thin I/O at the end of ``servekit monitor``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError
from servekit.monitor.charts import histogram, quality_chart
from servekit.monitor.quality import NUMBER_METRICS
from servekit.monitor.report import render
from servekit.monitor.summary import summarise
from servekit.monitor.thresholds import Thresholds
from servekit.monitor.verdict import Verdict

__all__ = ["write_report"]

OVER_TIME = {"classification": ["accuracy", "f1_macro"], "regression": list(NUMBER_METRICS)}
"""The metrics drawn per hour or day."""


def charts_of(verdict: Verdict) -> dict[str, str]:
    """Feature name (and ``"(prediction)"``) -> its chart, for those with values."""
    found = {item.name: histogram(item) for item in verdict.features if item.drift is not None}
    if verdict.prediction is not None and verdict.prediction.drift is not None:
        found["(prediction)"] = histogram(verdict.prediction)
    return found


def write_report(
    out: Path,
    verdict: Verdict,
    thresholds: Thresholds,
    context: dict[str, Any],
    skipped_inputs: list[str],
) -> dict[str, Any]:
    """Write ``out/summary.json`` and ``out/report.html``; the summary."""
    summary = summarise(
        verdict,
        thresholds,
        context["window"],
        context["records"],
        context["baseline"],
        skipped_inputs,
    )
    quality = summary["quality"] or {}
    chart = ""
    if "over_time" in quality:
        names = OVER_TIME[quality["task"]]
        chart = quality_chart(quality["over_time"]["points"], names, quality["bounds"])
    page = render(summary, charts_of(verdict), chart)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _replace(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
        _replace(out / "report.html", page)
    except OSError as exc:
        raise ConfigError(f"--out {out}: {exc.strerror or exc}") from None
    return summary


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole: a reader never sees half a file."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
