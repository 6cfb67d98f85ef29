"""Where the answering worker imported servekit from (``--against``'s check)."""

from __future__ import annotations

import servekit


def predict(probe: str) -> dict[str, str]:
    """The file of the servekit package this worker runs."""
    return {"probe": probe, "servekit": str(servekit.__file__)}
