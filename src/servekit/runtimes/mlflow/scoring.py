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

    def captured_inputs(self) -> dict[str, Any]:
        """The inputs as prediction capture records them: a DataFrame's columns by name
        (one list each, as the Domino envelope's columns form binds them), a dict of
        arrays as it is, anything else under ``inputs``; the params beside them."""
        data = self.data
        to_dict = getattr(data, "to_dict", None)
        if callable(to_dict) and hasattr(data, "columns"):
            inputs: dict[str, Any] = {str(k): v for k, v in to_dict(orient="list").items()}
        elif isinstance(data, dict):
            inputs = {str(k): v for k, v in data.items()}
        else:
            inputs = {"inputs": data}
        inputs.update(self.params or {})
        return inputs
