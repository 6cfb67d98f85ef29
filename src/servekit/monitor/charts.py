"""The report's charts, drawn by matplotlib as SVG text to inline in the page (no
files, no fonts or scripts to fetch). Figures are made directly, without pyplot, so
nothing global changes. No file I/O."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from servekit.monitor.analysis import Compared

__all__ = ["histogram", "quality_chart"]

BASELINE = "#4c72b0"
CURRENT = "#dd8452"
HIST_BINS = 30
NO_METADATA = dict.fromkeys(("Creator", "Date", "Format", "Type"))
"""No RDF block in the SVG: nothing in it but the drawing."""
MAX_CATEGORIES = 20
"""A categorical chart shows the categories with the largest shares, at most this many."""


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _numeric(axes: Any, item: Compared) -> None:
    both = np.concatenate([item.baseline, item.current])
    low, high = np.percentile(both, [0.5, 99.5])
    edges = np.histogram_bin_edges(both, bins=HIST_BINS, range=(low, high) if high > low else None)
    for values, colour, label in (
        (item.baseline, BASELINE, "baseline"),
        (item.current, CURRENT, "current"),
    ):
        weights = np.full(len(values), 1.0 / len(values))
        axes.hist(values, bins=edges, weights=weights, color=colour, alpha=0.5, label=label)
    axes.set_ylabel("share")


def _categorical(axes: Any, item: Compared) -> None:
    assert item.drift is not None
    shares = sorted(
        zip(item.drift.bins, item.drift.baseline_share, item.drift.current_share, strict=True),
        key=lambda row: max(row[1], row[2]),
        reverse=True,
    )[:MAX_CATEGORIES]
    places = np.arange(len(shares))
    axes.bar(places - 0.2, [s[1] for s in shares], 0.4, color=BASELINE, label="baseline")
    axes.bar(places + 0.2, [s[2] for s in shares], 0.4, color=CURRENT, label="current")
    axes.set_xticks(places, [s[0] for s in shares], rotation=30, ha="right", parse_math=False)
    axes.set_ylabel("share")


def histogram(item: Compared) -> str:
    """Baseline against current, overlaid, as shares: a histogram for a number, bars per
    category for a category. The feature must have values on both sides."""
    figure = Figure(figsize=(5.2, 3.0), layout="constrained")
    axes = figure.subplots()
    (_numeric if item.kind == "numeric" else _categorical)(axes, item)
    title = f"{item.name}  (PSI {item.drift.psi:.3f})" if item.drift else item.name
    axes.set_title(
        title, fontsize=10, parse_math=False, color="#b00020" if item.drifted else "#222222"
    )
    axes.legend(fontsize=8)
    return _svg(figure)


def quality_chart(points: list[dict[str, Any]], names: list[str], bounds: dict[str, Any]) -> str:
    """The metrics ``names`` per bucket, and a dashed line at each one's bound."""
    figure = Figure(figsize=(7.0, 3.0), layout="constrained")
    axes = figure.subplots()
    starts = [p["start"][:16].replace("T", " ") for p in points]
    places = np.arange(len(points))
    for name in names:
        line = axes.plot(places, [p[name] for p in points], marker="o", label=name)
        for value in bounds.get(name, {}).values():
            axes.axhline(value, linestyle="--", color=line[0].get_color(), linewidth=1)
    step = max(1, len(points) // 12)
    axes.set_xticks(places[::step], starts[::step], rotation=30, ha="right")
    axes.legend(fontsize=8)
    return _svg(figure)
