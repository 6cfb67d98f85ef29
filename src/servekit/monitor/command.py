"""``servekit monitor``: captured predictions against a training baseline.

Reads the records (and ground truth) the capture's file sink wrote, and a baseline (a
CSV or Parquet file, or another window of records), and writes ``OUT/report.html`` (one
self-contained page) and ``OUT/summary.json``. Exits 0 when no threshold was crossed, 1
when one was (for a CronJob or a CI step), 2 for a mistake in the command or its data
(one ``servekit: error:`` line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``monitor`` command to the CLI's subcommands."""
    monitor = commands.add_parser(
        "monitor",
        help="report drift and quality of captured predictions",
        description=(
            "Compare the predictions captured in --records DIR (SERVEKIT_CAPTURE=file:///DIR) "
            "with a training baseline: each feature's drift (PSI, and a Kolmogorov-Smirnov "
            "or chi-square test), the prediction's, and, where ground truth joined by event "
            "id, the quality. Writes OUT/report.html and OUT/summary.json; exits 1 when a "
            "threshold was crossed. Needs pip install 'servekit[monitor]'."
        ),
    )
    monitor.add_argument("--records", required=True, metavar="DIR", help="the capture's folder")
    monitor.add_argument("--since", default="", metavar="ISO", help="from this time (included)")
    monitor.add_argument("--until", default="", metavar="ISO", help="to this time (excluded)")
    baseline = monitor.add_mutually_exclusive_group(required=True)
    baseline.add_argument("--baseline", metavar="FILE", help="training data: CSV or Parquet")
    baseline.add_argument(
        "--baseline-records", metavar="DIR", help="a window of captured records as the baseline"
    )
    monitor.add_argument("--baseline-since", default="", metavar="ISO")
    monitor.add_argument("--baseline-until", default="", metavar="ISO")
    monitor.add_argument(
        "--ground-truth",
        metavar="FILE",
        help="labels to add to DIR/ground-truth.jsonl: CSV (event_id,label) or JSON Lines",
    )
    monitor.add_argument("--thresholds", metavar="FILE", help="YAML or JSON thresholds")
    monitor.add_argument("--out", default="monitor-report", metavar="DIR", help="where to write")
    monitor.add_argument(
        "--prediction-column",
        default="",
        metavar="NAME",
        help="the baseline's column of predictions (and the result's key, for object results)",
    )
    monitor.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="how to score against ground truth (auto: classes unless numbers with fractions)",
    )
    monitor.set_defaults(handler=run)


def _time(text: str, flag: str) -> Any:
    from servekit.monitor.sources import parse_time

    return parse_time(text, flag) if text else None


def run(ns: argparse.Namespace) -> int:
    """Read, compare, write the report; 1 when a threshold was crossed, else 0."""
    from servekit.monitor import _libs

    _libs.require()
    from servekit.monitor.sample import sample_of
    from servekit.monitor.sources import read_baseline, read_labels, read_records
    from servekit.monitor.thresholds import Thresholds, load_thresholds
    from servekit.monitor.verdict import judge
    from servekit.monitor.writing import write_report

    since, until = _time(ns.since, "--since"), _time(ns.until, "--until")
    thresholds = load_thresholds(Path(ns.thresholds)) if ns.thresholds else Thresholds()
    folder = Path(ns.records)
    read = read_records(folder, since, until)
    if not read.items:
        raise ConfigError(f"--records {folder}: no records in the window")
    sample = sample_of(read.items, ns.prediction_column)
    if not len(sample.frame.columns):
        raise ConfigError(f"--records {folder}: no record in the window has features")
    if ns.baseline:
        baseline = read_baseline(Path(ns.baseline))
        source = ns.baseline
        predictions = None
        if ns.prediction_column:
            if ns.prediction_column not in baseline.columns:
                raise ConfigError(
                    f"--prediction-column {ns.prediction_column}: no such column in {source}"
                )
            predictions = baseline.pop(ns.prediction_column)
    else:
        window = (
            _time(ns.baseline_since, "--baseline-since"),
            _time(ns.baseline_until, "--baseline-until"),
        )
        earlier = read_records(Path(ns.baseline_records), *window)
        base_sample = sample_of(earlier.items, ns.prediction_column)
        if not len(base_sample.frame.columns):
            raise ConfigError(f"--baseline-records {ns.baseline_records}: no records with features")
        baseline, source = base_sample.frame, ns.baseline_records
        predictions = _libs.pandas.Series(base_sample.predictions, name="prediction")
    labels = read_labels(folder, Path(ns.ground_truth) if ns.ground_truth else None)
    verdict = judge(
        sample, baseline, predictions, labels, thresholds, ns.prediction_column, ns.task
    )
    times = [record["time"] for record in read.items]
    context = {
        "window": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "first": min(times).isoformat(),
            "last": max(times).isoformat(),
        },
        "records": {**sample.counts(), "unreadable_lines": read.unreadable},
        "baseline": {"source": str(source), "rows": len(baseline)},
    }
    summary = write_report(
        Path(ns.out), verdict, thresholds, context, sorted(sample.skipped_inputs)
    )
    crossed = summary["crossed"]
    sys.stdout.write(
        f"wrote {Path(ns.out) / 'report.html'} and summary.json: "
        + (
            f"{len(crossed)} threshold(s) crossed ({', '.join(c['name'] for c in crossed)})\n"
            if crossed
            else "no threshold crossed\n"
        )
    )
    return int(summary["exit_code"])
