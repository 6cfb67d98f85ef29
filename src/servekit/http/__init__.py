"""The HTTP transport: a Flask app over the one data plane. Thin by design."""

from servekit.http.app import create_app
from servekit.http.state import ServerState

__all__ = ["ServerState", "create_app"]
