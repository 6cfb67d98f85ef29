"""Captured records as one table: a row per prediction (a batch record gives several),
its features as columns (the rule in :mod:`.flatten`), and beside it each row's
prediction, event id, place in its record and time. No file I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from servekit.monitor._libs import pandas
from servekit.monitor.flatten import flatten_record

__all__ = ["Sample", "sample_of"]


@dataclass
class Sample:
    """Rows of features (``frame``, a pandas DataFrame) and, per row, the prediction,
    the record's event id, the row's place in its record, the record's row count and its
    time; with what was left out and why."""

    frame: Any
    predictions: list[Any] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    skipped_inputs: set[str] = field(default_factory=set)
    records: int = 0
    failed: int = 0
    unusable: int = 0

    def counts(self) -> dict[str, int]:
        """How many records were read, used, failed (an error) or unusable, and rows."""
        used = self.records - self.failed - self.unusable
        return {
            "read": self.records,
            "used": used,
            "failed": self.failed,
            "unusable": self.unusable,
            "rows": len(self.predictions),
        }


def _failed(record: dict[str, Any]) -> bool:
    status = record.get("status")
    return "error" in record or (status is not None and status != 200)


def sample_of(records: list[dict[str, Any]], prediction_key: str = "") -> Sample:
    """The sample of ``records`` (each with ``time`` already a datetime). Failed
    predictions are counted and left out; so are records whose inputs give no rows."""
    rows: list[dict[str, Any]] = []
    found = Sample(frame=None, records=len(records))
    for record in records:
        if _failed(record):
            found.failed += 1
            continue
        flat = flatten_record(record.get("inputs"), record.get("result"), prediction_key)
        if flat is None or not flat.rows:
            found.unusable += 1
            continue
        rows += flat.rows
        found.predictions += flat.predictions
        found.event_ids += [str(record.get("event_id", ""))] * len(flat.rows)
        found.positions += range(len(flat.rows))
        found.sizes += [len(flat.rows)] * len(flat.rows)
        found.times += [record["time"]] * len(flat.rows)
        found.skipped_inputs |= flat.skipped
    found.frame = pandas.DataFrame.from_records(rows) if rows else pandas.DataFrame()
    return found
