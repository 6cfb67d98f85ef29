"""KServe V1 instances as one batch for a tensor model (ONNX). I/O-free.

A model whose every parameter is a :class:`~servekit.core.tensors.TensorSpec` with a
first (batch) dimension takes all the instances in one call:

- with one input, an instance is a row of it (``{"instances": [[1, 2, 3], [4, 5, 6]]}``
  is a ``[2, 3]`` tensor), or an object naming it (``{"x": [1, 2, 3]}``);
- with several, an instance is an object with a row of each (``{"a": [...], "b": [...]}``).

The rows of each input are stacked into one tensor and bound by the data plane like any
request's. When the binder refuses a batch, each row is checked on its own to name the
instance (``instances[3]``, ``instances[3].a``). The predictions are the rows of the
model's output; with several outputs, one object per instance with a row of each (as
TensorFlow Serving answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from servekit.core.binding import Call
from servekit.core.compiled import Compiled
from servekit.core.paths import describe, report
from servekit.core.signature import ParamKind, Signature
from servekit.core.tensors import TensorSpec, tensor_converter
from servekit.errors import ModelError, Problem

__all__ = ["TensorBatch"]

_NAMED = (ParamKind.POSITIONAL_ONLY, ParamKind.POSITIONAL_OR_KEYWORD, ParamKind.KEYWORD_ONLY)


@dataclass(frozen=True)
class TensorBatch:
    """How a tensor model's inputs take a batch of instances. Build with :meth:`of`."""

    rows: dict[str, Compiled]
    """Each input's converter of one row (its spec without the batch dimension)."""

    @classmethod
    def of(cls, signature: Signature) -> TensorBatch | None:
        """The batch of a tensor model's signature, or None when a parameter is not a
        tensor with a batch dimension (the model is then called once per instance)."""
        rows: dict[str, Compiled] = {}
        for param in signature.params:
            spec = param.annotation
            if param.kind not in _NAMED or not isinstance(spec, TensorSpec) or spec.shape == ():
                return None
            row = TensorSpec(spec.dtype, None if spec.shape is None else spec.shape[1:])
            rows[param.name] = tensor_converter(row)
        return cls(rows) if rows else None

    def call(self, key: str, instances: list[Any]) -> tuple[Call, list[Problem]]:
        """The call with each input's rows (the binder stacks them into one tensor), and
        the problems of instances that are not what the inputs take."""
        names = list(self.rows)
        if len(names) == 1 and not any(type(item) is dict for item in instances):
            return Call(key, {names[0]: instances}), []
        problems: list[Problem] = []
        columns: dict[str, list[Any]] = {name: [] for name in names}
        wanted = ", ".join(names)
        for index, instance in enumerate(instances):
            if type(instance) is not dict:
                report(
                    problems,
                    key,
                    index,
                    f"an object with a row of each input ({wanted})",
                    describe(instance),
                )
                continue
            for name, value in instance.items():
                if name in columns:
                    columns[name].append(value)
                else:
                    report(
                        problems,
                        (key, index),
                        name,
                        f"an input of the model ({wanted})",
                        f"an unknown input ({describe(value)})",
                    )
            for name, row in self.rows.items():
                if name not in instance:
                    report(problems, (key, index), name, row.expected, "nothing (required)")
        return Call(key, columns), problems

    def locate(self, key: str, instances: list[Any]) -> list[Problem]:
        """After the binder refused a batch: what is wrong with which instance (none
        found when each row fits alone, as when a fixed batch size is not met)."""
        named = len(self.rows) > 1 or any(type(item) is dict for item in instances)
        problems: list[Problem] = []
        for name, row in self.rows.items():
            first: tuple[int, ...] | None = None
            for index, instance in enumerate(instances):
                if named and (type(instance) is not dict or name not in instance):
                    continue  # reported by call()
                value = instance[name] if named else instance
                where = ((key, index), name) if named else (key, index)
                before = len(problems)
                array = row.convert(value, where, None, problems)
                if len(problems) > before or not isinstance(array, np.ndarray):
                    continue
                if first is None:
                    first = array.shape
                elif array.shape != first:
                    report(
                        problems,
                        where,
                        None,
                        f"a row of shape {list(first)}, as the first instance's",
                        f"an array of shape {list(array.shape)}",
                    )
        return problems

    @staticmethod
    def predictions(result: Any, count: int) -> Any:
        """The rows of the model's output; one object a row with several outputs."""
        if not isinstance(result, dict):
            return result
        if len(result) == 1:
            return next(iter(result.values()))
        for name, value in result.items():
            rows = _length(value)
            if rows != count:
                got = "no rows" if rows is None else f"{rows} rows"
                raise ModelError(
                    f"output {name!r} has {got} for {count} instances: the predictions of "
                    "several outputs are one object per instance, with a row of each"
                )
        return [{name: value[index] for name, value in result.items()} for index in range(count)]


def _length(value: Any) -> int | None:
    if isinstance(value, np.ndarray):
        return int(value.shape[0]) if value.ndim else None
    return len(value) if isinstance(value, (list, tuple)) else None
