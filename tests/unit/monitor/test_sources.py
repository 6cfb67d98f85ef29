"""Reading records (plain and gzipped, in time order, within a window), ground truth
and baselines; the monitor extra checked before anything is read."""

from __future__ import annotations

import gzip
import importlib.util
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from servekit.errors import ConfigError
from servekit.monitor import _libs
from servekit.monitor.sources import parse_time, read_baseline, read_labels, read_records


def line(time: str, event: str) -> str:
    return f'{{"time": "{time}", "event_id": "{event}", "inputs": {{"x": 1}}}}\n'


def test_records_come_from_every_file_in_time_order_within_the_window(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "predictions-20261204T1000Z-ab.jsonl.gz", "wt") as old:
        old.write(line("2026-12-04T10:00:00.000Z", "b") + line("2026-12-04T09:00:00Z", "a"))
    (tmp_path / "predictions-20261204T1100Z-cd.jsonl").write_text(line("2026-12-04T11:00:00Z", "c"))
    (tmp_path / "predictions.jsonl").write_text(
        line("2026-12-04T12:00:00Z", "d")
        + "not json\n"
        + '{"time": "later"}\n'
        + '{"time": "2026-12'
    )
    (tmp_path / "other.jsonl").write_text(line("2026-12-04T10:30:00Z", "x"))
    everything = read_records(tmp_path, None, None)
    assert [r["event_id"] for r in everything.items] == ["a", "b", "c", "d"]
    assert everything.unreadable == 3
    assert everything.items[0]["time"] == datetime(2026, 12, 4, 9, tzinfo=timezone.utc)
    since, until = parse_time("2026-12-04T10:00:00Z", "s"), parse_time("2026-12-04T12:00", "u")
    assert [r["event_id"] for r in read_records(tmp_path, since, until).items] == ["b", "c"]


def test_each_pods_folder_below_is_read_too(tmp_path: Path) -> None:
    for pod, event, hour in (("pod-b", "late", "12"), ("pod-a", "early", "09")):
        folder = tmp_path / pod
        folder.mkdir()
        (folder / "predictions.jsonl").write_text(line(f"2026-12-04T{hour}:00:00Z", event))
        (folder / "ground-truth.jsonl").write_text(
            f'{{"time": "2026-12-04T{hour}:30:00.000Z", "event_id": "same", "label": "{pod}"}}\n'
        )
    (tmp_path / "pod-a" / "deeper").mkdir()
    (tmp_path / "pod-a" / "deeper" / "predictions.jsonl").write_text(line("2026-12-04T10:00Z", "x"))
    assert [r["event_id"] for r in read_records(tmp_path, None, None).items] == ["early", "late"]
    assert read_labels(tmp_path, None) == {"same": "pod-b"}  # the later label, whatever folder


def test_later_ground_truth_wins_and_a_csv_file_joins_in(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "ground-truth-1.jsonl.gz", "wt") as old:
        old.write('{"time": "t", "event_id": "a", "label": 0}\n')
    (tmp_path / "ground-truth.jsonl").write_text(
        '{"time": "t", "event_id": "a", "label": 1}\n'
        '{"time": "t", "event_id": "b", "label": [1, 0]}\n'
    )
    (tmp_path / "more.csv").write_text("event_id,label,note\nb,cat,x\nc,dog,y\n")
    assert read_labels(tmp_path, None) == {"a": 1, "b": [1, 0]}
    assert read_labels(tmp_path, tmp_path / "more.csv") == {"a": 1, "b": "cat", "c": "dog"}
    (tmp_path / "bad.csv").write_text("id,label\n1,2\n")
    with pytest.raises(ConfigError, match="needs event_id and label columns"):
        read_labels(tmp_path, tmp_path / "bad.csv")


def test_a_baseline_is_csv_or_parquet(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("x,plan\n1.5,a\n2.5,b\n")
    frame = read_baseline(tmp_path / "b.csv")
    frame.to_parquet(tmp_path / "b.parquet")
    assert read_baseline(tmp_path / "b.parquet").equals(frame)
    (tmp_path / "bad.parquet").write_text("x,plan\n")
    with pytest.raises(ConfigError, match=r"--baseline .*bad\.parquet: "):
        read_baseline(tmp_path / "bad.parquet")


def test_a_missing_extra_is_one_line_saying_what_to_install(monkeypatch: Any) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name in ("scipy", "yaml") else real(name)
    )
    with pytest.raises(ConfigError) as caught:
        _libs.require()
    assert caught.value.message == (
        "servekit monitor needs scipy, PyYAML: pip install 'servekit[monitor]'"
    )
