"""The runtime seam: what every kind of model (Python, ONNX, R) implements.

A runtime is made from a TARGET, then ``load()`` is called once per worker process,
before the first request. After that it describes its parameters once
(``signature()``), answers ``predict(args, kwargs)`` many times, and is ``close()``-d at
shutdown. Transports never call a runtime: they call the
:class:`~servekit.core.dataplane.DataPlane`, which does.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from servekit.core.signature import Signature

__all__ = ["Runtime"]


@runtime_checkable
class Runtime(Protocol):
    """One loaded model."""

    kind: str
    """Short name of the runtime: ``"python"``, ``"onnx"``, ``"r"``."""

    def load(self) -> None:
        """Load the model; raise :class:`~servekit.errors.LoadError` with a clear message."""

    def signature(self) -> Signature:
        """The parameters the model accepts, for the binder and the docs."""

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one prediction on bound arguments; exceptions are the model's errors."""

    def details(self) -> dict[str, Any]:
        """What to show about this runtime in ``/readyz`` (JSON-ready)."""

    def close(self) -> None:
        """Release what ``load`` acquired."""
