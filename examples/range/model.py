"""A plain typed function: servekit validates and converts the arguments from JSON.

    servekit serve examples/range/model.py:predict
    curl -s localhost:8080/model -H 'Content-Type: application/json' \
         -d '{"data": {"start": 1, "stop": 10, "step": 3}}'
"""

from __future__ import annotations


def predict(start: int, stop: int, step: int = 1) -> dict[str, object]:
    """The integers from start (inclusive) to stop (exclusive), and their sum."""
    if step == 0:
        raise ValueError("step must not be zero")
    values = list(range(start, stop, step))
    return {"values": values, "total": sum(values)}
