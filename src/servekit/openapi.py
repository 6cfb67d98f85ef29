"""The OpenAPI 3.1 document of a server (being built)."""

from __future__ import annotations

from typing import Any

from servekit.core.dataplane import DataPlane
from servekit.settings import Settings

__all__ = ["build_document"]


def build_document(settings: Settings, plane: DataPlane | None) -> dict[str, Any]:
    """The whole document, built once."""
    return {"openapi": "3.1.0", "info": {"title": "servekit", "version": "0"}, "paths": {}}
