"""A runtime over a Python callable already in memory: no TARGET, no loading.

For embedding servekit's data plane in other code, and the smallest implementation of
the :class:`~servekit.core.runtime.Runtime` seam (tests and benchmarks use it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servekit.core.signature import Signature

__all__ = ["FunctionRuntime"]


class FunctionRuntime:
    """Serves ``fn`` as it is."""

    kind = "python"

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def load(self) -> None:
        """Nothing to load."""

    def signature(self) -> Signature:
        """``fn``'s signature."""
        return Signature.from_callable(self.fn)

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call ``fn``."""
        return self.fn(*args, **kwargs)

    def details(self) -> dict[str, Any]:
        """The runtime kind and the callable's name."""
        return {"runtime": self.kind, "callable": getattr(self.fn, "__qualname__", "?")}

    def close(self) -> None:
        """Nothing to release."""
