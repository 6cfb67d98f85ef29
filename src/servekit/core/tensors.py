"""Tensor inputs (ONNX and the like): a dtype and a shape with dynamic dimensions. I/O-free.

A runtime whose inputs are tensors describes each parameter with a :class:`TensorSpec`
annotation; the binder converts the JSON value to a numpy array of that dtype (kinds
checked, ragged arrays refused, integer ranges kept) and then checks the shape: the rank,
and every fixed dimension. A dimension that is ``None`` or a name (``"batch"``) takes any
size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from servekit.core.arrays import ndarray_converter
from servekit.core.compiled import Compiled
from servekit.core.paths import Where, report
from servekit.errors import Problem

__all__ = ["TensorSpec", "tensor_converter"]

Dimension = int | str | None


@dataclass(frozen=True)
class TensorSpec:
    """What one tensor input accepts. ``shape`` is None when even the rank is unknown."""

    dtype: np.dtype[Any]
    shape: tuple[Dimension, ...] | None

    def describe(self) -> str:
        """Like ``float32[batch, 20]`` (``?`` for an unnamed dynamic dimension)."""
        name = "str" if self.dtype.kind in "UO" else self.dtype.name
        if self.shape is None:
            return f"{name}[...]"
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{name}[{dims}]"

    def fits(self, shape: tuple[int, ...]) -> bool:
        """True when an array of ``shape`` fits this spec."""
        if self.shape is None:
            return True
        if len(shape) != len(self.shape):
            return False
        return all(not isinstance(d, int) or d == n for d, n in zip(self.shape, shape, strict=True))


def tensor_converter(spec: TensorSpec) -> Compiled:
    """Nested JSON arrays -> a numpy array of ``spec``'s dtype and shape."""
    dtype = np.dtype(np.str_) if spec.dtype.kind == "O" else spec.dtype
    inner = ndarray_converter(dtype)
    expected = f"tensor {spec.describe()}"
    scalar_ok = spec.shape == ()

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        before = len(problems)
        if scalar_ok and not isinstance(value, (list, np.ndarray)):
            value = [value]
            array = inner.convert(value, where, key, problems)
            return array if len(problems) > before else array.reshape(())
        array = inner.convert(value, where, key, problems)
        if len(problems) > before:
            problems[before:] = [Problem(p.path, expected, p.got) for p in problems[before:]]
            return value
        if not spec.fits(array.shape):
            report(problems, where, key, expected, f"an array of shape {list(array.shape)}")
            return value
        return array

    return Compiled(convert, expected)
