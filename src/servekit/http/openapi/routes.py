"""``GET /openapi.json``: the OpenAPI 3.1 description of this server, built once at load
(:mod:`servekit.http.openapi.document`)."""

from __future__ import annotations

import orjson
from flask import Flask, Response

from servekit.http.state import ServerState
from servekit.settings import Settings

__all__ = ["register"]


def register(app: Flask, settings: Settings, state: ServerState) -> None:
    """Add ``GET /openapi.json`` to ``app``."""
    from servekit.http.openapi.document import build_document

    document = orjson.dumps(build_document(settings, state.dataplane))

    def openapi() -> Response:
        return Response(document, mimetype="application/json")

    app.add_url_rule("/openapi.json", "/openapi.json", openapi, methods=["GET"])
