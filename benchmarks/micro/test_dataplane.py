"""The in-process path, decode -> bind -> call -> encode, for 100 B, 10 KB and 1 MB bodies.

Run with ``python -m benchmarks --micro``; the test suite runs these once each, untimed
(``--benchmark-disable``), so they cannot rot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.protocols.domino import DominoCodec
from servekit.runtimes.function import FunctionRuntime


def untyped(values, label):  # type: ignore[no-untyped-def]
    return values


def typed(values: list[float], label: str) -> list[float]:
    return values


def arrays(values: npt.NDArray[np.float64], label: str) -> npt.NDArray[np.float64]:
    return values * 2


SIZES = {"100B": 8, "10KB": 1_000, "1MB": 100_000}  # float counts giving those body sizes
FUNCTIONS = {"untyped": untyped, "typed": typed, "numpy": arrays}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", list(FUNCTIONS))
def test_predict(benchmark: Any, kind: str, size: str) -> None:
    plane = DataPlane(FunctionRuntime(FUNCTIONS[kind]), Release("0", "bench", "1"))
    values = [round(i * 0.37, 2) for i in range(SIZES[size])]
    body = orjson.dumps({"data": {"values": values, "label": "x"}})
    answer = benchmark(DominoCodec(plane).predict, body, "bench")
    result = orjson.loads(answer.body)["result"]
    assert len(result) == len(values)
