"""What MLflow's scoring protocol (``POST /invocations``) hands the MLflow runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ScoringInput"]


@dataclass(frozen=True)
class ScoringInput:
    """A request decoded as MLflow's scoring server decodes it: ``data`` is what a pyfunc
    model's ``predict`` takes (a pandas DataFrame, a dict of numpy arrays, a numpy array
    or a list), ``params`` its ``params`` (None when the request has none).

    The ``/invocations`` codec passes it as the only positional argument of a bound
    call; the runtime hands it to ``model.predict(data, params=params)`` as it is.
    """

    data: Any
    params: dict[str, Any] | None = None
