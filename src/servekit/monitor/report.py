"""The HTML report: one self-contained page (inline CSS and SVG, no script, nothing
fetched), made from the summary and the charts. No file I/O.

Sections: the verdict (thresholds crossed), the drift table (most severe first; a row
that crossed its limits is marked ``crossed``), the quality (metrics, per class, over
time), then one chart per feature (``figure.chart.feature``) and the prediction's.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render"]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}td:first-child,th:first-child{text-align:left}tr.crossed td{
background:#fde2e4;font-weight:600}.ok{color:#2e7d32}.bad{color:#b00020}
.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;border:1px solid #eee;padding:.5em}
figure svg{max-width:100%;height:auto}.note{color:#666}
"""
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Nothing is fetched, nothing runs: the page stands alone."""


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _drift_row(entry: dict[str, Any], label: str) -> str:
    limits = entry["limits"]
    cells = [
        escape(label),
        escape(entry["kind"]),
        escape(entry["test"] or "no values"),
        _number(entry["statistic"]),
        _number(entry["p_value"]),
        _number(entry["psi"]),
        f"≥ {_number(limits['psi'])} and p &lt; {_number(limits['p_value'])}",
        f"{entry['current_count']} / {entry['baseline_count']}",
        "crossed" if entry["drifted"] else "ok",
    ]
    css = ' class="crossed"' if entry["drifted"] else ""
    return f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _drift_table(summary: dict[str, Any]) -> str:
    head = (
        "<tr><th>feature</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th>"
        "<th>PSI</th><th>drifted when PSI</th><th>values now / baseline</th><th></th></tr>"
    )
    rows = [_drift_row(entry, entry["name"]) for entry in summary["features"]]
    if summary["prediction"]:
        rows.append(_drift_row(summary["prediction"], "(prediction)"))
    return f'<table id="drift">{head}{"".join(rows)}</table>'


def _quality(quality: dict[str, Any] | None, chart: str) -> str:
    if quality is None:
        return '<p class="note">No ground truth.</p>'
    if "metrics" not in quality:
        return f'<p class="note">{quality["labels"]} labels, none for these predictions.</p>'
    bounds = quality["bounds"]
    rows = []
    for name, value in quality["metrics"].items():
        bound = bounds.get(name, {})
        crossed = any(value < b if side == "min" else value > b for side, b in bound.items())
        limit = " ".join(f"{side} {_number(b)}" for side, b in bound.items())
        css = ' class="crossed"' if crossed else ""
        rows.append(
            f"<tr{css}><td>{escape(name)}</td><td>{_number(value)}</td><td>{limit}</td></tr>"
        )
    parts = [
        f"<p>{quality['joined']} predictions with ground truth ({escape(quality['task'])}).</p>",
        '<table id="quality"><tr><th>metric</th><th>value</th><th>bound</th></tr>'
        f"{''.join(rows)}</table>",
    ]
    if "per_class" in quality:
        each = "".join(
            f"<tr><td>{escape(name)}</td><td>{_number(m['precision'])}</td>"
            f"<td>{_number(m['recall'])}</td><td>{_number(m['f1'])}</td><td>{m['support']}</td></tr>"
            for name, m in quality["per_class"].items()
        )
        parts.append(
            '<table id="per-class"><tr><th>class</th><th>precision</th><th>recall</th>'
            f"<th>F1</th><th>support</th></tr>{each}</table>"
        )
    unit = escape(quality["over_time"]["unit"])
    parts.append(
        f'<figure class="chart quality"><figcaption>per {unit}</figcaption>{chart}</figure>'
    )
    return "".join(parts)


def _verdict(crossed: list[dict[str, Any]]) -> str:
    if not crossed:
        return '<p id="verdict" class="ok">No threshold crossed.</p>'
    items = "".join(
        f"<li>{escape(c['kind'])}: {escape(c['name'])}"
        + (
            f" = {_number(c['value'])}"
            if "value" in c
            else f" (PSI {_number(c['psi'])}, p {_number(c['p_value'])})"
        )
        + "</li>"
        for c in crossed
    )
    count = f"<p>{len(crossed)} threshold(s) crossed:</p>"
    return f'<div id="verdict" class="bad">{count}<ul>{items}</ul></div>'


def _figure(name: str, svg: str, css: str) -> str:
    return f'<figure class="chart {css}" data-name="{escape(name)}">{svg}</figure>'


def _window(summary: dict[str, Any]) -> str:
    window, records, baseline = summary["window"], summary["records"], summary["baseline"]
    since = window.get("since") or window.get("first")
    until = window.get("until") or window.get("last")
    return (
        f"<p>Window {escape(str(since))} to {escape(str(until))}: {records['used']} "
        f"predictions ({records['rows']} rows; {records['failed']} failed, "
        f"{records['unusable']} unusable) against {escape(str(baseline['source']))} "
        f"({baseline['rows']} rows).</p>"
    )


def _notes(summary: dict[str, Any]) -> str:
    notes = [
        f'<p class="note">{label}: {escape(", ".join(summary[key]))}</p>'
        for key, label in (
            ("not_in_baseline", "Captured but not in the baseline"),
            ("not_captured", "In the baseline but not captured"),
            ("skipped_inputs", "Inputs that are no feature (lists)"),
        )
        if summary[key]
    ]
    return "".join(notes)


def render(summary: dict[str, Any], charts: dict[str, str], quality_chart: str = "") -> str:
    """The page. ``charts``: feature name (and ``"(prediction)"``) -> SVG text."""
    features = "".join(
        _figure(entry["name"], charts[entry["name"]], "feature")
        for entry in summary["features"]
        if entry["name"] in charts
    )
    prediction = ""
    if "(prediction)" in charts:
        figure = _figure("prediction", charts["(prediction)"], "prediction")
        prediction = f'<h2>Prediction</h2><div class="charts">{figure}</div>'
    return "\n".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            "<title>servekit monitor</title>",
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            f"<style>{STYLE}</style></head><body><h1>servekit monitor</h1>",
            _window(summary),
            _verdict(summary["crossed"]),
            f"<h2>Drift</h2>{_drift_table(summary)}{_notes(summary)}",
            f"<h2>Quality</h2>{_quality(summary['quality'], quality_chart)}",
            f'<h2>Features</h2><div class="charts">{features}</div>',
            prediction,
            "</body></html>\n",
        ]
    )
