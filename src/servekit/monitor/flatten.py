"""A captured record as rows of named features, and its prediction per row. I/O-free.

The rule, applied to a record's ``inputs`` (the model's arguments by name; for
``capture.record`` the features it was given):

* a scalar input (number, string, boolean, null) is one feature, named as the argument;
* an object input (a dataclass, a dict) gives one feature per scalar inside it, named by
  its dotted path: ``{"customer": {"tenure": 3, "address": {"city": "Oslo"}}}`` gives
  ``customer.tenure`` and ``customer.address.city``;
* a list of objects is a batch: each element is one row, its keys named without the
  list's name (``{"customers": [{"tenure": 3}, {"tenure": 9}]}`` gives two rows with
  ``tenure``); the other inputs' features repeat on every row; several such lists are
  zipped, and must be as long as each other (else the record is skipped);
* any other list (numbers, nested lists: a vector, a tensor) is no feature: its name is
  reported as skipped.

The ``result`` lines up with the rows when it is a list as long as the rows (a one-row
record's result may also be a one-element list); otherwise it is the one row's. A result
(or a label) that is an object is read by its scalar leaves: the leaf named by
``--prediction-column`` when it has one, else its only leaf.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Flat", "flatten_record", "leaf"]

SCALARS = (str, int, float, bool, type(None))
NO_VALUE = None
"""What a row holds when its prediction cannot be read (a failed record, an ambiguous
result)."""


@dataclass(frozen=True)
class Flat:
    """One record's rows (feature name -> value), and a prediction per row."""

    rows: list[dict[str, Any]]
    predictions: list[Any]
    skipped: frozenset[str] = field(default_factory=frozenset)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, scalar) for each scalar in ``value``; lists yield nothing."""
    if isinstance(value, SCALARS):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))


def _lists(value: Any, path: str) -> Iterator[str]:
    """The dotted paths of the lists inside ``value`` (what is no feature)."""
    if isinstance(value, list):
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _lists(inner, f"{path}.{key}" if path else str(key))


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def flatten_record(inputs: Any, result: Any, prediction_key: str = "") -> Flat | None:
    """The rows of one record (None when its row lists differ in length, or its inputs
    are no object or were not JSON)."""
    if not isinstance(inputs, dict) or set(inputs) == {"unencodable"}:
        return None  # {"unencodable": repr}: what the capture kept of inputs JSON cannot hold
    batches = {name: value for name, value in inputs.items() if _is_rows(value)}
    shared: dict[str, Any] = {}
    skipped: set[str] = set()
    for name, value in inputs.items():
        if name not in batches:
            shared.update(_leaves(value, str(name)))
            skipped.update(_lists(value, str(name)))
    lengths = {len(rows) for rows in batches.values()}
    if len(lengths) > 1:
        return None
    count = lengths.pop() if lengths else 1
    rows = [dict(shared) for _ in range(count)]
    for batch in batches.values():
        for row, element in zip(rows, batch, strict=True):
            row.update(_leaves(element, ""))
            skipped.update(_lists(element, ""))
    if isinstance(result, list) and len(result) == count and (batches or count == 1):
        predictions = [leaf(item, prediction_key) for item in result]
    else:
        predictions = [leaf(result, prediction_key)] if count == 1 else [NO_VALUE] * count
    return Flat(rows, predictions, frozenset(skipped))


def leaf(value: Any, key: str = "") -> Any:
    """The scalar a prediction (or label) stands for: itself, or an object's leaf named
    ``key`` (matched on its full dotted path or its last part), or its only leaf; None
    when there is none, or several and none is named ``key``."""
    if isinstance(value, SCALARS):
        return value
    found = dict(_leaves(value, "")) if isinstance(value, dict) else {}
    if key:
        named = [v for path, v in found.items() if path == key or path.endswith("." + key)]
        if len(named) == 1:
            return named[0]
    return next(iter(found.values())) if len(found) == 1 else NO_VALUE
