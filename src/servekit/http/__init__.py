"""The HTTP transport: a Flask app over the one data plane. Thin by design.

The package imports nothing heavy itself: ``servekit.http.auth`` (used by the CLI) must
not pull in Flask. :func:`create_app` and :class:`ServerState` load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servekit.http.app import create_app
    from servekit.http.state import ServerState

__all__ = ["ServerState", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from servekit.http.app import create_app

        return create_app
    if name == "ServerState":
        from servekit.http.state import ServerState

        return ServerState
    raise AttributeError(f"module 'servekit.http' has no attribute {name!r}")
