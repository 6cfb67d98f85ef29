"""Data where the drift is known, written as servekit writes it, and ``servekit monitor``
run in-process.

The baseline has five features: ``tenure`` and ``spend`` (numbers), ``plan`` and
``region`` (strings) and ``active`` (booleans), and the model's ``churn`` (0 or 1). The
current window draws the same, except, when ``shifted``, ``tenure`` (its mean moved by
0.6 of its standard deviation) and ``plan``'s mix. Records are written by the capture's
own :class:`~servekit.capture.files.FileSink` (small files, so several are rotated and
gzipped), as batch records (``{"customers": [...]}``, a result per row) and
``capture.record`` records, with a failed prediction and a torn line among them.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from servekit.capture.files import FileSink
from servekit.capture.records import encode_record
from servekit.cli import main

START = datetime(2026, 12, 4, 0, 0, tzinfo=timezone.utc)
PLANS = ["basic", "pro", "team"]


def draw(rng: np.random.Generator, count: int, shifted: bool = False) -> pd.DataFrame:
    """``count`` customers; ``shifted`` moves tenure and plan's mix only."""
    return pd.DataFrame(
        {
            "tenure": rng.normal(24.0 + (3.0 if shifted else 0.0), 5.0, count),
            "spend": rng.gamma(2.0, 30.0, count),
            "plan": rng.choice(PLANS, count, p=[0.3, 0.3, 0.4] if shifted else [0.5, 0.3, 0.2]),
            "region": rng.choice(["north", "south", "east"], count),
            "active": rng.random(count) < 0.7,
            "churn": rng.integers(0, 2, count),
        }
    )


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def write_records(
    folder: Path,
    frame: pd.DataFrame,
    start: datetime = START,
    span: timedelta = timedelta(hours=6),
    torn: bool = True,
) -> list[str]:
    """Write ``frame`` as records spread over ``span`` from ``start``: batches of 3 rows
    and single ``capture.record`` rows, then a failed prediction and (``torn``) half a
    line; returns each row's event id (a batch's rows share one)."""
    sink = FileSink(folder, rotate_bytes=64 * 1024, rotate_seconds=3600)
    rows = frame.to_dict("records")
    lines: list[bytes] = []
    events: list[str] = []
    index = 0
    while index < len(rows):
        size = 3 if (index // 3) % 2 == 0 else 1
        chunk = rows[index : index + size]
        when = start + span * (index / len(rows))
        event = f"ev-{index}"
        features = [{k: _plain(v) for k, v in row.items() if k != "churn"} for row in chunk]
        record: dict[str, Any] = {"time": stamp(when), "event_id": event, "model": "churn"}
        record["version"] = "1"
        if size == 3:
            record.update(protocol="domino", inputs={"customers": features, "threshold": 0.5})
            record.update(result=[{"churn": _plain(row["churn"])} for row in chunk], status=200)
        else:
            record.update(protocol="user", inputs=features[0], result=_plain(chunk[0]["churn"]))
            record.update(status=None)
        record["model_ms"] = 0.5
        lines.append(encode_record(record))
        events += [event] * len(chunk)
        index += size
    failed = {"time": stamp(start), "event_id": "failed", "model": "churn", "version": "1"}
    failed.update(protocol="domino", inputs={"customers": features}, result=None, status=500)
    lines.append(encode_record({**failed, "error": "ValueError: boom", "model_ms": 0.1}))
    for begin in range(0, len(lines), 50):
        sink.write(lines[begin : begin + 50])
    sink.close()
    if not torn:
        return events
    with open(folder / "predictions.jsonl", "ab") as active:
        active.write(b'{"time": "2026-12-04T01:00:00.000Z", "event_id": "torn", "inp')
    return events


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def monitor(*args: str) -> tuple[int, str, str]:
    """``servekit monitor ARGS`` through the real entry point, in this process: (exit
    code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["monitor", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def labels_for(frame: pd.DataFrame, rng: np.random.Generator, wrong: float) -> np.ndarray:
    """The true class of each row: the model's ``churn``, flipped for a ``wrong`` share."""
    flip = rng.random(len(frame)) < wrong
    return np.where(flip, 1 - frame["churn"].to_numpy(), frame["churn"].to_numpy())


def write_labels(folder: Path, events: list[str], labels: np.ndarray, every: int = 1) -> None:
    """``DIR/ground-truth.jsonl`` as the ground-truth endpoint writes it: a list of labels
    for a batch event, one label for a single one; every ``every``-th event only."""
    by_event: dict[str, list[Any]] = {}
    for event, label in zip(events, labels.tolist(), strict=True):
        by_event.setdefault(event, []).append(label)
    lines = []
    for number, (event, found) in enumerate(by_event.items()):
        if number % every == 0:
            label: Any = found if len(found) > 1 else found[0]
            lines.append(encode_record({"time": stamp(START), "event_id": event, "label": label}))
    (folder / "ground-truth.jsonl").write_bytes(b"".join(lines))


def summary(out: Path) -> dict[str, Any]:
    """The ``summary.json`` written into ``out``."""
    return dict(json.loads((out / "summary.json").read_text()))
