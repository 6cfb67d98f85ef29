"""What a worker process knows about itself: its data plane (once loaded) and draining."""

from __future__ import annotations

from dataclasses import dataclass

from servekit.core.dataplane import DataPlane

__all__ = ["ServerState"]


@dataclass
class ServerState:
    """Mutable per-process state read by the routes.

    ``dataplane`` is None until the model is loaded; ``draining`` turns true when the
    process has been asked to stop. Either makes ``/readyz`` answer 503.
    """

    dataplane: DataPlane | None = None
    draining: bool = False

    @property
    def ready(self) -> bool:
        """True when predictions may be sent here."""
        return self.dataplane is not None and not self.draining
