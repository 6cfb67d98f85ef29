"""The built-in tester page at ``GET /`` (being built: a placeholder until then)."""

from __future__ import annotations

from flask import Flask, Response

from servekit.http.state import ServerState
from servekit.settings import Settings

__all__ = ["register"]


def register(app: Flask, settings: Settings, state: ServerState) -> None:
    """Add ``GET /`` to ``app``."""

    def page() -> Response:
        return Response("servekit", mimetype="text/plain")

    app.add_url_rule("/", "/", page, methods=["GET"])
