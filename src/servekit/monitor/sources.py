"""Reading what ``servekit monitor`` compares: captured records, ground truth and a
training baseline. The thin I/O layer; every mistake is a ConfigError (exit 2).

Records and ground truth are JSON Lines written by the capture's file sink:
``DIR/predictions.jsonl`` and its rotated ``DIR/predictions-*.jsonl.gz`` (a rotated file
not yet compressed too), ``DIR/ground-truth.jsonl`` and ``DIR/ground-truth-*.jsonl.gz``.
A line that is not a JSON object (a file cut short by a crash) is counted and skipped.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError
from servekit.monitor._libs import pandas

__all__ = ["Lines", "parse_time", "read_baseline", "read_labels", "read_lines", "read_records"]


@dataclass
class Lines:
    """The JSON objects read from a family of files, and how many lines were not."""

    items: list[dict[str, Any]]
    unreadable: int = 0


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; UTC when it has none), aware."""
    try:
        found = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what}: expected an ISO 8601 time, got {text!r}") from None
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def _files(folder: Path, stem: str) -> list[Path]:
    """The files of ``stem`` in ``folder`` and in each folder directly below it (one
    capture folder per pod on a shared claim), rotated ones first in each."""
    found: list[Path] = []
    below = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for place in (folder, *below):
        rotated = [*place.glob(f"{stem}-*.jsonl.gz"), *place.glob(f"{stem}-*.jsonl")]
        found += sorted(rotated)
        if (place / f"{stem}.jsonl").is_file():
            found.append(place / f"{stem}.jsonl")
    return found


def _lines(path: Path) -> Iterator[bytes]:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as compressed:
                yield from compressed
        else:
            with open(path, "rb") as plain:
                yield from plain
    except (OSError, EOFError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def read_lines(paths: list[Path]) -> Lines:
    """Every JSON object in ``paths`` (plain or gzipped JSON Lines)."""
    found = Lines([])
    for path in paths:
        for line in _lines(path):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                item = None
            if isinstance(item, dict):
                found.items.append(item)
            else:
                found.unreadable += 1
    return found


def read_records(folder: Path, since: datetime | None, until: datetime | None) -> Lines:
    """The records in ``folder`` with ``since <= time < until``, in time order."""
    if not folder.is_dir():
        raise ConfigError(f"--records {folder}: no such folder")
    read = read_lines(_files(folder, "predictions"))
    kept: list[tuple[datetime, dict[str, Any]]] = []
    for record in read.items:
        stamp = record.get("time")
        try:
            when = parse_time(stamp, "time") if isinstance(stamp, str) else None
        except ConfigError:
            when = None
        if when is None:
            read.unreadable += 1
        elif (since is None or when >= since) and (until is None or when < until):
            kept.append((when, {**record, "time": when}))
    kept.sort(key=lambda pair: pair[0])
    return Lines([record for _, record in kept], read.unreadable)


def read_labels(folder: Path, extra: Path | None) -> dict[str, Any]:
    """Event id -> label: ``folder``'s ground truth (and its pod folders', by time), then
    ``extra`` (CSV with event_id and
    label columns, or JSON Lines); a later label for the same event wins."""
    items = read_lines(_files(folder, "ground-truth")).items
    items.sort(key=lambda item: str(item.get("time", "")))  # several pods' folders
    if extra is not None:
        if not extra.is_file():
            raise ConfigError(f"--ground-truth {extra}: no such file")
        if extra.suffix.lower() == ".csv":
            table = _table(extra, "--ground-truth")
            if not {"event_id", "label"} <= set(table.columns):
                raise ConfigError(f"--ground-truth {extra}: needs event_id and label columns")
            items += table[["event_id", "label"]].to_dict("records")
        else:
            items += read_lines([extra]).items
    return {
        str(item["event_id"]): item["label"]
        for item in items
        if "event_id" in item and "label" in item
    }


def read_baseline(path: Path) -> Any:
    """The baseline table (a pandas DataFrame) from a CSV or Parquet file."""
    if not path.is_file():
        raise ConfigError(f"--baseline {path}: no such file")
    return _table(path, "--baseline")


def _table(path: Path, flag: str) -> Any:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pandas.read_parquet(path)
        return pandas.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{flag} {path}: {exc}") from None
