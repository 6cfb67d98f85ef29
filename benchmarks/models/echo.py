"""Echo: returns its argument. Measures pure harness overhead."""

from __future__ import annotations

from typing import Any


def predict(payload: Any) -> Any:
    """Return the payload unchanged."""
    return payload
