"""``GET /openapi.json``: the OpenAPI 3.1 description of this server, built once at load
(:mod:`servekit.http.openapi.document`)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response

from servekit.http.state import ServerState
from servekit.settings import Settings

__all__ = ["views"]


def views(settings: Settings, state: ServerState, secured: bool) -> dict[str, Any]:
    """The view of ``GET /openapi.json``; ``secured``: access tokens are configured."""
    from servekit.http.openapi.document import build_document

    document = orjson.dumps(build_document(settings, state.dataplane, secured))

    def openapi() -> Response:
        return Response(document, mimetype="application/json")

    return {"openapi": openapi}
